"""Static checks of the deploy files: Dockerfile, docker-compose.yml, deploy/haproxy.cfg,
hypercorn.toml, .ci/run.

No Docker engine is needed: the files are parsed and cross-checked against the repo.
deploy/haproxy.cfg is also checked by `haproxy -c` and run against stand-in nodes
on loopback; without the `haproxy` binary those two skip locally and fail under
CI=true (`.ci/run` installs Debian's haproxy).
"""

from __future__ import annotations

import fnmatch
import http.server
import ipaddress
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import threading
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.blueprints.lobby import MAX_WAIT_SECONDS
from app.settings import DEFAULT_DATABASE_URL, Settings

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE_FILE = ROOT / "docker-compose.yml"
HYPERCORN_TOML = ROOT / "hypercorn.toml"
CI_RUN = ROOT / ".ci" / "run"
ENV_EXAMPLE = ROOT / ".env.example"
HAPROXY_CFG = ROOT / "deploy" / "haproxy.cfg"
NODES = ("node1", "node2", "node3")


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


def compose_default(value: str) -> str:
    """What `${NAME:-default}` (or `${NAME-default}`) interpolates to with NAME unset."""
    return re.sub(r"\$\{[A-Z0-9_]+:?-([^}]*)\}", r"\1", value)


def nodes_of(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services = services_of(compose)
    return {name: services[name] for name in NODES}


def test_compose_has_postgres_migrate_three_nodes_and_haproxy(compose: dict[str, Any]) -> None:
    assert set(services_of(compose)) == {"postgres", "migrate", *NODES, "haproxy"}


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


def test_compose_nodes_wait_for_healthy_postgres_and_finished_migrations(
    compose: dict[str, Any],
) -> None:
    migrate = services_of(compose)["migrate"]
    database_url = environment_of(migrate)["DATABASE_URL"]
    for name, node in nodes_of(compose).items():
        conditions = depends_on(node)
        assert conditions["postgres"] == "service_healthy", name
        assert conditions["migrate"] == "service_completed_successfully", name
        environment = environment_of(node)
        # One database for the cluster: the one migrate brought up to date.
        assert environment["DATABASE_URL"] == database_url, name
        assert "@postgres:5432/" in environment["DATABASE_URL"]
        for setting in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET", "APP_API_KEYS"):
            assert setting in environment, (name, setting)
        # The same image as migrate: the migrations applied are the code's own.
        assert node["image"] == migrate["image"], name
        assert node.get("build") == migrate.get("build"), name
        # Clients come through HAProxy only.
        assert not node.get("ports"), f"{name} publishes a port; HAProxy is the entry point"
        assert node.get("restart") == "unless-stopped", name


def test_compose_nodes_have_distinct_ids_and_reachable_urls(compose: dict[str, Any]) -> None:
    """NODE_URL is how the other nodes forward to this one: its service name and PORT."""
    ids, urls = set(), set()
    for name, node in nodes_of(compose).items():
        environment = environment_of(node)
        ids.add(environment["NODE_ID"])
        urls.add(environment["NODE_URL"])
        assert environment["NODE_ID"] == name
        assert environment["NODE_URL"] == f"http://{name}:{environment['PORT']}"
        assert environment["HOST"] == "0.0.0.0"
    assert len(ids) == len(urls) == len(NODES)


def test_compose_nodes_are_checked_for_readiness(compose: dict[str, Any]) -> None:
    for name, node in nodes_of(compose).items():
        test = node["healthcheck"]["test"]
        text = test if isinstance(test, str) else " ".join(str(word) for word in test)
        port = environment_of(node)["PORT"]
        assert f"127.0.0.1:{port}/v1/health/ready" in text, (name, text)
        # The image has python and no curl.
        assert "urllib" in text, name
        # Time to drain the room actors and release their leases on SIGTERM.
        seconds = int(str(node["stop_grace_period"]).removesuffix("s"))
        assert seconds > tomllib.loads(HYPERCORN_TOML.read_text())["graceful_timeout"], name


def test_compose_haproxy_mounts_the_config_and_publishes_8000(compose: dict[str, Any]) -> None:
    haproxy = services_of(compose)["haproxy"]
    assert str(haproxy["image"]).startswith("haproxy:2.")
    # The official image reads /usr/local/etc/haproxy/haproxy.cfg; read-only.
    assert "./deploy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in haproxy["volumes"]
    assert "8000:8000" in [str(port) for port in haproxy["ports"]]
    # It checks the nodes' readiness itself: started, not healthy, is enough.
    assert depends_on(haproxy) == dict.fromkeys(NODES, "service_started")


def test_compose_nodes_trust_only_the_stacks_own_subnet_as_proxies(
    compose: dict[str, Any],
) -> None:
    """Rate limits count the client HAProxy saw, not HAProxy: X-Forwarded-For from
    the stack's network (HAProxy's address there is not fixed) is believed."""
    subnets = [
        compose_default(str(entry["subnet"]))
        for entry in compose["networks"]["default"]["ipam"]["config"]
    ]
    assert len(subnets) == 1
    subnet = ipaddress.ip_network(subnets[0])
    assert subnet.is_private
    for name, node in nodes_of(compose).items():
        trusted = compose_default(environment_of(node)["TRUSTED_PROXIES"])
        assert ipaddress.ip_network(trusted) == subnet, name


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


def test_compose_nodes_pass_every_setting_through_an_optional_env_file(
    compose: dict[str, Any],
) -> None:
    """Wallet sign-in, CORS, gated rooms and logs need settings the stack does not set."""
    known = {name.upper() for name in Settings.model_fields}
    for node_name, node in nodes_of(compose).items():
        # Optional: `docker compose up` still works on a fresh clone without .env.
        assert (".env", False) in env_files_of(node), node_name
        environment = environment_of(node)
        # The stack's own: every interface, the port HAProxy's servers name.
        assert environment["HOST"] == "0.0.0.0"
        assert environment["PORT"] == "8000"
        # Settings also taken from the shell. SIWE_DOMAIN has no default here: with
        # HOST=0.0.0.0 the app refuses to start until it names the dApp's host.
        for name in ("SIWE_DOMAIN", "CORS_ORIGINS", "CHAIN_RPC_URLS", "LIVEKIT_PUBLIC_URL"):
            assert environment[name] == f"${{{name}:-}}", (node_name, name)
        # Every variable set here is one the app reads (no typo passes silently).
        assert set(environment) <= known, (node_name, set(environment) - known)


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


# --- deploy/haproxy.cfg -------------------------------------------------------


def haproxy_sections(path: Path = HAPROXY_CFG) -> dict[str, list[list[str]]]:
    """Each section ("global", "backend rooms", ...) and its lines' words, without comments."""
    sections: dict[str, list[list[str]]] = {}
    current: str | None = None
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        words = line.split()
        if not raw[0].isspace():
            current = " ".join(words)
            assert current not in sections, f"section {current!r} twice"
            sections[current] = []
        else:
            assert current is not None, f"a line before any section: {raw!r}"
            sections[current].append(words)
    return sections


def lines_of(section: list[list[str]], *keyword: str) -> list[list[str]]:
    """The lines of a section that start with these words."""
    return [words for words in section if words[: len(keyword)] == list(keyword)]


def one(section: list[list[str]], *keyword: str) -> list[str]:
    found = lines_of(section, *keyword)
    assert len(found) == 1, (keyword, found)
    return found[0]


def haproxy_seconds(value: str) -> float:
    """An HAProxy time (`500ms`, `2s`, `1m`; a bare number is milliseconds)."""
    match = re.fullmatch(r"(\d+)(us|ms|s|m|h|d)?", value)
    assert match, value
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1e-3}
    return int(match[1]) * scale[match[2]]


