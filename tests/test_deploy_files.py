"""Static checks of the deploy files: Dockerfile, docker-compose.yml, hypercorn.toml, .ci/run.

No Docker engine is needed: the files are parsed and cross-checked against the repo.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.settings import DEFAULT_DATABASE_URL, Settings

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE_FILE = ROOT / "docker-compose.yml"
HYPERCORN_TOML = ROOT / "hypercorn.toml"
CI_RUN = ROOT / ".ci" / "run"
ENV_EXAMPLE = ROOT / ".env.example"


# --- Dockerfile ---------------------------------------------------------------


def dockerfile_instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with comments dropped and continuations joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, arguments = line.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    assert not pending, "the Dockerfile ends inside a line continuation"
    return instructions


def final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    starts = [index for index, (keyword, _) in enumerate(instructions) if keyword == "FROM"]
    assert starts, "the Dockerfile has no FROM"
    return instructions[starts[-1] :]


def exec_form(arguments: str) -> list[str]:
    """The words of a JSON (exec) form, or of a shell form split like a shell would."""
    if arguments.startswith("["):
        words = json.loads(arguments)
        assert isinstance(words, list)
        return [str(word) for word in words]
    return shlex.split(arguments)


def copy_sources(arguments: str) -> list[str] | None:
    """The build-context sources of a COPY/ADD; None when it copies from another stage."""
    words = exec_form(arguments)
    flags = [word for word in words if word.startswith("--")]
    if any(flag.startswith("--from=") for flag in flags):
        return None
    paths = [word for word in words if not word.startswith("--")]
    assert len(paths) >= 2, f"COPY needs a source and a destination: {arguments}"
    return paths[:-1]


def last(stage: list[tuple[str, str]], keyword: str) -> str:
    values = [arguments for name, arguments in stage if name == keyword]
    assert values, f"the final stage has no {keyword}"
    return values[-1]


def test_dockerfile_builds_from_slim_python_311() -> None:
    instructions = dockerfile_instructions()
    args = {
        name: default
        for keyword, arguments in instructions
        if keyword == "ARG"
        for name, _, default in [arguments.partition("=")]
    }
    images = []
    for keyword, arguments in instructions:
        if keyword != "FROM":
            continue
        image = arguments.split()[0]
        if image.startswith("${") and image.endswith("}"):
            image = args.get(image[2:-1], image)
        images.append(image)
    external = [image for image in images if ":" in image]
    assert external, images
    assert all(image.startswith("python:3.11") and "slim" in image for image in external)


def test_dockerfile_installs_the_package_without_dev_extra() -> None:
    runs = " ".join(
        arguments for keyword, arguments in dockerfile_instructions() if keyword == "RUN"
    )
    assert "pip install" in runs
    assert "pip install ." in runs or "pip install --no-cache-dir ." in runs
    assert "[dev]" not in runs


def env_of(stage: list[tuple[str, str]]) -> dict[str, str]:
    """ENV instructions of a stage, in their `A=1 B=2` form."""
    values: dict[str, str] = {}
    for keyword, arguments in stage:
        if keyword == "ENV":
            for word in shlex.split(arguments):
                name, _, value = word.partition("=")
                values[name] = value
    return values


def test_dockerfile_final_cmd_is_python_m_app_so_host_and_port_apply() -> None:
    """`python -m app` binds HOST:PORT, logs Hypercorn's lines once and redacted."""
    stage = final_stage(dockerfile_instructions())
    assert exec_form(last(stage, "CMD")) == ["python", "-m", "app"]
    environment = env_of(stage)
    assert environment["HOST"] == "0.0.0.0"
    assert environment["PORT"] == "8000"
    # hypercorn.toml is what `python -m app` reads, from the working directory's parent of app/.
    assert "hypercorn.toml" in " ".join(a for k, a in stage if k == "COPY")


def test_dockerfile_fetches_no_frontend_at_build_time() -> None:
    first_lines = DOCKERFILE.read_text().splitlines()
    assert not any(line.lower().replace(" ", "").startswith("#syntax=") for line in first_lines)


def test_dockerfile_keeps_the_sqlite_default_on_a_volume() -> None:
    stage = final_stage(dockerfile_instructions())
    volumes = [
        volume
        for keyword, arguments in stage
        if keyword == "VOLUME"
        for volume in exec_form(arguments)
    ]
    # The default DATABASE_URL is sqlite://data/..., relative to WORKDIR /app.
    assert DEFAULT_DATABASE_URL.startswith("sqlite://data/")
    assert "/app/data" in volumes
    runs = " ".join(arguments for keyword, arguments in stage if keyword == "RUN")
    assert "/app/data" in runs, "the data folder must exist and belong to the app user"


