"""`make chain`: a local node with a demo ERC-20 and ERC-721, to watch a gated room at work.

Starts anvil (the suite's node, from npm) on 127.0.0.1:8545 (CHAIN_PORT to
change it), deploys the suite's TestToken and TestNFT, mints to a dev
account, prints the settings to give `make run` and the requests to try
(ready to paste: on `make run`'s HOST and PORT, each JSON body on one line),
then runs until Ctrl-C. Nothing here is for production: anvil's dev
accounts have well-known keys.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx
from eth_utils import to_checksum_address

from app.dev_env import KEY_FROM_ENV_FILE
from app.settings import load_settings
from app.settings_errors import SettingsError
from tests.support.chain import ANVIL, ROOT, Chain, compile_contracts

DEMO_AMOUNT = 1000 * 10**18  # 1000 tokens of 18 decimals, in base units
DEMO_NFT_ID = 1


def _start_anvil(port: int) -> subprocess.Popen[bytes]:
    if not ANVIL.exists():
        sys.exit(f"{ANVIL.relative_to(ROOT)} is missing: run `make npm-install` first")
    process = subprocess.Popen([str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--quiet"])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"anvil exited at start-up (is port {port} taken? set CHAIN_PORT)")
        try:
            httpx.post(
                f"http://127.0.0.1:{port}",
                json={"jsonrpc": "2.0", "id": 0, "method": "eth_chainId"},
                timeout=1,
            )
            return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    sys.exit("anvil did not start within 30 s")


def api_base() -> str:
    """Where `make run` serves: HOST and PORT from the environment and `.env`, as it reads them."""
    try:
        settings = load_settings()
        host, port = settings.host, settings.port
    except SettingsError:
        # `make run` will say what is wrong; the port is still the likeliest one.
        host, port = "127.0.0.1", int(os.environ.get("PORT", "8000") or 8000)
    if host.strip() in ("", "0.0.0.0", "::", "[::]"):
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address in a URL
    return f"http://{host}:{port}"


def instructions(chain: Chain, token: str, nft: str, holder: str, outsider: str, api: str) -> str:
    """What to do next, each command as it must be pasted into a shell."""
    url = chain.url
    room = json.dumps(
        {
            "name": "holders",
            "access_type": "token",
            "token_address": token,
            "token_amount": str(DEMO_AMOUNT),
        }
    )

    def curl(body: dict[str, str] | str, path: str) -> str:
        text = body if isinstance(body, str) else json.dumps(body)
        return (
            f"""curl -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \\\n"""
            f"""       -d '{text}' {api}{path}"""
        )

    return f"""
Local chain {chain.chain_id} at {url}
  ERC-20 TestToken  {token}   ({DEMO_AMOUNT} base units minted to the dev account)
  ERC-721 TestNFT   {nft}   (token {DEMO_NFT_ID} minted to the dev account)
  dev account       {holder}
  an outsider       {outsider}   (holds nothing)

In another terminal:
  CHAIN_RPC_URLS={chain.chain_id}={url} DEFAULT_CHAIN_ID={chain.chain_id} make run

Then, in this folder (KEY: the first of APP_API_KEYS in .env, where `make run` keeps it):
  {KEY_FROM_ENV_FILE}
  {curl(room, "/v1/rooms")}
  {curl({"identity": holder}, "/v1/rooms/holders/token")}
  {curl({"identity": outsider}, "/v1/rooms/holders/token")}

The first token request is 200, the outsider's 403 access_denied.
Ctrl-C stops the node (its state is not kept)."""


def deploy_demo(chain: Chain) -> tuple[str, str, str, str]:
    """Deploy the demo contracts and mint to the dev account: (token, nft, holder, outsider)."""
    holder, outsider = chain.accounts[1], chain.accounts[2]
    token = chain.deploy("TestToken")
    nft = chain.deploy("TestNFT")
    chain.transact(token, "mint(address,uint256)", holder, DEMO_AMOUNT)
    chain.transact(nft, "mint(address,uint256)", holder, DEMO_NFT_ID)
    return token, nft, holder, outsider


def main() -> None:
    port = int(os.environ.get("CHAIN_PORT", "8545"))
    artifacts = compile_contracts()
    process = _start_anvil(port)
    url = f"http://127.0.0.1:{port}"
    chain = Chain(url=url, chain_id=0, artifacts=artifacts, accounts=[])
    chain.chain_id = int(chain.rpc("eth_chainId"), 16)
    chain.accounts = [to_checksum_address(a) for a in chain.rpc("eth_accounts")]
    token, nft, holder, outsider = deploy_demo(chain)
    print(instructions(chain, token, nft, holder, outsider, api_base()), flush=True)
    signal.signal(signal.SIGTERM, lambda *_: process.terminate())
    try:
        process.wait()
    except KeyboardInterrupt:
        process.terminate()
        process.wait(10)


if __name__ == "__main__":
    main()
