"""The room's rules: (its state, a batch of its pending events) -> (effects, state after).

The one rule set for webhook events, pure: it reads no database and touches
no actor. LiveKit delivers at least once, per room in order but with retries
that land late, and sometimes not at all. So every effect is keyed by sid and
idempotent, and every rule is monotonic: a closed connection is never
reopened by an older join, a finished room session never restarts, a room
name reused with a new sid starts a new session, a DUPLICATE_IDENTITY leave
closes only the old connection (by sid), and tracks are counted by track sid.
A join of the current session is admitted or refused by the admission rule
(admission.py) on what the actor knew when it handed the batch over.

An event that cannot be decided (bad JSON, absurd timestamps, text no column
holds) is reported failed and changes nothing; the batch's other events go on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import TypeVar

from actors.room.admission import AdmissionView, Verdict
from actors.room.admission import decide as admit
from actors.room.inbox import ParsedEvents, RoomEvent, RoomRef, Who, parse
from actors.room.presence import RECENT_ENDED, CurrentSession, RoomState
from actors.room.reconcile import NOTHING_RECONCILED, Reconciled
from models import outbox_events as events_out
from models.outbox import Event
from models.recordings import SessionOver
from models.sessions import Connection, ParticipantChange, ParticipantRow, SessionEnd, SessionRow
from models.webhook_effects import (
    PARTICIPANT_CLOSED,
    PARTICIPANT_NEW,
    SESSION_CLOSED,
    SESSION_NEW,
    EffectBatch,
    EventIf,
)
from models.webhook_inbox import MAX_ERROR, FailedAttempt, PendingEvent

K = TypeVar("K")
V = TypeVar("V")

ROOM_CLOSED = "ROOM_CLOSED"
# A join Qari did not admit is recorded as a connection closed at once: it is
# in the history, never in the room's presence.
NOT_ADMITTED = "NOT_ADMITTED"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a batch of events decides: the writes, and the state once they are written."""

    state: RoomState
    effects: EffectBatch
    # Identities whose join was admitted: their seats have become places in the room.
    joined: tuple[str, ...] = ()
    # Joins refused, with why: recorded closed, to be removed from LiveKit.
    refused: tuple[tuple[str, Verdict], ...] = ()
    # Joins the rule refused but kept, because there is no LiveKit to remove them from.
    kept: tuple[tuple[str, Verdict], ...] = ()
    # What the batch's synthetic events (a reconciliation's) changed.
    reconciled: Reconciled = NOTHING_RECONCILED


def decide(
    state: RoomState,
    events: Sequence[PendingEvent],
    admission: AdmissionView,
    *,
    room_id: int | None = None,
    sync_room: bool = False,
    parsed: ParsedEvents | None = None,
) -> Outcome:
    """Apply `events` (oldest first) to `state`. With `room_id` (a room of ours), the
    room row follows the presence; `sync_room` writes it even if it did not change.
    `parsed` holds events the webhook route parsed already (a memo: same result)."""
    draft = _Draft(state, admission)
    for row in events:
        try:
            event = parse(row, parsed)
        except Exception as error:
            message = f"{type(error).__name__}: {error}"[:MAX_ERROR]
            draft.effects.failed.append(FailedAttempt(row.id, message))
            continue
        if event.reconciled:
            draft.reconcile(event)
        else:
            draft.apply(event)
        draft.effects.applied.append(event.id)
    after = draft.state()
    if room_id is not None and (sync_room or after.room_row(room_id) != state.room_row(room_id)):
        draft.effects.rooms.append(after.room_row(room_id))
    return Outcome(
        after,
        draft.finished(),
        tuple(draft.joined),
        tuple(draft.refused),
        tuple(draft.kept),
        draft.reconciled,
    )


def _copy(mapping: Mapping[K, V]) -> dict[K, V]:
    """A dict copy of a state's mapping. A MappingProxyType's own copy() is the
    dict's (C speed); dict(proxy) goes key by key through the mapping protocol
    (py-spy: 3% of the webhook bench's samples, for rooms of ~200)."""
    if isinstance(mapping, dict | MappingProxyType):
        return mapping.copy()
    return dict(mapping)


