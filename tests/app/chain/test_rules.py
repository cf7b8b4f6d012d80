"""The join rules, one row per rule: the read each condition needs, and what answers admit."""

from __future__ import annotations

import pytest

from app.chain.rules import (
    REVERTED,
    Answer,
    UnknownAnswerError,
    holder_address,
    qualifies,
    read_for,
)
from models.rooms import AccessCondition, AccessType, NftStandard, access_condition

HOLDER = "0x" + "ab" * 20
OTHER = "0x" + "cd" * 20
CONTRACT = "0x" + "12" * 20
BIG = 2**64 + 7

ERC20 = AccessCondition(AccessType.TOKEN, 1, CONTRACT, BIG)
ERC721_ANY = AccessCondition(AccessType.NFT, 1, CONTRACT, 1, NftStandard.ERC721)
ERC721_ID = AccessCondition(AccessType.NFT, 1, CONTRACT, 1, NftStandard.ERC721, 42)
ERC1155_ID = AccessCondition(AccessType.NFT, 1, CONTRACT, 1, NftStandard.ERC1155, 42)


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
    condition: AccessCondition, signature: str, args: tuple[object, ...], returns: str
) -> None:
    read = read_for(condition, HOLDER)
    assert (read.contract, read.signature, read.args, read.returns) == (
        CONTRACT,
        signature,
        args,
        returns,
    )


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
    ],
)
def test_answers_admit_or_deny(condition: AccessCondition, answer: Answer, admitted: bool) -> None:
    assert qualifies(condition, HOLDER, answer) is admitted


@pytest.mark.parametrize(
    ("condition", "answer"),
    [(ERC20, REVERTED), (ERC721_ANY, REVERTED), (ERC1155_ID, REVERTED), (ERC721_ID, 5)],
)
def test_answers_that_decide_nothing_are_unknown(
    condition: AccessCondition, answer: Answer
) -> None:
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
    assert access_condition("public", 1, None, None, None, "erc721", None) is None
    token = access_condition("token", 5, CONTRACT.upper(), str(BIG), None, "erc721", None)
    assert token == AccessCondition(AccessType.TOKEN, 5, CONTRACT.lower(), BIG)
    nft = access_condition("nft", 1, None, None, CONTRACT, "erc1155", "42")
    assert nft == ERC1155_ID
    assert "42" in nft.describe()
    assert CONTRACT in nft.describe()
    assert str(BIG) in token.describe()
