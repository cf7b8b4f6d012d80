"""A room's outcome once the database kept some of its participant sids for another room.

Apart from the room's rules (effects.py), which decide from the room's state
alone: this is what the write answered. A participant sid is stored once,
so a join whose sid the database already holds for another room's session is
not stored, and the committer (actors/committer.py) corrects the outcome
before the actor adopts it.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from types import MappingProxyType

from actors.room.effects import Outcome
from actors.room.presence import counted
from models.webhook_effects import Stored

log = logging.getLogger(__name__)


def without_taken(outcome: Outcome, stored: Stored) -> Outcome:
    """The outcome once the database kept a participant sid for another room's session.

    Such a join was not stored, so it does not count here (as a repeated join
    would not): the sid is treated as closed.
    """
    state = outcome.state
    taken = {
        p.sid
        for p in outcome.effects.participants_opened
        if (p.sid, p.session_sid) not in stored
        and state.session is not None
        and p.session_sid == state.session.sid
    }
    if not taken:
        return outcome
    # Never for a good reason (LiveKit's sids are unique), so said where it happens.
    log.warning(
        "room %r: participant sid(s) %s already stored for another room; treated as closed",
        state.name,
        sorted(taken),
    )
    live = {sid: c for sid, c in state.live.items() if sid not in taken}
    after = replace(
        state, live=MappingProxyType(live), in_room=counted(live), closed=state.closed | taken
    )
    lost = {c.identity for sid, c in state.live.items() if sid in taken} - after.identities()
    joined = tuple(identity for identity in outcome.joined if identity not in lost)
    return replace(outcome, state=after, joined=joined)
