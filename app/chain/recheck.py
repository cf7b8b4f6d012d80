"""The periodic re-check: people still in a gated room must still meet its condition.

Checking only at entry would let someone sell the token and stay. Every
GATING_RECHECK_SECONDS the live participants of gated rooms are checked
afresh (one JSON-RPC batch per contract, no Multicall3 assumed); whoever no
longer qualifies is removed through its room's actor (RevokeAccess: the
tokens it holds for the room are revoked, its place is freed by the room's
rules, and LiveKit disconnects it), and the no now in the cache refuses
their token requests until they qualify again. An unknown answer removes
nobody, and a contract without answers (failing, slow, out of gas) leaves only
its own rooms undecided (AccessChecker.verdicts).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from actors.runtime import ActorError
from app.chain.checker import AccessChecker, Check
from app.chain.rules import holder_address
from app.livekit_gateway import LiveKitRefusedError, LiveKitUnreachableError
from models.access import Condition
from models.db import Database, DatabaseUnavailableError, is_unavailable
from models.rooms import gated_rooms
from models.sessions import open_standard_participants

log = logging.getLogger(__name__)

# (room, identity, the condition it no longer meets): revoke and remove, through the
# room's actor (app/lifecycle.py).
RemoveParticipant = Callable[[str, str, str], Awaitable[None]]
# (room): the vault each identity was admitted through, from the room's actor.
ReadVaults = Callable[[str], Awaitable[dict[str, str | None]]]
# (room, identity, vault, when its admitting key ends, the condition checked): still
# admitted, told to the actor.
Confirm = Callable[[str, str, str | None, int | None, Condition], None]


@dataclass(frozen=True, slots=True)
class RecheckPorts:
    """How the re-check reaches each room's actor."""

    remove: RemoveParticipant
    vaults: ReadVaults | None = None
    confirm: Confirm | None = None


@dataclass(frozen=True, slots=True)
class RecheckResult:
    checked: int
    removed: list[tuple[str, str]]  # (room, identity)
    unknown: int


async def recheck_gated_rooms(
    database: Database,
    access: AccessChecker,
    ports: RecheckPorts,
    serves: Callable[[str], Awaitable[bool]] | None = None,
) -> RecheckResult:
    """One round: check everyone in a gated room, remove who no longer qualifies.
    Only rooms this node `serves` (with several nodes, each room's owner checks it,
    so a room is checked once per round, not once per node)."""
    async with database.bounded():
        gated = await gated_rooms()
        participants = await open_standard_participants(list(gated))
    # Rooms with people in them only: a room claimed here is then the actor's to serve.
    rooms = {p.room_name for p in participants}
    served = {room for room in rooms if serves is None or await serves(room)}
    vaults: dict[str, dict[str, str | None]] = {}
    for room in sorted(served):
        if gated[room].delegation and ports.vaults is not None:
            vaults[room] = await _vaults(ports.vaults, room)
    to_check: list[tuple[str, str, Check | None]] = []
    for participant in (p for p in participants if p.room_name in served):
        gate = gated[participant.room_name]
        holder = holder_address(participant.identity)
        # An identity that is no address cannot hold anything (it joined before
        # the room was gated): it does not qualify, no chain read needed.
        check = None
        if holder is not None:
            # The vault that admitted is followed; one not known (the actor started
            # again since) is looked for in the registry, as at the token request.
            vault = vaults.get(participant.room_name, {}).get(participant.identity)
            check = Check(gate.condition, holder, gate.delegation, vault)
        to_check.append((participant.room_name, participant.identity, check))
    outcomes = await access.verdicts([check for _, _, check in to_check if check is not None])
    removed: list[tuple[str, str]] = []
    unknown = 0
    for room_name, identity, check in to_check:
        outcome = None if check is None else outcomes[check]
        if outcome is not None and outcome.verdict is None:
            unknown += 1
            continue
        if outcome is not None and outcome.verdict:
            if ports.confirm is not None:
                ports.confirm(
                    room_name,
                    identity,
                    outcome.vault,
                    outcome.expires_at,
                    gated[room_name].condition,
                )
            continue
        condition = gated[room_name].condition
        described = condition.describe()
        try:
            await ports.remove(room_name, identity, described)
        except (LiveKitRefusedError, LiveKitUnreachableError, ActorError) as error:
            # One room's trouble (LiveKit refusing, its actor busy) stops no other.
            log.warning("re-check could not remove %r from %r: %s", identity, room_name, error)
            continue
        except DatabaseUnavailableError as error:
            log.warning("re-check could not revoke %r in %r: %s", identity, room_name, error)
            continue
        removed.append((room_name, identity))
    access.stats.recheck_removals += len(removed)
    if unknown:
        log.warning("re-check: no answer for %d participant(s); nobody removed for it", unknown)
    return RecheckResult(checked=len(to_check), removed=removed, unknown=unknown)


async def _vaults(read: ReadVaults, room: str) -> dict[str, str | None]:
    try:
        return await read(room)
    except (ActorError, DatabaseUnavailableError) as error:
        log.warning("re-check: the vaults of %r were not read (%s); searched instead", room, error)
        return {}


async def recheck_forever(
    database: Database,
    access: AccessChecker,
    ports: RecheckPorts,
    every_seconds: float,
    sleep: Callable[[float], Awaitable[None]],
    serves: Callable[[str], Awaitable[bool]] | None = None,
) -> None:
    """Forever: every GATING_RECHECK_SECONDS, one re-check round (a failed round is logged)."""
    while True:
        await sleep(every_seconds)
        try:
            await recheck_gated_rooms(database, access, ports, serves)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning(
                "gating re-check failed (%s); next one in %ss",
                type(error).__name__,
                every_seconds,
                exc_info=not is_unavailable(error),  # an outage needs no traceback
            )
