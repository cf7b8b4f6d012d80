"""Access conditions, pure (DESIGN.md section 10): the three-valued table, what a refusal
names, when an Unlock key's end takes a yes away, and what an `access` body may be."""

from __future__ import annotations

from typing import Any

import pytest
from eth_utils.address import to_checksum_address

from app.chain.evaluation import Evaluation
from app.chain.rules import REVERTED, Held, Tri, evaluate, expiry, failing, first_reads
from models.access import (
    All,
    Allowlist,
    AnyOf,
    Condition,
    ConditionError,
    Erc20,
    Erc721,
    Erc1155,
    Leaf,
    Native,
    Unlock,
    as_json,
    dumps,
    from_legacy,
    loads,
    parse,
    to_legacy,
)

A = Erc20(1, "0x" + "11" * 20, 5)
B = Erc721(1, "0x" + "22" * 20)
C = Native(1, 1)
Y, N, U = True, False, None


def valued(**values: Tri) -> Any:
    by_leaf = {A: values.get("a"), B: values.get("b"), C: values.get("c")}
    return lambda leaf: by_leaf[leaf]


# (condition, a, b, expected): Kleene's logic, one row per case.
TABLE: list[tuple[Condition, Tri, Tri, Tri]] = [
    (AnyOf((A, B)), Y, Y, Y),
    (AnyOf((A, B)), Y, N, Y),
    (AnyOf((A, B)), Y, U, Y),  # one yes admits whatever is unknown
    (AnyOf((A, B)), U, Y, Y),
    (AnyOf((A, B)), N, N, N),
    (AnyOf((A, B)), N, U, U),  # an unknown that decides
    (AnyOf((A, B)), U, U, U),
    (All((A, B)), Y, Y, Y),
    (All((A, B)), Y, N, N),
    (All((A, B)), N, U, N),  # one no refuses whatever is unknown
    (All((A, B)), U, N, N),
    (All((A, B)), Y, U, U),  # an unknown that decides
    (All((A, B)), U, U, U),
    (A, Y, N, Y),
    (A, U, N, U),
    (AnyOf((All((A, B)), C)), Y, Y, Y),
    (All((AnyOf((A, B)), AnyOf((A, B)))), N, U, U),
]


@pytest.mark.parametrize(("condition", "a", "b", "expected"), TABLE)
def test_the_three_valued_table(condition: Condition, a: Tri, b: Tri, expected: Tri) -> None:
    assert evaluate(condition, valued(a=a, b=b, c=False)) is expected


def test_a_refusal_names_the_leaf_that_said_no() -> None:
    assert failing(All((A, B)), valued(a=True, b=False)) == [B]
    assert failing(AnyOf((A, B)), valued(a=False, b=False)) == [A, B]
    assert failing(All((AnyOf((A, C)), B)), valued(a=False, b=True, c=False)) == [A, C]


LOCK = Unlock(1, "0x" + "33" * 20)
OTHER_LOCK = Unlock(1, "0x" + "44" * 20)


@pytest.mark.parametrize(
    ("condition", "held", "ends"),
    [
        (LOCK, {LOCK: Held(True, 100)}, 100),
        (LOCK, {LOCK: Held(True, None)}, None),  # a key that never ends
        (AnyOf((LOCK, A)), {LOCK: Held(True, 100), A: Held(True)}, None),  # not needed
        (AnyOf((LOCK, A)), {LOCK: Held(True, 100), A: Held(False)}, 100),
        # Without the key only an unknown is left: that removes nobody (section 3).
        (AnyOf((LOCK, A)), {LOCK: Held(True, 100), A: None}, None),
        (All((LOCK, A)), {LOCK: Held(True, 100), A: None}, 100),  # a no whatever A says
        (All((LOCK, A)), {LOCK: Held(True, 100), A: Held(True)}, 100),
        # Two keys, either admits: the yes ends with the later one.
        (AnyOf((LOCK, OTHER_LOCK)), {LOCK: Held(True, 100), OTHER_LOCK: Held(True, 200)}, 200),
    ],
)
def test_a_yes_ends_with_the_key_nothing_else_replaces(
    condition: Condition, held: dict[Leaf, Held | None], ends: int | None
) -> None:
    assert expiry(condition, held) == ends


# -- one evaluation, given answers -----------------------------------------------------

