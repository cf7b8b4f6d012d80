"""The join rules, one row per rule: the read each condition needs, and what answers admit."""

from __future__ import annotations

import pytest

from app.chain.rules import (
    REVERTED,
    Answer,
    UnknownAnswerError,
    first_reads,
    holder_address,
    qualifies,
)
from models.access import Erc20, Erc721, Erc1155, Leaf, Native, Unlock, from_legacy

HOLDER = "0x" + "ab" * 20
OTHER = "0x" + "cd" * 20
CONTRACT = "0x" + "12" * 20
BIG = 2**64 + 7

ERC20 = Erc20(1, CONTRACT, BIG)
ERC721_ANY = Erc721(1, CONTRACT)
ERC721_ID = Erc721(1, CONTRACT, 42)
ERC1155_ID = Erc1155(1, CONTRACT, 42)
NATIVE = Native(1, 10)


@pytest.mark.parametrize(
    ("condition", "signature", "args", "returns"),
    [
        (ERC20, "balanceOf(address)", (HOLDER,), "uint256"),
        (ERC721_ANY, "balanceOf(address)", (HOLDER,), "uint256"),
        (ERC721_ID, "ownerOf(uint256)", (42,), "address"),
        (ERC1155_ID, "balanceOf(address,uint256)", (HOLDER, 42), "uint256"),
    ],
)
def test_each_condition_needs_one_read(
    condition: Leaf, signature: str, args: tuple[object, ...], returns: str
) -> None:
    [read] = first_reads(condition, HOLDER)
    assert (read.contract, read.signature, read.args, read.returns) == (
        CONTRACT,
        signature,
        args,
        returns,
    )


def test_native_reads_the_balance_and_unlock_the_key_and_its_token() -> None:
    [read] = first_reads(NATIVE, HOLDER)
    assert (read.contract, read.signature, read.args) == (None, "eth_getBalance", (HOLDER,))
    lock = Unlock(1, CONTRACT)
    assert [r.signature for r in first_reads(lock, HOLDER)] == [
        "getHasValidKey(address)",
        "tokenOfOwnerByIndex(address,uint256)",
    ]


@pytest.mark.parametrize(
    ("condition", "answer", "admitted"),
    [
        (ERC20, BIG, True),
        (ERC20, BIG + 1, True),
        (ERC20, BIG - 1, False),
        (ERC20, 0, False),
        (ERC721_ANY, 1, True),
        (ERC721_ANY, 0, False),
        (ERC721_ID, HOLDER, True),
        (ERC721_ID, HOLDER.upper().replace("0X", "0x"), True),
        (ERC721_ID, OTHER, False),
        (ERC721_ID, REVERTED, False),
        (ERC1155_ID, 3, True),
        (ERC1155_ID, 0, False),
        (NATIVE, 10, True),
        (NATIVE, 9, False),
    ],
)
def test_answers_admit_or_deny(condition: Leaf, answer: Answer, admitted: bool) -> None:
    assert qualifies(condition, HOLDER, answer) is admitted


@pytest.mark.parametrize(
    ("condition", "answer"),
    [(ERC20, REVERTED), (ERC721_ANY, REVERTED), (ERC1155_ID, REVERTED), (ERC721_ID, 5)],
)
def test_answers_that_decide_nothing_are_unknown(condition: Leaf, answer: Answer) -> None:
    with pytest.raises(UnknownAnswerError):
        qualifies(condition, HOLDER, answer)


@pytest.mark.parametrize(
    ("identity", "address"),
    [
        (HOLDER, HOLDER),
        ("0x" + "AB" * 20, HOLDER),
        ("alice", None),
        ("0x" + "ab" * 19, None),
        ("0x" + "zz" * 20, None),
        (HOLDER + "\n", None),
    ],
)
def test_only_addresses_can_hold(identity: str, address: str | None) -> None:
    assert holder_address(identity) == address


def test_a_room_config_gives_its_condition() -> None:
    assert from_legacy("public", 1, None, None, None, "erc721", None) is None
    token = from_legacy(
        "token", 5, CONTRACT.upper().replace("0X", "0x"), str(BIG), None, "erc721", None
    )
    assert token == Erc20(5, CONTRACT, BIG)
    nft = from_legacy("nft", 1, None, None, CONTRACT, "erc1155", "42")
    assert nft == ERC1155_ID
    assert "42" in nft.describe()
    assert CONTRACT in nft.describe()
    assert str(BIG) in token.describe()