def test_dockerfile_healthcheck_follows_port() -> None:
    healthcheck = last(final_stage(dockerfile_instructions()), "HEALTHCHECK")
    assert "PORT" in healthcheck


def test_dockerfile_runs_under_tini_as_a_non_root_user() -> None:
    stage = final_stage(dockerfile_instructions())
    entrypoint = exec_form(last(stage, "ENTRYPOINT"))
    assert Path(entrypoint[0]).name == "tini"
    runs = " ".join(arguments for keyword, arguments in stage if keyword == "RUN")
    assert "tini" in runs, "tini must be installed in the final stage"
    user = last(stage, "USER").split(":")[0]
    assert user not in ("root", "0"), user
    assert last(stage, "WORKDIR") == "/app"


def test_dockerfile_exposes_8000_and_checks_health() -> None:
    stage = final_stage(dockerfile_instructions())
    exposed = " ".join(arguments for keyword, arguments in stage if keyword == "EXPOSE").split()
    assert "8000" in exposed or "8000/tcp" in exposed
    healthcheck = last(stage, "HEALTHCHECK")
    assert "/v1/health" in healthcheck
    assert "urllib" in healthcheck


def dockerignore_patterns() -> list[str]:
    if not DOCKERIGNORE.exists():
        return []
    lines = (line.strip() for line in DOCKERIGNORE.read_text().splitlines())
    return [line.rstrip("/") for line in lines if line and not line.startswith("#")]