HOLDER = "0x" + "ab" * 20


def answers_for(leaf: Leaf, *values: Any) -> dict[Any, Any]:
    return dict(zip(first_reads(leaf, HOLDER), values, strict=True))


def test_an_any_with_one_yes_needs_no_other_answer() -> None:
    evaluation = Evaluation(AnyOf((A, B)), HOLDER, 0.0, lambda key: None)
    assert len(evaluation.wanted({})) == 2  # both first reads, in one round
    answers = {**answers_for(A, 5), **answers_for(B, None)}  # B: the chain gave no answer
    assert evaluation.outcome(answers).verdict is True


def test_an_unlock_key_is_read_then_its_expiry() -> None:
    evaluation = Evaluation(LOCK, HOLDER, 50.0, lambda key: None)
    first = evaluation.wanted({})
    assert [r.signature for r in first] == [
        "getHasValidKey(address)",
        "tokenOfOwnerByIndex(address,uint256)",
    ]
    answers: dict[Any, Any] = dict(zip(first, [1, 9], strict=True))
    [then] = [r for r in evaluation.wanted(answers) if r not in answers]
    assert (then.signature, then.args) == ("keyExpirationTimestampFor(uint256)", (9,))
    answers[then] = 100
    outcome = evaluation.outcome(answers)
    assert (outcome.verdict, outcome.expires_at) == (True, 100)
    # Past the index-0 key's end by Qari's clock, getHasValidKey still decides
    # (another key may be valid): admitted, and no timer for an end gone by.
    late = Evaluation(LOCK, HOLDER, 100.0, lambda key: None).outcome(answers)
    assert (late.verdict, late.expires_at) == (True, None)


def test_a_reverting_key_check_is_no_answer() -> None:
    evaluation = Evaluation(LOCK, HOLDER, 0.0, lambda key: None)
    answers = dict(zip(evaluation.wanted({}), [REVERTED, REVERTED], strict=True))
    assert evaluation.outcome(answers).verdict is None


def test_a_cached_yes_decides_without_reads() -> None:
    cached = {(A, HOLDER): Held(True)}
    evaluation = Evaluation(AnyOf((B, A)), HOLDER, 0.0, cached.get)
    assert evaluation.wanted({}) == []
    assert evaluation.outcome({}).verdict is True


# -- what an `access` body may be ---------------------------------------------------------

ADDRESS = "0x" + "ab" * 20
CHECKSUMMED = to_checksum_address(ADDRESS)
ERC20 = {"erc20": {"address": ADDRESS, "min": "1"}}


def nested(depth: int) -> dict[str, Any]:
    body: dict[str, Any] = ERC20
    for _ in range(depth):
        body = {"any": [body]}
    return body


@pytest.mark.parametrize(
    ("body", "where", "says"),
    [
        ([], "access", "one key"),
        ({"erc20": {}, "erc721": {}}, "access", "one key"),
        ({"erc42": {}}, "access", "unknown condition"),
        ({"any": []}, "access.any", "1 to 10"),
        ({"all": [ERC20] * 11}, "access.all", "1 to 10"),
        (nested(4), "access.any[0].any[0].any[0].any", "at most 3"),
        ({"any": [{"all": [ERC20] * 6}, {"all": [ERC20] * 5}]}, "access", "at most 10 leaves"),
        ({"erc20": {"address": ADDRESS}}, "access.erc20.min", "required"),
        ({"erc20": {"address": ADDRESS, "min": "0"}}, "access.erc20.min", "at least 1"),
        ({"erc20": {"address": ADDRESS, "min": 5}}, "access.erc20.min", "decimal string"),
        ({"erc20": {"address": ADDRESS, "min": str(2**256)}}, "access.erc20.min", "uint256"),
        ({"erc20": {"address": "0x12", "min": "1"}}, "access.erc20.address", "address"),
        ({"erc20": {"address": ADDRESS, "min": "1", "x": 1}}, "access.erc20.x", "not a field"),
        ({"erc20": {**ERC20["erc20"], "chain_id": True}}, "access.erc20.chain_id", "chain id"),
        ({"erc1155": {"address": ADDRESS}}, "access.erc1155.token_id", "required"),
        ({"native": {"min": "-1"}}, "access.native.min", "decimal string"),
        ({"unlock": {"lock": None}}, "access.unlock.lock", "address"),
        ({"allowlist": []}, "access.allowlist", "1 to 1000"),
        ({"allowlist": [ADDRESS] * 1001}, "access.allowlist", "1 to 1000"),
        ({"any": [ERC20, {"allowlist": ["nope"]}]}, "access.any[1].allowlist[0]", "address"),
    ],
)
def test_a_bad_body_is_refused_naming_where(body: Any, where: str, says: str) -> None:
    with pytest.raises(ConditionError) as refused:
        parse(body, 1)
    assert refused.value.where == where
    assert says in refused.value.message


