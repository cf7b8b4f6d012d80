"""`make chain`: a local node with a demo ERC-20 and ERC-721, to watch a gated room at work.

Starts anvil (the suite's node, from npm) on 127.0.0.1:8545 (CHAIN_PORT to
change it), deploys the suite's TestToken and TestNFT, mints to a dev
account, prints the settings to give `make run` and the requests to try,
then runs until Ctrl-C. Nothing here is for production: anvil's dev
accounts have well-known keys.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
from eth_utils import to_checksum_address

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


def main() -> None:
    port = int(os.environ.get("CHAIN_PORT", "8545"))
    artifacts = compile_contracts()
    process = _start_anvil(port)
    url = f"http://127.0.0.1:{port}"
    chain = Chain(url=url, chain_id=0, artifacts=artifacts, accounts=[])
    chain.chain_id = int(chain.rpc("eth_chainId"), 16)
    chain.accounts = [to_checksum_address(a) for a in chain.rpc("eth_accounts")]
    holder, outsider = chain.accounts[1], chain.accounts[2]
    token = chain.deploy("TestToken")
    nft = chain.deploy("TestNFT")
    chain.transact(token, "mint(address,uint256)", holder, DEMO_AMOUNT)
    chain.transact(nft, "mint(address,uint256)", holder, DEMO_NFT_ID)
    print(
        f"""
Local chain {chain.chain_id} at {url}
  ERC-20 TestToken  {token}   ({DEMO_AMOUNT} base units minted to the dev account)
  ERC-721 TestNFT   {nft}   (token {DEMO_NFT_ID} minted to the dev account)
  dev account       {holder}
  an outsider       {outsider}   (holds nothing)

In another terminal:
  CHAIN_RPC_URLS={chain.chain_id}={url} DEFAULT_CHAIN_ID={chain.chain_id} make run

Then (KEY is the API key `make run` prints):
  curl -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \\
       -d '{{"name": "holders", "access_type": "token", "token_address": "{token}", \\
            "token_amount": "{DEMO_AMOUNT}"}}' http://127.0.0.1:8000/v1/rooms
  curl -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \\
       -d '{{"identity": "{holder}"}}' http://127.0.0.1:8000/v1/rooms/holders/token
  curl -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \\
       -d '{{"identity": "{outsider}"}}' http://127.0.0.1:8000/v1/rooms/holders/token

Ctrl-C stops the node (its state is not kept).""",
        flush=True,
    )
    signal.signal(signal.SIGTERM, lambda *_: process.terminate())
    try:
        process.wait()
    except KeyboardInterrupt:
        process.terminate()
        process.wait(10)


if __name__ == "__main__":
    main()
