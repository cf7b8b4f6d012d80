# Qari backend image: `docker build -t qari-backend .`
#   serve:    docker run -p 8000:8000 -e DATABASE_URL=... -e APP_API_KEYS=... \
#               -e SIWE_DOMAIN=app.example.com qari-backend
#             (HOST is 0.0.0.0 here, so the app refuses to start without SIWE_DOMAIN:
#             the host the dApp is served from, which wallet sign-in messages name)
#   migrate:  docker run -e DATABASE_URL=... qari-backend aerich upgrade
# docker-compose.yml wires both up against PostgreSQL. Without DATABASE_URL the
# embedded SQLite file lives in the /app/data volume.
# No `# syntax=` line: building must not fetch a Dockerfile frontend image.

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: install the package and its dependencies into a virtualenv ------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:${PATH}"

WORKDIR /src
# pyproject.toml names README.md as the readme, so the build needs it.
COPY pyproject.toml README.md ./
COPY app/ app/
COPY actors/ actors/
COPY models/ models/
# The runtime package only: no `[dev]` extra.
RUN pip install --upgrade pip && pip install .

# --- runtime -----------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

# tini is PID 1: it forwards SIGTERM to Hypercorn (graceful shutdown drains
# the room actors) and reaps zombies.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin app

ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=8000

COPY --from=build /opt/venv /opt/venv

WORKDIR /app
# aerich reads pyproject.toml ([tool.aerich]) and ./migrations from the working
# directory; Hypercorn reads hypercorn.toml from here too.
COPY pyproject.toml hypercorn.toml README.md ./
COPY app/ app/
COPY actors/ actors/
COPY models/ models/
COPY migrations/ migrations/
# The embedded SQLite default (sqlite://data/...) needs a writable ./data, kept
# in a volume so the rooms outlive the container.
RUN mkdir -p /app/data && chown app:app /app/data
VOLUME ["/app/data"]

USER app

EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/v1/health', timeout=4)"]

ENTRYPOINT ["/usr/bin/tini", "--"]
# `python -m app` (not hypercorn itself): it reads hypercorn.toml, binds HOST:PORT
# (0.0.0.0:8000 above), sends Hypercorn's lines through the app's redacting log
# handler once, and turns a wrong setting into one line and exit status 2.
CMD ["python", "-m", "app"]