def test_the_limits_themselves_are_accepted() -> None:
    assert parse(nested(3), 1) is not None
    assert parse({"all": [ERC20] * 10}, 1) is not None
    assert parse({"allowlist": [f"0x{n:040x}" for n in range(1000)]}, 1) is not None
    assert parse(None, 1) is None


def test_a_tree_reads_back_with_every_leaf_on_its_chain() -> None:
    body = {
        "any": [
            {"erc1155": {"address": ADDRESS, "token_id": "0"}},
            {"native": {"min": "10", "chain_id": 137}},
            {"allowlist": [ADDRESS]},
        ]
    }
    condition = parse(body, 5)
    assert as_json(condition) == {
        "any": [
            {
                "erc1155": {
                    "address": CHECKSUMMED,
                    "token_id": "0",
                    "min": "1",
                    "chain_id": 5,
                }
            },
            {"native": {"min": "10", "chain_id": 137}},
            {"allowlist": [CHECKSUMMED]},
        ]
    }
    assert parse(as_json(condition), 5) == condition


@pytest.mark.parametrize(
    ("condition", "access_type"),
    [
        (None, "public"),
        (Erc20(5, CHECKSUMMED, 3), "token"),
        (Erc721(5, CHECKSUMMED, 7), "nft"),
        (Erc1155(5, CHECKSUMMED, 7), "nft"),
        (Erc1155(5, CHECKSUMMED, 7, 2), "conditions"),  # a minimum the older fields cannot say
        (Erc20(6, CHECKSUMMED, 3), "conditions"),  # another chain than the room's
        (AnyOf((A,)), "conditions"),
        (Allowlist(5, (CHECKSUMMED,)), "conditions"),
    ],
)
def test_the_older_fields_say_what_they_can(condition: Condition | None, access_type: str) -> None:
    legacy = to_legacy(condition, 5)
    assert legacy["access_type"] == access_type
    if access_type != "conditions":
        assert from_legacy(chain_id=5, **legacy) == condition


def test_a_cached_key_that_has_ended_is_read_again() -> None:
    cached = {(LOCK, HOLDER): Held(True, 100), (A, HOLDER): Held(False)}
    evaluation = Evaluation(AnyOf((A, LOCK)), HOLDER, 100.0, cached.get)
    assert [r.signature for r in evaluation.wanted({})] == [
        "getHasValidKey(address)",
        "tokenOfOwnerByIndex(address,uint256)",
    ]
    # A cached no is kept: it is not read again.
    assert evaluation.outcome({}).verdict is None


def test_a_stored_condition_is_parsed_once_per_text() -> None:
    # A full allowlist costs a keccak per address to parse: every room read loads it.
    addresses = [to_checksum_address(f"0x{n:040x}") for n in range(1, 1001)]
    text = dumps(parse({"allowlist": addresses}, 1))

    first, again = loads(text, 1), loads(text, 1)

    assert first is again
    assert first == parse({"allowlist": addresses}, 1)
    assert loads(text, 2) is not first  # the room's chain is part of what is parsed


def test_a_cached_key_whose_end_depends_on_a_leaf_not_cached_is_read() -> None:
    condition = AnyOf((LOCK, A))
    key_only = {(LOCK, HOLDER): Held(True, 100)}
    # Not in the cache is not an unknown answer: whether the key's end removes
    # depends on A, so the fast path does not decide.
    assert Evaluation(condition, HOLDER, 50.0, key_only.get).cached_outcome() is None

    both = {**key_only, (A, HOLDER): Held(False)}
    decided = Evaluation(condition, HOLDER, 50.0, both.get).cached_outcome()
    assert decided is not None
    assert (decided.verdict, decided.expires_at) == (True, 100)