def backend_for_rooms(sections: dict[str, list[list[str]]]) -> tuple[str, str]:
    """(the backend of /v1/rooms/{name}..., the regex that sends requests there)."""
    [frontend] = [name for name in sections if name.startswith("frontend ")]
    lines = sections[frontend]
    [use] = lines_of(lines, "use_backend")
    assert use[2] == "if", use
    [acl] = [words for words in lines_of(lines, "acl") if words[1] == use[3]]
    assert acl[2] == "path_reg", acl
    return use[1], acl[3]


def test_haproxy_hashes_room_paths_on_the_room_name_consistently() -> None:
    sections = haproxy_sections()
    rooms, pattern = backend_for_rooms(sections)
    for path in ("/v1/rooms/standup", "/v1/rooms/standup/token", "/v1/rooms/a/participants/b"):
        assert re.search(pattern, path), path
    # The room list and room creation name no room: any node.
    for path in ("/v1/rooms", "/v1/rooms/", "/v1/livekit/webhook", "/v1/ops/cluster"):
        assert not re.search(pattern, path), path
    backend = sections[f"backend {rooms}"]
    balance = one(backend, "balance")
    # The path up to its third part (/v1/rooms/{name}), without the query string.
    assert balance[1] == "uri", balance
    assert "path-only" in balance
    assert balance[balance.index("depth") + 1] == "3", balance
    assert "whole" not in balance
    assert one(backend, "hash-type")[1] == "consistent"


