"""A real local EVM node for the suite: anvil (npm), contracts compiled with solcjs.

`anvil_node` (session): starts anvil on a free loopback port, compiles every
`tests/contracts/*.sol` (cached by source hash), deploys `SESSION_CONTRACTS`
once. `chain` (per test): the same node, isolated by `evm_snapshot` before and
`evm_revert` after the test.

Adding a contract: drop its `.sol` file in tests/contracts, and (to have it
deployed once per session) add one line to `SESSION_CONTRACTS`.

Locally a missing node/npm/anvil skips these tests; with `CI=true` it fails.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from tests.support.server import free_port

ROOT = Path(__file__).resolve().parent.parent.parent
CONTRACTS_DIR = ROOT / "tests" / "contracts"
# Contracts the service itself runs (e.g. in deployless calls), compiled here
# too so tests can check the bytecode the app embeds against its source.
APP_CONTRACTS_DIR = ROOT / "app" / "wallet" / "contracts"
BUILD_DIR = CONTRACTS_DIR / ".build"
NODE_MODULES = ROOT / "node_modules"
ANVIL = NODE_MODULES / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
COMPILER = ROOT / "tests" / "support" / "solc_compile.cjs"

# Deployed once per session: key -> (contract name, constructor arguments).
SESSION_CONTRACTS: dict[str, tuple[str, tuple[Any, ...]]] = {
    "wallet_factory": ("OwnedWalletFactory", ()),
}

# anvil's well-known dev accounts (from its default mnemonic): unlocked on the
# node, and their keys let tests sign as them.
DEV_KEYS = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
)
ANVIL_CHAIN_ID = 31337


def _missing(reason: str) -> None:
    message = f"the local EVM node is unavailable: {reason}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " (under CI it must be; `make test` runs npm ci)")
    pytest.skip(message + " (run `make test`, which installs the npm packages)")


@dataclass(frozen=True)
class Artifact:
    """A compiled contract: its ABI and creation bytecode."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: bytes

    def constructor_types(self) -> list[str]:
        for item in self.abi:
            if item.get("type") == "constructor":
                return [str(i["type"]) for i in item.get("inputs", [])]
        return []


def compile_contracts() -> dict[str, Artifact]:
    """Every contract in tests/contracts and app/wallet/contracts, compiled with solcjs.

    Cached by input hash under tests/contracts/.build. File names must be
    unique across both folders (they are the source names).
    """
    if shutil.which("node") is None:
        _missing("`node` is not installed")
    if not (NODE_MODULES / "solc").is_dir():
        _missing("node_modules/solc is missing")
    paths = sorted([*CONTRACTS_DIR.glob("*.sol"), *APP_CONTRACTS_DIR.glob("*.sol")])
    sources = {path.name: path.read_text() for path in paths}
    standard_input = {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sources.items()},
        "settings": {
            "optimizer": {"enabled": True, "runs": 200},
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
        },
    }
    payload = json.dumps(standard_input, sort_keys=True)
    lock = (ROOT / "package-lock.json").read_bytes()
    digest = hashlib.sha256(payload.encode() + lock + COMPILER.read_bytes()).hexdigest()[:16]
    cached = BUILD_DIR / f"{digest}.json"
    if cached.exists():
        result = json.loads(cached.read_text())
    else:
        done = subprocess.run(
            ["node", str(COMPILER)],
            input=payload.encode(),
            capture_output=True,
            check=False,
            timeout=300,
        )
        if done.returncode != 0:
            raise RuntimeError(f"solcjs failed: {done.stderr.decode()[-2000:]}")
        result = json.loads(done.stdout)
        errors = [e for e in result["output"].get("errors", []) if e["severity"] == "error"]
        if errors:
            raise RuntimeError(
                "Solidity errors:\n" + "\n".join(e["formattedMessage"] for e in errors)
            )
        BUILD_DIR.mkdir(exist_ok=True)
        cached.write_text(json.dumps(result))
    artifacts: dict[str, Artifact] = {}
    for contracts in result["output"]["contracts"].values():
        for name, compiled in contracts.items():
            code = compiled["evm"]["bytecode"]["object"]
            if code:  # interfaces and abstract contracts have none
                artifacts[name] = Artifact(name, compiled["abi"], bytes.fromhex(code))
    return artifacts


def selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def _types(signature: str) -> list[str]:
    inner = signature[signature.index("(") + 1 : signature.rindex(")")]
    return [t for t in inner.split(",") if t]


@dataclass
class Chain:
    """A running anvil: its URL, compiled contracts, and helpers to deploy and transact."""

    url: str
    chain_id: int
    artifacts: dict[str, Artifact]
    accounts: list[str]
    # SESSION_CONTRACTS' addresses, by key.
    addresses: dict[str, str] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def rpc(self, method: str, params: Sequence[Any] = ()) -> Any:
        answer = httpx.post(
            self.url,
            json={
                "jsonrpc": "2.0",
                "id": next(self._ids),
                "method": method,
                "params": list(params),
            },
            timeout=30,
        ).json()
        if answer.get("error"):
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    def send(self, tx: dict[str, Any]) -> dict[str, Any]:
        """Send a transaction from an unlocked account; anvil mines it at once."""
        tx = {"from": self.accounts[0], **tx}
        tx_hash = self.rpc("eth_sendTransaction", [tx])
        receipt: dict[str, Any] = self.rpc("eth_getTransactionReceipt", [tx_hash])
        if int(receipt["status"], 16) != 1:
            raise RuntimeError(f"transaction reverted: {tx}")
        return receipt

    def deploy(self, name: str, *args: Any) -> str:
        """Deploy contract `name` with constructor `args`; its checksummed address."""
        artifact = self.artifacts[name]
        data = artifact.bytecode + encode(artifact.constructor_types(), list(args))
        receipt = self.send({"data": "0x" + data.hex()})
        return to_checksum_address(receipt["contractAddress"])

    def transact(self, to: str, signature: str, *args: Any, sender: str | None = None) -> None:
        """Call `signature` (e.g. `mint(address,uint256)`) on `to` in a mined transaction."""
        data = selector(signature) + encode(_types(signature), list(args))
        tx: dict[str, Any] = {"to": to, "data": "0x" + data.hex()}
        if sender is not None:
            tx["from"] = sender
        self.send(tx)

    def call(self, to: str, signature: str, *args: Any) -> bytes:
        data = selector(signature) + encode(_types(signature), list(args))
        result = self.rpc("eth_call", [{"to": to, "data": "0x" + data.hex()}, "latest"])
        return bytes.fromhex(result[2:])

    def snapshot(self) -> str:
        return str(self.rpc("evm_snapshot"))

    def revert(self, snapshot_id: str) -> None:
        if not self.rpc("evm_revert", [snapshot_id]):
            raise RuntimeError(f"evm_revert({snapshot_id}) failed")


@contextlib.contextmanager
def running_anvil() -> Iterator[str]:
    """An anvil process on a free loopback port; yields its URL."""
    if not ANVIL.exists():
        _missing(f"{ANVIL.relative_to(ROOT)} is missing")
    port = free_port()
    process = subprocess.Popen(
        [str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                stderr = process.stderr.read().decode() if process.stderr else ""
                raise RuntimeError(f"anvil exited at start-up: {stderr[-1000:]}")
            with contextlib.suppress(httpx.TransportError):
                httpx.post(
                    url, json={"jsonrpc": "2.0", "id": 0, "method": "eth_chainId"}, timeout=1
                )
                break
            if time.monotonic() > deadline:
                raise RuntimeError("anvil did not start listening within 30 s")
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()


@pytest.fixture(scope="session")
def anvil_node() -> Iterator[Chain]:
    """One anvil for the whole run, with the session contracts deployed."""
    artifacts = compile_contracts()
    with running_anvil() as url:
        chain = Chain(url=url, chain_id=ANVIL_CHAIN_ID, artifacts=artifacts, accounts=[])
        chain.chain_id = int(chain.rpc("eth_chainId"), 16)
        chain.accounts = [to_checksum_address(a) for a in chain.rpc("eth_accounts")]
        for key, (name, args) in SESSION_CONTRACTS.items():
            chain.addresses[key] = chain.deploy(name, *args)
        yield chain


@pytest.fixture
def chain(anvil_node: Chain) -> Iterator[Chain]:
    """The session's anvil, with whatever this test changes reverted after it."""
    snapshot = anvil_node.snapshot()
    try:
        yield anvil_node
    finally:
        anvil_node.revert(snapshot)
