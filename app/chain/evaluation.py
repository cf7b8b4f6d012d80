"""One identity against one room's condition: what to read, and what the answers decide.

Pure and incremental: `wanted(answers)` names the reads still needed given the
answers so far (first reads, then those that depend on them: an Unlock key's
expiry, a found vault's holdings), and `outcome(answers)` decides once none are
(DESIGN.md section 10). The condition is decided for one address at a time,
the wallet itself first, then each vault; holdings never add up across them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from app.chain.rules import (
    Answers,
    ChainRead,
    Delegation,
    Held,
    Tri,
    delegated,
    delegation_read,
    delegations_of,
    evaluate,
    expiry,
    failing,
    first_reads,
    follow_up_reads,
    incoming_read,
    is_missing,
    leaf_held,
    vaults_in,
)
from models.access import Condition, Leaf, Unlock, chains_of, leaves

# A cached leaf verdict is keyed by (leaf, address); a cached delegation list by
# ("incoming", chain, wallet); a cached delegation check by its ChainRead.
CacheLookup = Callable[[Hashable], object | None]


@dataclass(frozen=True, slots=True)
class Incoming:
    """One chain's delegations to a wallet, as cached. Kept like a yes only when a
    vault in it admitted; else like a no (a few seconds), so a delegation made
    just now is seen by the next request."""

    delegations: tuple[Delegation, ...]
    admitted: bool = False

    def __bool__(self) -> bool:
        return self.admitted


@dataclass(frozen=True, slots=True)
class Outcome:
    """The decision: `verdict` True (admitted), False (refused) or None (no answer)."""

    verdict: Tri
    # The vault that admitted (lower case), None: the wallet itself.
    vault: str | None = None
    # When the admitting Unlock key ends and nothing else admits (unix seconds).
    expires_at: int | None = None
    # Refused: the leaves that said no (for the wallet itself).
    failed: list[Leaf] = field(default_factory=list)
    # No answer: a leaf that gave none, and the chain read's problem.
    unknown: list[Leaf] = field(default_factory=list)
    # What was learned, to cache: (leaf, address) -> Held, and delegation answers.
    learned: dict[Hashable, object] = field(default_factory=dict)


@dataclass(slots=True)
class Evaluation:
    condition: Condition
    wallet: str  # lower case
    now: float  # unix seconds, Qari's clock
    cached: CacheLookup
    # Delegation: the room allows it (registry address), and the vault named, if any.
    registry: str | None = None
    vault: str | None = None
    _leaves: list[Leaf] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._leaves = list(distinct_leaves(self.condition))

    def cached_outcome(self) -> Outcome | None:
        """The decision from cached verdicts of the wallet's own leaves, when they
        decide (the common case, a token request's fast path); else None."""
        held = {leaf: self._cached_held(leaf, self.wallet) for leaf in self._leaves}

        def value(leaf: Leaf) -> Tri:
            found = held[leaf]
            return None if found is None else found.yes

        verdict = evaluate(self.condition, value)
        if verdict is True:
            if not _has_unlock(self.condition):
                return Outcome(True)
            ends = expiry(self.condition, held)
            if ends is None and expiry(self.condition, _unread_as_no(held)) is not None:
                # Whether the key's end removes depends on a leaf not in the cache
                # (not read, which is not an unknown answer): read it.
                return None
            return Outcome(True, expires_at=ends)
        if verdict is False and self.registry is None:
            return Outcome(False, failed=failing(self.condition, value))
        return None

    # -- what to read ----------------------------------------------------------------

    def wanted(self, answers: Answers) -> list[ChainRead]:
        reads: list[ChainRead] = []
        wallet_value = self._value(self.wallet, answers, lambda leaf: True)
        # A yes from cached or known answers needs nothing more.
        if evaluate(self.condition, wallet_value) is True:
            return []
        reads += self._reads_for(self.wallet, answers)
        if self.registry is None:
            if evaluate(self.condition, wallet_value) is False:
                return []
            return reads
        if self.vault is not None:
            for leaf in self._leaves:
                check = delegation_read(self.registry, leaf, self.wallet, self.vault)
                if self.cached(check) is None:
                    reads.append(check)
            return reads + self._reads_for(self.vault, answers)
        incoming = self._incoming(answers)
        reads += [r for r in self._incoming_reads() if self.cached(_incoming_key(r)) is None]
        if incoming is not None:
            for vault in vaults_in(incoming, self.wallet, self._leaves):
                reads += self._reads_for(vault, answers, self._coverage(incoming, vault))
        return reads

    def _reads_for(
        self, address: str, answers: Answers, covers: Callable[[Leaf], bool] = lambda leaf: True
    ) -> list[ChainRead]:
        reads: list[ChainRead] = []
        for leaf in self._leaves:
            if self._cached_held(leaf, address) is not None or not covers(leaf):
                continue
            reads += first_reads(leaf, address)
            if self._key_end(address):
                reads += follow_up_reads(leaf, address, answers)
        return reads

    def _key_end(self, address: str) -> bool:
        """Whether an Unlock key's end is read for `address`: not for a vault found in
        the registry, whose holdings are read in the second batch already (DESIGN.md
        section 10: the first batch and one more per chain). Its key's end is then
        read by the first re-check, which follows the vault named and arms the timer."""
        return address in (self.wallet, self.vault)

    def _incoming_reads(self) -> list[ChainRead]:
        assert self.registry is not None
        return [incoming_read(self.registry, c, self.wallet) for c in chains_of(self.condition)]

    def _incoming(self, answers: Answers) -> list[Delegation] | None:
        """The delegations to the wallet of every chain that answered, in chain order;
        None until every chain's listing has been read (answered or not)."""
        found: list[Delegation] = []
        for read in self._incoming_reads():
            cached = self.cached(_incoming_key(read))
            if isinstance(cached, Incoming):
                found += cached.delegations
                continue
            answer = answers.get(read, _ABSENT)
            if answer is _ABSENT:
                return None
            found += delegations_of(answer, read.chain_id) or []  # type: ignore[arg-type]
        return found

    def _unlisted_chains(self, answers: Answers) -> set[int]:
        """The chains whose listing of delegations to the wallet gave no answer."""
        return {
            read.chain_id
            for read in self._incoming_reads()
            if not isinstance(self.cached(_incoming_key(read)), Incoming)
            and delegations_of(answers.get(read), read.chain_id) is None
        }

    def _coverage(self, incoming: list[Delegation], vault: str) -> Callable[[Leaf], bool]:
        """Whether `vault`'s delegations to the wallet cover a leaf."""
        return lambda leaf: delegated(incoming, vault, leaf)

    # -- deciding ---------------------------------------------------------------------

    def _held(self, address: str, answers: Answers) -> dict[Leaf, Held | object | None]:
        held: dict[Leaf, Held | object | None] = {}
        for leaf in self._leaves:
            cached = self._cached_held(leaf, address)
            if cached is None:
                held[leaf] = leaf_held(
                    leaf, address, answers, self.now, key_end=self._key_end(address)
                )
            else:
                held[leaf] = cached
        return held

    def _cached_held(self, leaf: Leaf, address: str) -> Held | None:
        """The cached verdict of `leaf` for `address`; a yes through a key that has
        ended since is none (the key may have been renewed: it is read again)."""
        cached = self.cached((leaf, address))
        if not isinstance(cached, Held):
            return None
        if cached.yes and cached.expires_at is not None and cached.expires_at <= self.now:
            return None
        return cached

    def _value(
        self, address: str, answers: Answers, covers: Callable[[Leaf], Tri]
    ) -> Callable[[Leaf], Tri]:
        held = self._held(address, answers)

        def value(leaf: Leaf) -> Tri:
            cover = covers(leaf)
            if cover is False:
                return False
            found = held[leaf]
            if is_missing(found) or found is None:
                return None
            yes = bool(found)
            return None if (yes and cover is None) else yes

        return value

    def outcome(self, answers: Answers) -> Outcome:
        learned: dict[Hashable, object] = {}
        candidates: list[tuple[str | None, str, Callable[[Leaf], Tri]]] = [
            (None, self.wallet, lambda leaf: True)
        ]
        incoming_unknown = False
        unknown_leaves: list[Leaf] = []
        if self.registry is not None:
            if self.vault is not None and self.vault != self.wallet:
                checks = {
                    leaf: self._delegation(leaf, self.vault, answers, learned)
                    for leaf in self._leaves
                }
                candidates.append((self.vault, self.vault, lambda leaf: checks[leaf]))
            elif self.vault is None:
                incoming = self._incoming(answers)
                if incoming is None:
                    incoming_unknown = True
                else:
                    for read in self._incoming_reads():
                        listed = delegations_of(answers.get(read), read.chain_id)
                        if listed is not None:
                            learned[_incoming_key(read)] = Incoming(tuple(listed))
                    for vault in vaults_in(incoming, self.wallet, self._leaves):
                        candidates.append((vault, vault, self._coverage(incoming, vault)))
                    unlisted = self._unlisted_chains(answers)
                    if unlisted:
                        # A vault listed on a chain that gave no answer counts only for
                        # that chain's leaves (a delegation is per chain): unknown
                        # there, no elsewhere. Only if that could admit is it an unknown.
                        def unseen(leaf: Leaf) -> Tri:
                            return None if leaf.chain_id in unlisted else False

                        if evaluate(self.condition, unseen) is not False:
                            incoming_unknown = True
                            unknown_leaves += [
                                leaf for leaf in self._leaves if leaf.chain_id in unlisted
                            ]
        unknown = incoming_unknown
        wallet_value: Callable[[Leaf], Tri] | None = None
        for admitting, address, covers in candidates:
            held = self._held(address, answers)
            for leaf, found in held.items():
                # Only what the chain said now: a cached verdict keeps its own expiry.
                if isinstance(found, Held) and self._cached_held(leaf, address) is None:
                    learned[(leaf, address)] = found
            value = self._value(address, answers, covers)
            if wallet_value is None:
                wallet_value = value
            verdict = evaluate(self.condition, value)
            if verdict is True:
                if admitting is not None:
                    _admitted_through(learned, admitting)
                admitted: dict[Leaf, Held | None] = {}
                for leaf, h in held.items():
                    said = value(leaf)
                    admitted[leaf] = None if said is None else (h if said else Held(False))  # type: ignore[assignment]
                return Outcome(
                    True,
                    vault=admitting,
                    expires_at=expiry(self.condition, admitted),
                    learned=learned,
                )
            if verdict is None:
                unknown = True
                unknown_leaves += [leaf for leaf in self._leaves if value(leaf) is None]
        assert wallet_value is not None
        if unknown:
            return Outcome(None, unknown=unknown_leaves, learned=learned)
        return Outcome(False, failed=failing(self.condition, wallet_value), learned=learned)

    def _delegation(
        self, leaf: Leaf, vault: str, answers: Answers, learned: dict[Hashable, object]
    ) -> Tri:
        assert self.registry is not None
        check = delegation_read(self.registry, leaf, self.wallet, vault)
        cached = self.cached(check)
        if isinstance(cached, bool):
            return cached
        answer = answers.get(check)
        if isinstance(answer, int) and not isinstance(answer, bool) and answer in (0, 1):
            learned[check] = answer == 1
            return answer == 1
        return None


_ABSENT = object()


def _unread_as_no(held: dict[Leaf, Held | None]) -> dict[Leaf, Held | None]:
    return {leaf: Held(False) if h is None else h for leaf, h in held.items()}


def _admitted_through(learned: dict[Hashable, object], vault: str) -> None:
    """The delegation lists just read that name `vault`, which admitted: kept like a yes."""
    for key, value in list(learned.items()):
        if isinstance(value, Incoming) and any(d.vault == vault for d in value.delegations):
            learned[key] = Incoming(value.delegations, admitted=True)


@functools.lru_cache(maxsize=4096)
def distinct_leaves(condition: Condition) -> tuple[Leaf, ...]:
    """The condition's leaves, each once, left to right (a room's, asked per request)."""
    return tuple(dict.fromkeys(leaves(condition)))


@functools.lru_cache(maxsize=4096)
def _has_unlock(condition: Condition) -> bool:
    return any(isinstance(leaf, Unlock) for leaf in distinct_leaves(condition))


def _incoming_key(read: ChainRead) -> Hashable:
    return ("incoming", read.chain_id, read.args[0])