def test_haproxy_sends_everything_else_round_robin() -> None:
    sections = haproxy_sections()
    [frontend] = [name for name in sections if name.startswith("frontend ")]
    other = one(sections[frontend], "default_backend")[1]
    assert other != backend_for_rooms(sections)[0]
    assert one(sections[f"backend {other}"], "balance")[1:] == ["roundrobin"]


def test_haproxy_servers_are_the_compose_nodes(compose: dict[str, Any]) -> None:
    sections = haproxy_sections()
    nodes = nodes_of(compose)
    expected = [["server", name, f"{name}:{environment_of(nodes[name])['PORT']}"] for name in NODES]
    backends = [name for name in sections if name.startswith("backend ")]
    assert len(backends) == 2, backends
    for backend in backends:
        assert lines_of(sections[backend], "server") == expected, backend
    # HAProxy listens on the port compose publishes.
    [frontend] = [name for name in sections if name.startswith("frontend ")]
    [published] = services_of(compose)["haproxy"]["ports"]
    assert one(sections[frontend], "bind")[1] == ":" + str(published).rsplit(":", 1)[1]


def test_haproxy_checks_readiness_and_retries_a_down_node_elsewhere() -> None:
    sections = haproxy_sections()
    defaults = sections["defaults"]
    assert one(defaults, "mode")[1] == "http"
    assert lines_of(defaults, "option", "httpchk") == [["option", "httpchk"]]
    send = one(defaults, "http-check", "send")
    assert send[send.index("meth") + 1] == "GET"
    assert send[send.index("uri") + 1] == "/v1/health/ready"
    assert one(defaults, "http-check", "expect")[2:] == ["status", "200"]
    server = one(defaults, "default-server")
    assert "check" in server
    # Starts (and `haproxy -c` passes) before the nodes' names resolve.
    assert "none" in server[server.index("init-addr") + 1].split(",")
    assert server[server.index("resolvers") + 1] in {
        name.split()[1] for name in sections if name.startswith("resolvers ")
    }
    # A node that refuses the connection: the request goes to another one, and
    # only connection failures are retried (a begun token POST is not sent twice).
    assert int(one(defaults, "retries")[1]) >= 1
    assert one(defaults, "option", "redispatch")
    assert one(defaults, "retry-on")[1:] == ["conn-failure"]
    # The client address reaches the app's rate limits (TRUSTED_PROXIES).
    assert one(defaults, "option", "forwardfor")


def test_haproxy_waits_longer_than_the_app_does() -> None:
    """The app answers a slow request itself (503 with its reason) before HAProxy gives up."""
    defaults = haproxy_sections()["defaults"]
    timeouts = {words[1]: haproxy_seconds(words[2]) for words in lines_of(defaults, "timeout")}
    assert {"connect", "client", "server", "check"} <= set(timeouts)
    fields = Settings.model_fields
    app_budget = (
        fields["database_timeout_seconds"].default + fields["actor_ask_timeout_seconds"].default
    )
    assert timeouts["server"] > app_budget
    assert timeouts["client"] >= timeouts["server"]
    # A lobby poll is held up to 30 s, plus the forward to the room's owner.
    held = MAX_WAIT_SECONDS + fields["forward_timeout_seconds"].default
    assert timeouts["server"] > held


def haproxy_binary() -> str:
    found = shutil.which("haproxy")
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("haproxy is not installed; under CI it must be (.ci/run installs it)")
        pytest.skip("haproxy is not installed (apt-get install haproxy)")
    return found


