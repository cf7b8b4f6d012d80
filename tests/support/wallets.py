"""Real wallets for tests: eth-account keys, SIWE messages, signing in through the app."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from quart.typing import TestClientProtocol as Client

SIWE_DOMAIN = "qari.test"


def new_account() -> LocalAccount:
    account: LocalAccount = Account.create()
    return account


def rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def siwe_text(
    address: str,
    nonce: str,
    issued_at: dt.datetime,
    *,
    domain: str = SIWE_DOMAIN,
    uri: str | None = None,
    chain_id: int = 1,
    expiration_time: dt.datetime | None = None,
    not_before: dt.datetime | None = None,
    statement: str | None = "Sign in to Qari.",
) -> str:
    """An EIP-4361 message, exactly as a dApp's SIWE library writes it."""
    lines = [f"{domain} wants you to sign in with your Ethereum account:", address, ""]
    if statement is not None:
        lines += [statement, ""]
    else:
        lines += [""]
    lines += [
        f"URI: {uri or f'https://{domain}/login'}",
        "Version: 1",
        f"Chain ID: {chain_id}",
        f"Nonce: {nonce}",
        f"Issued At: {rfc3339(issued_at)}",
    ]
    if expiration_time is not None:
        lines.append(f"Expiration Time: {rfc3339(expiration_time)}")
    if not_before is not None:
        lines.append(f"Not Before: {rfc3339(not_before)}")
    return "\n".join(lines)


def sign_text(account: LocalAccount, text: str) -> str:
    """EIP-191 personal_sign, as a browser wallet does it."""
    return "0x" + bytes(account.sign_message(encode_defunct(text=text)).signature).hex()


async def get_nonce(client: Client) -> str:
    response = await client.post("/v1/auth/nonce")
    assert response.status_code == 200, await response.get_data(as_text=True)
    nonce: str = (await response.get_json())["nonce"]
    return nonce


@dataclass(frozen=True)
class Wallet:
    """A signed-in wallet: its address, and headers carrying its session."""

    address: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def sign_in(
    client: Client, now: dt.datetime, account: LocalAccount | None = None, chain_id: int = 1
) -> Wallet:
    account = account or new_account()
    text = siwe_text(account.address, await get_nonce(client), now, chain_id=chain_id)
    response = await client.post(
        "/v1/auth/siwe", json={"message": text, "signature": sign_text(account, text)}
    )
    body = await response.get_json()
    assert response.status_code == 200, body
    return Wallet(address=body["address"], token=body["token"])