def is_ignored(source: str, patterns: list[str]) -> bool:
    """A simplified .dockerignore match: the path or one of its parents matches a pattern."""
    parts = Path(source.rstrip("/")).parts
    prefixes = ["/".join(parts[: end + 1]) for end in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        bare = pattern.removeprefix("!").removeprefix("**/")
        if any(fnmatch.fnmatch(prefix, bare) for prefix in prefixes):
            ignored = not negated
    return ignored


def test_dockerfile_copies_only_paths_that_exist_and_are_not_ignored() -> None:
    patterns = dockerignore_patterns()
    sources = []
    for keyword, arguments in dockerfile_instructions():
        if keyword not in ("COPY", "ADD"):
            continue
        for source in copy_sources(arguments) or []:
            sources.append(source)
            path = ROOT / source
            assert path.exists(), f"COPY source {source!r} is not in the repo"
            # Git keeps no empty folders: a fresh clone would not have this one.
            assert path.is_file() or any(p.is_file() for p in path.rglob("*")), (
                f"COPY source {source!r} is an empty folder"
            )
            assert not is_ignored(source, patterns), f"{source!r} is excluded by .dockerignore"
    # aerich reads pyproject.toml and ./migrations from the working directory.
    for needed in ("pyproject.toml", "hypercorn.toml", "migrations/", "app/"):
        assert needed in sources, f"the image must contain {needed}"


def test_dockerignore_keeps_local_state_and_secrets_out() -> None:
    patterns = dockerignore_patterns()
    for path in (".venv", ".git", ".env", "data", ".pytest_cache"):
        assert is_ignored(path, patterns), f"{path} should be in .dockerignore"


# --- docker-compose.yml -------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(document, dict)
    return document


def services_of(compose: dict[str, Any]) -> dict[str, Any]:
    services = compose.get("services")
    assert isinstance(services, dict)
    return services


def command_words(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(word) for word in command]


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment", {})
    if isinstance(environment, list):
        return dict(item.partition("=")[::2] for item in environment)
    return {str(key): str(value) for key, value in environment.items()}


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    dependencies = service.get("depends_on", {})
    assert isinstance(dependencies, dict), "depends_on needs the long form (with conditions)"
    return {name: spec.get("condition", "") for name, spec in dependencies.items()}


def test_compose_has_postgres_migrate_and_app(compose: dict[str, Any]) -> None:
    assert {"postgres", "migrate", "app"} <= set(services_of(compose))


def test_compose_postgres_is_15_with_a_pg_isready_healthcheck(compose: dict[str, Any]) -> None:
    postgres = services_of(compose)["postgres"]
    assert postgres["image"] == "postgres:15"
    test = postgres["healthcheck"]["test"]
    assert "pg_isready" in (test if isinstance(test, str) else " ".join(test))
    assert "POSTGRES_PASSWORD" in environment_of(postgres)
    assert postgres.get("volumes"), "the database needs a volume"


def test_compose_migrate_runs_aerich_upgrade_once(compose: dict[str, Any]) -> None:
    migrate = services_of(compose)["migrate"]
    assert command_words(migrate["command"]) == ["aerich", "upgrade"]
    assert migrate.get("restart") == "no"
    assert depends_on(migrate) == {"postgres": "service_healthy"}
    assert "@postgres:5432/" in environment_of(migrate)["DATABASE_URL"]


def test_compose_app_waits_for_healthy_postgres_and_finished_migrations(
    compose: dict[str, Any],
) -> None:
    app = services_of(compose)["app"]
    conditions = depends_on(app)
    assert conditions["postgres"] == "service_healthy"
    assert conditions["migrate"] == "service_completed_successfully"
    environment = environment_of(app)
    assert "@postgres:5432/" in environment["DATABASE_URL"]
    for name in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET", "APP_API_KEYS"):
        assert name in environment
    assert "8000:8000" in [str(port) for port in app["ports"]]


def env_files_of(service: dict[str, Any]) -> list[tuple[str, bool]]:
    """(path, required) of each env_file entry, in either of Compose's forms."""
    entries = service.get("env_file", [])
    result = []
    for entry in [entries] if isinstance(entries, str | dict) else entries:
        if isinstance(entry, str):
            result.append((entry, True))
        else:
            result.append((str(entry["path"]), bool(entry.get("required", True))))
    return result


def test_compose_app_passes_every_setting_through_an_optional_env_file(
    compose: dict[str, Any],
) -> None:
    """Wallet sign-in, CORS, gated rooms and logs need settings the stack does not set."""
    app = services_of(compose)["app"]
    # Optional: `docker compose up` still works on a fresh clone without .env.
    assert (".env", False) in env_files_of(app)
    environment = environment_of(app)
    # The stack's own: the app listens on every interface, on the mapped port.
    assert environment["HOST"] == "0.0.0.0"
    assert environment["PORT"] == "8000"
    # Settings also taken from the shell. SIWE_DOMAIN has no default here: with
    # HOST=0.0.0.0 the app refuses to start until it names the dApp's host.
    for name in ("SIWE_DOMAIN", "CORS_ORIGINS", "CHAIN_RPC_URLS", "LIVEKIT_PUBLIC_URL"):
        assert environment[name] == f"${{{name}:-}}", (name, environment.get(name))
    # Every variable set here is one the app reads (no typo passes silently).
    known = {name.upper() for name in Settings.model_fields}
    assert set(environment) <= known, set(environment) - known


def test_env_example_names_every_setting_and_only_settings() -> None:
    """.env.example is what compose users copy: every setting is there (commented: its default)."""
    names = set()
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.fullmatch(r"#?\s*([A-Z][A-Z0-9_]*)=.*", line.strip())
        if match:
            names.add(match[1])
    known = {name.upper() for name in Settings.model_fields}
    assert known - names == set(), "missing from .env.example"
    assert names - known == set(), "not settings"


def test_readme_documents_every_setting() -> None:
    text = (ROOT / "README.md").read_text()
    undocumented = [n.upper() for n in Settings.model_fields if f"`{n.upper()}`" not in text]
    assert undocumented == []


def test_compose_references_only_files_that_exist(compose: dict[str, Any]) -> None:
    for name, service in services_of(compose).items():
        build = service.get("build")
        if build is not None:
            context = build if isinstance(build, str) else build.get("context", ".")
            dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile")
            assert (ROOT / context).is_dir(), f"{name}: build context {context} is missing"
            assert (ROOT / context / (dockerfile or "Dockerfile")).is_file()
        for path, required in env_files_of(service):
            if required:
                assert (ROOT / path).is_file(), f"{name}: env_file {path} is missing"


# --- hypercorn.toml and .ci/run -----------------------------------------------


def test_hypercorn_config_has_one_worker_and_a_deep_backlog() -> None:
    config = tomllib.loads(HYPERCORN_TOML.read_text())
    assert config["workers"] == 1
    assert config["backlog"] >= 1024


def test_ci_run_is_executable_strict_bash_that_runs_make_test() -> None:
    assert CI_RUN.is_file()
    assert os.access(CI_RUN, os.X_OK), ".ci/run must be executable"
    text = CI_RUN.read_text()
    assert text.startswith("#!")
    assert "bash" in text.splitlines()[0]
    assert "set -euo pipefail" in text
    assert "make lint" in text
    assert "make test" in text
    subprocess.run(["bash", "-n", str(CI_RUN)], check=True)