class _Draft:
    """The state being decided, mutable inside `decide` only, and its effects so far."""

    def __init__(self, state: RoomState, admission: AdmissionView) -> None:
        self.name = state.name
        self.admission = admission
        self.session = state.session
        self.live = _copy(state.live)
        self.in_room = _copy(state.in_room)
        self.closed = set(state.closed)
        self.ended = list(state.ended)
        self.latest_start = state.latest_start
        self.joined: list[str] = []
        self.refused: list[tuple[str, Verdict]] = []
        self.kept: list[tuple[str, Verdict]] = []
        self.reconciled = Reconciled()
        # Identities whose held seat a join of this batch has turned into a place.
        self.consumed: set[str] = set()
        self.effects = EffectBatch()
        # By sid, so a change to a row this batch opens is folded into that row.
        self.sessions: dict[str, SessionRow] = {}
        self.ends: dict[str, SessionEnd] = {}
        self.opened: dict[str, ParticipantRow] = {}
        self.changed: dict[str, ParticipantChange] = {}

    def state(self) -> RoomState:
        return RoomState(
            self.name,
            session=self.session,
            live=MappingProxyType(self.live),
            in_room=MappingProxyType(self.in_room),
            closed=frozenset(self.closed),
            ended=tuple(self.ended[-RECENT_ENDED:]),
            latest_start=self.latest_start,
        )

    def finished(self) -> EffectBatch:
        effects = self.effects
        effects.sessions_opened = list(self.sessions.values())
        effects.sessions_ended = list(self.ends.values())
        effects.participants_opened = list(self.opened.values())
        effects.participants_changed = list(self.changed.values())
        return effects

    def reconcile(self, event: RoomEvent) -> None:
        """A reconciliation's synthetic event (reconcile.py): decided as the LiveKit
        event it stands for, and counted by what it changed (nothing, if a webhook
        has said it already)."""
        session, sid = self.session, event.who.sid if event.who is not None else ""
        was_live, was_opened = sid in self.live, sid in self.opened
        self.apply(event)
        ended = session is not None and (self.session is None or self.session.sid != session.sid)
        self.reconciled += Reconciled(
            ghosts_closed=int(
                event.kind == "participant_left" and was_live and sid not in self.live
            ),
            joins_found=int(
                event.kind == "participant_joined" and not was_opened and sid in self.opened
            ),
            sessions_ended=int(ended),
        )

    # -- the rules, one per event type -----------------------------------------------

    def apply(self, event: RoomEvent) -> None:
        match event.kind:
            case "room_started":
                self._session_of(event.room, event.at)
            case "room_finished":
                found = self._session_of(event.room, event.at)
                if found is not None and found[1]:
                    self._end_current(event.at)
            case "participant_joined" if event.who is not None:
                self._join(event.room, event.who, event.at)
            case "participant_left" | "participant_connection_aborted" if event.who is not None:
                self._leave(event.room, event.who, event.at)
            case "track_published" | "track_unpublished" if event.who is not None:
                if event.track is not None:
                    self._track(event.who.sid, event)
            case "egress_started" | "egress_updated" | "egress_ended" if event.egress:
                # Applied by the write, over the recording as stored (models/recordings.py).
                self.effects.egress.append(event.egress)
            case _:
                pass  # ingress_*: kept in the inbox for later use

    def _join(self, room: RoomRef, who: Who, at: dt.datetime) -> None:
        found = self._session_of(room, at)
        if found is None or not who.sid or not found[1]:
            return  # no room sid, or a join to an instance that has already finished
        if who.sid in self.live or who.sid in self.closed:
            return  # repeated, or late after its leave: an older join never undoes a leave
        row = ParticipantRow(
            sid=who.sid,
            session_sid=found[0],
            identity=who.identity,
            name=who.name,
            kind=who.kind,
            state=who.state,
            joined_at=who.joined_at or at,
        )
        verdict = admit(
            self.admission.facts(
                who.kind, who.identity, self.in_room, self.consumed, at, grant_key=who.grant_key
            )
        )
        if not verdict.admitted:
            if self.admission.enforce:
                self.refused.append((who.identity, verdict))
                self.opened[who.sid] = replace(
                    row, state="disconnected", left_at=at, disconnect_reason=NOT_ADMITTED
                )
                self.closed.add(who.sid)
                self._event(
                    PARTICIPANT_NEW,
                    who.sid,
                    events_out.participant_refused(
                        self.name, who.identity, who.sid, verdict.value, at
                    ),
                )
                return
            self.kept.append((who.identity, verdict))
        self.opened[who.sid] = row
        self.live[who.sid] = Connection(
            sid=row.sid,
            identity=row.identity,
            name=row.name,
            kind=row.kind,
            state=row.state,
            joined_at=row.joined_at,
        )
        self.in_room[row.identity] = self.in_room.get(row.identity, 0) + 1
        self.consumed.add(who.identity)
        self.joined.append(who.identity)
        self._event(
            PARTICIPANT_NEW,
            who.sid,
            events_out.participant("participant.joined", self.name, found[0], row, at),
        )

    def _leave(self, room: RoomRef, who: Who, at: dt.datetime) -> None:
        if not who.sid:
            return
        if who.sid in self.live:
            self._close(who.sid, at, who.disconnect_reason)
            return
        found = self._session_of(room, at)
        if found is None or (found[1] and who.sid in self.closed):
            return
        # The join was lost or is late: record the connection as closed, so that
        # join, when it comes, cannot open it (stored only if the sid is new).
        if who.sid not in self.opened:
            row = ParticipantRow(
                sid=who.sid,
                session_sid=found[0],
                identity=who.identity,
                name=who.name,
                kind=who.kind,
                state="disconnected",
                joined_at=who.joined_at,
                left_at=at,
                disconnect_reason=who.disconnect_reason,
            )
            self.opened[who.sid] = row
            self._event(
                PARTICIPANT_NEW,
                who.sid,
                events_out.participant(
                    "participant.left",
                    self.name,
                    found[0],
                    row,
                    at,
                    left_at=at,
                    reason=who.disconnect_reason,
                ),
            )
        if found[1]:
            self.closed.add(who.sid)

    def _track(self, sid: str, event: RoomEvent) -> None:
        current = self.live.get(sid)
        track = event.track
        if current is None or track is None:
            return  # tracks count for connections in the room now
        before = current.tracks
        if event.kind == "track_published":
            tracks = before.published(track)
        else:
            tracks = before.unpublished(track.sid)
        if tracks == before:
            return
        self.live[sid] = replace(current, tracks=tracks)
        if sid in self.opened:
            self.opened[sid] = replace(self.opened[sid], tracks=tracks)
        else:
            self.changed[sid] = replace(self._change(sid), tracks=tracks)

    # -- sessions ------------------------------------------------------------------

    def _session_of(self, room: RoomRef, at: dt.datetime) -> tuple[str, bool] | None:
        """The session an event is about, opened if new: (its sid, whether it is current)."""
        sid = room.sid
        if not sid:
            return None
        if self.session is not None and sid == self.session.sid:
            return sid, True
        if sid in self.ended:
            return sid, False
        started = room.created_at or at
        if self.latest_start is None or started >= self.latest_start:
            if self.session is not None:
                self._end_current(started)  # its room_finished never came
            self.sessions[sid] = SessionRow(sid, self.name, started)
            self.session = CurrentSession(sid, started)
            self.latest_start = started
            self._event(SESSION_NEW, sid, events_out.session_started(self.name, sid, started))
            return sid, True
        # A late event of an older instance of this name: it ended when the newer
        # one started, at the latest (stored only if its sid is new).
        if sid not in self.sessions:
            ended = self.latest_start
            self.sessions[sid] = SessionRow(sid, self.name, started, ended)
            self._event(SESSION_NEW, sid, events_out.session_started(self.name, sid, started))
            self._event(SESSION_NEW, sid, events_out.session_ended(self.name, sid, started, ended))
        self._remember_ended(sid)
        return sid, False

    def _end_current(self, at: dt.datetime) -> None:
        session = self.session
        assert session is not None
        for sid in list(self.live):
            self._close(sid, at, ROOM_CLOSED)
        ended = events_out.session_ended(self.name, session.sid, session.started_at, at)
        if session.sid in self.sessions:
            self.sessions[session.sid] = replace(self.sessions[session.sid], ended_at=at)
            self._event(SESSION_NEW, session.sid, ended)
        else:
            self.ends[session.sid] = SessionEnd(session.sid, at)
            self._event(SESSION_CLOSED, session.sid, ended)
        self._remember_ended(session.sid)
        # Its recordings still running are ending (their egress_ended completes them).
        self.effects.sessions_over.append(SessionOver(self.name, session.sid))
        self.session = None
        self.closed = set()

    def _remember_ended(self, sid: str) -> None:
        if sid not in self.ended:
            self.ended.append(sid)

    # -- participants ---------------------------------------------------------------

    def _close(self, sid: str, at: dt.datetime, reason: str) -> None:
        connection = self.live.pop(sid)
        remaining = self.in_room[connection.identity] - 1
        if remaining:
            self.in_room[connection.identity] = remaining
        else:
            del self.in_room[connection.identity]
        self.closed.add(sid)
        assert self.session is not None  # only connections of the current session are live
        left = events_out.participant(
            "participant.left",
            self.name,
            self.session.sid,
            connection,
            at,
            left_at=at,
            reason=reason,
        )
        self._event(PARTICIPANT_NEW if sid in self.opened else PARTICIPANT_CLOSED, sid, left)
        if sid in self.opened:
            row = self.opened[sid]
            self.opened[sid] = replace(
                row, left_at=at, disconnect_reason=reason, state="disconnected"
            )
        else:
            self.changed[sid] = replace(self._change(sid), left_at=at, disconnect_reason=reason)

    def _event(self, condition: str, key: str, event: Event) -> None:
        self.effects.events.append(EventIf(condition, key, event))

    def _change(self, sid: str) -> ParticipantChange:
        assert self.session is not None  # only connections of the current session change
        return self.changed.get(sid) or ParticipantChange(sid, self.session.sid)