def test_haproxy_accepts_the_config() -> None:
    result = subprocess.run(
        [haproxy_binary(), "-c", "-f", str(HAPROXY_CFG)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Configuration file is valid" in output
    # The node names do not resolve here (and a machine without a nameserver
    # leaves the resolvers empty): nothing else may be wrong.
    expected = ("could not resolve address", "has no nameservers configured")
    warnings = [line for line in output.splitlines() if "[WARNING]" in line or "[ALERT]" in line]
    assert all(any(text in line for text in expected) for line in warnings), warnings


class StandInNode(http.server.ThreadingHTTPServer):
    """Answers every request with its own name, and remembers what it was asked."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.seen: list[tuple[str, str, str | None]] = []
        super().__init__(("127.0.0.1", 0), StandInHandler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class StandInHandler(http.server.BaseHTTPRequestHandler):
    server: StandInNode
    protocol_version = "HTTP/1.1"

    def answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append((self.command, self.path, self.headers.get("X-Forwarded-For")))
        body = self.server.name.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = do_DELETE = answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def stand_in_cluster(tmp_path: Path) -> Iterator[tuple[str, dict[str, StandInNode], Path]]:
    """deploy/haproxy.cfg in front of three stand-in nodes on loopback: (its URL, nodes, log)."""
    nodes = {name: StandInNode(name) for name in NODES}
    threads = [threading.Thread(target=node.serve_forever, daemon=True) for node in nodes.values()]
    for thread in threads:
        thread.start()
    port = free_port()
    config = HAPROXY_CFG.read_text()
    for name, node in nodes.items():
        config = config.replace(f" {name}:8000", f" 127.0.0.1:{node.port}")
    # Only where it listens and this machine's file limit differ from the stack's.
    config = config.replace("bind :8000", f"bind 127.0.0.1:{port}")
    config = re.sub(r"(?m)^(\s*maxconn )\d+$", r"\g<1>256", config)
    config_path = tmp_path / "haproxy.cfg"
    config_path.write_text(config)
    log_path = tmp_path / "haproxy.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [haproxy_binary(), "-db", "-f", str(config_path)], stdout=log, stderr=log
        )
    try:
        deadline = time.monotonic() + 15
        # Up once every node has been health-checked and the frontend accepts.
        while not all(("GET", "/v1/health/ready", None) in node.seen for node in nodes.values()):
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}", nodes, log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for node in nodes.values():
            node.shutdown()
            node.server_close()


def served_by(url: str, method: str = "GET") -> str:
    data = b"{}" if method == "POST" else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        return str(response.read().decode())


ROOM_PATHS = ("", "/token", "/participants/alice/mute", "/bans?page=2", "/sessions")


def owners(base: str, rooms: list[str]) -> dict[str, str]:
    """The node each room's requests reach, checking they all reach the same one."""
    found = {}
    for room in rooms:
        nodes = {
            served_by(f"{base}/v1/rooms/{room}{path}", "POST" if path == "/token" else "GET")
            for path in ROOM_PATHS
        }
        assert len(nodes) == 1, (room, nodes)
        found[room] = nodes.pop()
    return found


def test_haproxy_sends_a_rooms_requests_to_one_node_and_survives_a_dead_one(
    tmp_path: Path,
) -> None:
    rooms = [f"room-{index}" for index in range(30)]
    with stand_in_cluster(tmp_path) as (base, nodes, log_path):
        before = owners(base, rooms)
        assert len(set(before.values())) == len(NODES), before
        # Not under /v1/rooms/{name}: any node, in turn.
        assert {served_by(f"{base}/v1/rooms") for _ in NODES} == set(NODES)
        # The client's address, for the app's rate limits (HAProxy's own health
        # checks, which may come between, carry none).
        asked = [
            [seen for seen in node.seen if seen[1] != "/v1/health/ready"] for node in nodes.values()
        ]
        assert all(seen[2] == "127.0.0.1" for requests in asked for seen in requests[-3:])

        # A node dies: its rooms' requests go elsewhere at once (a refused
        # connection is retried on another node), everyone else's stay put.
        dead = before[rooms[0]]
        nodes[dead].shutdown()
        nodes[dead].server_close()
        during = owners(base, rooms)
        # Once HAProxy's checks mark it down, consistent hashing moves only its rooms.
        deadline = time.monotonic() + 15
        while f"rooms/{dead} is DOWN" not in log_path.read_text():
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        after = owners(base, rooms)
        for room, node in before.items():
            assert during[room] != dead, room
            assert after[room] != dead, room
            if node != dead:
                assert during[room] == after[room] == node, room


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


def test_ci_run_installs_the_tools_the_tests_need_under_ci() -> None:
    """Under CI=true the /docs, `make chain` and haproxy tests fail rather than skip."""
    text = CI_RUN.read_text()
    installed = {
        word
        for line in text.splitlines()
        if line.strip().startswith("apt_install ")
        for word in line.split()[1:]
    }
    assert {"chromium", "curl", "haproxy"} <= installed, installed
