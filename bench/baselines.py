"""The shared yardsticks: bare apps outside this checkout, in `../shared/bench/`.

`bare_token_app.py` mints with livekit-api's AccessToken and nothing else;
`bare_webhook_app.py` verifies and parses with livekit-api's WebhookReceiver and
nothing else. The token and webhook rows' headline ratios are against them, not
against a bare app of ours: a baseline that mints or verifies with our own code
would hide what our code costs. Each is served as its docstring says, in its own
process, from its own folder (`hypercorn --bind ... --workers 1 --backlog 2048
MODULE:app`, with this venv's Hypercorn), with the bench's LiveKit key and secret.
They are kept as they are there: a faster baseline would be a different yardstick.
"""

from __future__ import annotations

import sys

from bench.harness import LIVEKIT_KEY, LIVEKIT_SECRET, ROOT, Server

# `../shared/bench` from the repository's root, wherever the checkout is.
SHARED_BENCH = (ROOT.parent / "shared" / "bench").resolve()
TOKEN_APP = "bare_token_app"
WEBHOOK_APP = "bare_webhook_app"


def _shared_server(module: str, ready_path: str) -> Server:
    if not (SHARED_BENCH / f"{module}.py").is_file():
        raise RuntimeError(f"the shared baseline {module}.py is not in {SHARED_BENCH}")
    command = [
        sys.executable,
        "-m",
        "hypercorn",
        "--bind",
        "127.0.0.1:{port}",
        "--workers",
        "1",
        "--backlog",
        "2048",
        f"{module}:app",
    ]
    env = {"LIVEKIT_API_KEY": LIVEKIT_KEY, "LIVEKIT_API_SECRET": LIVEKIT_SECRET}
    return Server(env, name=module, external=command, cwd=SHARED_BENCH, ready_path=ready_path)


def bare_token_server() -> Server:
    """The shared bare token app; it answers POST /v1/rooms/<name>/token as ours does."""
    return _shared_server(TOKEN_APP, "/v1/rooms/ready/token")


def bare_webhook_server() -> Server:
    """The shared bare verifying app; it answers POST /v1/livekit/webhook as ours does."""
    return _shared_server(WEBHOOK_APP, "/v1/livekit/webhook")
