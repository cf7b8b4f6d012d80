"""Webhook effects written together with the mark that makes their events processed.

Decisions and the processed mark go in one atomic write: on PostgreSQL one
statement of data-modifying CTEs (one round trip, no BEGIN or COMMIT: a
statement is atomic by itself), on SQLite one transaction. Every write is
keyed by sid and idempotent (inserts skip sids already stored; a close
applies only to a session still open), so writing the effects of an event
twice changes nothing. One statement text serves any batch, so it stays
prepared.

An applied event's `processed_at` is the database's clock in the statement
that marks it, so it is when its effects committed (not when a round began,
however many tries that took); `attempts` counts failures only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from models.db import Database, columns, connection, is_postgres, timestamp
from models.fenced import HELD_ROOM, fence_ctes, run_fenced
from models.outbox import Event, append
from models.recordings import EgressUpdate, SessionOver, apply_egress
from models.rooms import RoomPresenceRow
from models.sessions import ParticipantChange, ParticipantRow, SessionEnd, SessionRow
from models.webhook_inbox import FailedAttempt

# When an event of a batch is written: only if the change it reports happens
# in this write (a repeated webhook decides the same effects again, but the
# insert or close it would report changes nothing the second time).
ALWAYS = "always"
SESSION_NEW = "session_new"  # the room session `key` is inserted
SESSION_CLOSED = "session_closed"  # the stored room session `key` is ended
PARTICIPANT_NEW = "participant_new"  # the participant session `key` is inserted
PARTICIPANT_CLOSED = "participant_closed"  # the stored participant session `key` is closed
SESSION_ENDED = "session.ended"  # its data's participants_total is counted by the write


@dataclass(frozen=True, slots=True)
class EventIf:
    """An event, written with the batch if its condition holds in the write."""

    condition: str
    key: str
    event: Event


@dataclass(slots=True)
class EffectBatch:
    """Everything one write stores: effects of any number of rooms and their events' marks.

    At most one row per sid in each list (the rules fold a batch's changes to a
    row they open into that row), so no statement touches a row twice.
    """

    sessions_opened: list[SessionRow] = field(default_factory=list)
    sessions_ended: list[SessionEnd] = field(default_factory=list)
    participants_opened: list[ParticipantRow] = field(default_factory=list)
    participants_changed: list[ParticipantChange] = field(default_factory=list)
    rooms: list[RoomPresenceRow] = field(default_factory=list)
    applied: list[int] = field(default_factory=list)
    failed: list[FailedAttempt] = field(default_factory=list)
    # Events for the outbox, in the order their changes were decided.
    events: list[EventIf] = field(default_factory=list)
    # LiveKit's egress reports, and sessions ended (their recordings end): written
    # after the rest, in the same transaction (models/recordings.py).
    egress: list[EgressUpdate] = field(default_factory=list)
    sessions_over: list[SessionOver] = field(default_factory=list)

    def extend(self, other: EffectBatch) -> None:
        self.sessions_opened += other.sessions_opened
        self.sessions_ended += other.sessions_ended
        self.participants_opened += other.participants_opened
        self.participants_changed += other.participants_changed
        self.rooms += other.rooms
        self.applied += other.applied
        self.failed += other.failed
        self.events += other.events
        self.egress += other.egress
        self.sessions_over += other.sessions_over

    def is_empty(self) -> bool:
        return not (
            self.sessions_opened
            or self.sessions_ended
            or self.participants_opened
            or self.participants_changed
            or self.rooms
            or self.applied
            or self.failed
            or self.egress
            or self.sessions_over
        )


# The database's clock as processed_at: PostgreSQL's time as the statement runs
# (not its start), SQLite's in the text form Tortoise stores a timestamp in
# (SQLite's clock has milliseconds: padded to the microseconds of that form).
PROCESSED_NOW_PG = "clock_timestamp()"
PROCESSED_NOW_SQLITE = "strftime('%Y-%m-%d %H:%M:%f000+00:00', 'now')"

# (participant sid, its room session's sid) of a participant session stored.
Stored = set[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Written:
    """What a write stored: the participant sessions it inserted, and the events it
    marked processed (by id) with their processed_at."""

    stored: Stored
    processed: dict[int, dt.datetime]


_CLOSE = (
    # A close applies to a session still open, and keeps its first reason.
    "left_at = COALESCE(p.left_at, u.left_at), "
    "disconnect_reason = CASE WHEN p.left_at IS NULL AND u.left_at IS NOT NULL "
    "THEN u.reason ELSE p.disconnect_reason END, "
    "state = CASE WHEN p.left_at IS NULL AND u.left_at IS NOT NULL "
    "THEN 'disconnected' ELSE p.state END, "
    "track_count = COALESCE(u.track_count, p.track_count), "
    "track_sids = COALESCE(u.track_sids, p.track_sids)"
)


def _write_and_mark_pg(fenced: bool) -> str:
    """The PostgreSQL statement. `fenced`: the statement checks the rooms' leases
    itself ($37-$39: rooms, epochs, node) and writes nothing unless every one is
    still the writer's, so it runs alone, without a transaction's BEGIN, fence
    query and COMMIT (three round trips fewer for each round)."""
    # Each write below happens only if the fence held (nothing, when not fenced).
    where = " WHERE (SELECT ok FROM held)" if fenced else ""
    also = " AND (SELECT ok FROM held)" if fenced else ""
    fence = f"{fence_ctes(37)}, " if fenced else ""
    held_column = f", NULL::text AS {HELD_ROOM}" if fenced else ""
    held_null = ", NULL" if fenced else ""
    return (
        f"WITH {fence}new_sessions AS (INSERT INTO room_sessions (sid, room_name, started_at, "  # noqa: S608
        "ended_at) "
        "SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[])"
        f"{where} ON CONFLICT (sid) DO NOTHING RETURNING id, sid), "
        "ended_sessions AS (UPDATE room_sessions s SET ended_at = u.ended_at "
        "FROM unnest($5::text[], $6::timestamptz[]) AS u(sid, ended_at) "
        f"WHERE s.sid = u.sid AND s.ended_at IS NULL{also} RETURNING s.sid), "
        "new_participants AS (INSERT INTO participant_sessions (sid, room_session_id, identity, "
        "name, kind, state, joined_at, left_at, disconnect_reason, track_count, track_sids) "
        "SELECT u.sid, COALESCE(s.id, n.id), u.identity, u.name, u.kind, u.state, u.joined_at, "
        "u.left_at, u.reason, u.track_count, u.track_sids "
        "FROM unnest($7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], "
        "$13::timestamptz[], $14::timestamptz[], $15::text[], $16::int[], $17::text[]) "
        "AS u(sid, session_sid, identity, name, kind, state, joined_at, left_at, reason, "
        "track_count, track_sids) "
        # A session stored before, or by this same statement (whose rows a join cannot see).
        "LEFT JOIN room_sessions s ON s.sid = u.session_sid "
        f"LEFT JOIN new_sessions n ON n.sid = u.session_sid{where} "
        "ON CONFLICT (sid) DO NOTHING RETURNING sid, room_session_id), "
        f"changed_participants AS (UPDATE participant_sessions p SET {_CLOSE} "
        "FROM unnest($18::text[], $19::text[], $20::timestamptz[], $21::text[], $22::int[], "
        "$23::text[]) AS u(sid, session_sid, left_at, reason, track_count, track_sids), "
        # `o`: the row as it was before this statement, so the RETURNING says which it closed.
        "room_sessions s, participant_sessions o WHERE s.sid = u.session_sid AND p.sid = u.sid "
        f"AND p.room_session_id = s.id AND o.id = p.id{also} "
        "RETURNING p.sid, (o.left_at IS NULL AND u.left_at IS NOT NULL) AS closed_now), "
        "synced_rooms AS (UPDATE rooms r SET status = u.status, num_participants = u.count, "
        "livekit_sid = COALESCE(u.sid, r.livekit_sid) "
        "FROM unnest($24::int[], $25::text[], $26::int[], $27::text[]) "
        f"AS u(id, status, count, sid) WHERE r.id = u.id{also}), "
        "failed_events AS (UPDATE webhook_inbox w SET attempts = w.attempts + 1, "
        "last_error = u.error FROM unnest($28::bigint[], $29::text[]) AS u(id, error) "
        f"WHERE w.id = u.id AND w.processed_at IS NULL{also}), "
        f"applied_events AS (UPDATE webhook_inbox SET processed_at = {PROCESSED_NOW_PG} "
        f"WHERE processed_at IS NULL AND id = ANY($30::bigint[]){also} "
        "RETURNING id, processed_at), "
        # The outbox: each event only if its change happened in this statement, in the
        # order decided. A session's participants_total counts its admitted identities,
        # those stored before and those this statement stores.
        "events_out AS (INSERT INTO outbox_events (room, type, data, occurred_at, created_at) "
        "SELECT c.room, c.type, CASE WHEN c.type = 'session.ended' THEN jsonb_set(c.data::jsonb, "
        "'{participants_total}', to_jsonb((SELECT count(DISTINCT x.identity) FROM ("
        "SELECT p.identity FROM participant_sessions p JOIN room_sessions s "
        "ON s.id = p.room_session_id WHERE s.sid = c.key "
        "AND p.disconnect_reason IS DISTINCT FROM 'NOT_ADMITTED' "
        "UNION ALL SELECT u.identity FROM unnest($7::text[], $8::text[], $9::text[], $15::text[]) "
        "AS u(sid, session_sid, identity, reason) WHERE u.session_sid = c.key "
        "AND u.reason IS DISTINCT FROM 'NOT_ADMITTED' "
        "AND u.sid IN (SELECT sid FROM new_participants)) x)))::text ELSE c.data END, "
        "c.at, clock_timestamp() "
        "FROM unnest($31::text[], $32::text[], $33::text[], $34::text[], $35::text[], "
        "$36::timestamptz[]) WITH ORDINALITY AS c(cond, key, room, type, data, at, n) "
        "WHERE CASE c.cond WHEN 'always' THEN true "
        "WHEN 'session_new' THEN c.key IN (SELECT sid FROM new_sessions) "
        "WHEN 'session_closed' THEN c.key IN (SELECT sid FROM ended_sessions) "
        "WHEN 'participant_new' THEN c.key IN (SELECT sid FROM new_participants) "
        "WHEN 'participant_closed' THEN c.key IN "
        f"(SELECT sid FROM changed_participants WHERE closed_now) ELSE false END{also} "
        "ORDER BY c.n) "
        # Both answers in one result: the participant sessions stored, the events marked
        # (and, fenced, the rooms whose leases held).
        "SELECT p.sid, COALESCE(s.sid, n.sid) AS session_sid, NULL::bigint AS event_id, "
        f"NULL::timestamptz AS processed_at{held_column} FROM new_participants p "
        "LEFT JOIN room_sessions s ON s.id = p.room_session_id "
        "LEFT JOIN new_sessions n ON n.id = p.room_session_id "
        f"UNION ALL SELECT NULL, NULL, id, processed_at{held_null} FROM applied_events"
        + (" UNION ALL SELECT NULL, NULL, NULL, NULL, room FROM fence" if fenced else "")
    )


_WRITE_AND_MARK_PG = _write_and_mark_pg(fenced=False)
_WRITE_AND_MARK_FENCED_PG = _write_and_mark_pg(fenced=True)


async def write_and_mark(
    database: Database, batch: EffectBatch, fence: Mapping[str, int]
) -> Written:
    """Write `batch` and mark its applied events processed, atomically, within the
    database's timeout, fenced by the leases of its rooms (`fence`: room -> the
    epoch its actor holds; LeaseLostError names the rooms no longer held).

    Returns the participant sessions it stored, as (sid, session sid): one it
    did not store was already taken (by another room's session, or by another
    room of the same batch: LiveKit's sids are unique, so never for a good reason);
    and the events it marked, with the processed_at the database gave them.
    """
    if batch.is_empty():
        return Written(set(), {})
    if database.fencing.node is not None and not (batch.egress or batch.sessions_over):
        conn = connection()
        if is_postgres(conn):
            # One statement, fenced by itself: a round's write in one round trip.
            written = await _write_and_mark_alone(database, conn, batch, fence)
            if batch.events:
                database.events_committed()
            return written
    async with database.room_write(fence) as conn:
        if is_postgres(conn):
            rows = await conn.execute_query_dict(_WRITE_AND_MARK_PG, _pg_args(batch))
            written = _written(rows)
        else:
            written = await _write_and_mark_sqlite(conn, batch)
        recorded = await _write_recordings(conn, batch)
    if batch.events or recorded:
        database.events_committed()
    return written


async def _write_and_mark_alone(
    database: Database, conn: BaseDBAsyncClient, batch: EffectBatch, fence: Mapping[str, int]
) -> Written:
    """The fenced statement, alone (its own transaction): LeaseLostError, with
    nothing written, unless every room's lease is still this node's."""
    return _written(
        await run_fenced(database, conn, _WRITE_AND_MARK_FENCED_PG, _pg_args(batch), fence)
    )


def _written(rows: Sequence[Mapping[str, Any]]) -> Written:
    return Written(
        stored={(r["sid"], r["session_sid"]) for r in rows if r["event_id"] is None},
        processed={
            int(r["event_id"]): timestamp(r["processed_at"])
            for r in rows
            if r["event_id"] is not None
        },
    )


async def _write_recordings(conn: BaseDBAsyncClient, batch: EffectBatch) -> bool:
    """The batch's egress reports and session ends, after the statement above and in
    its transaction (so with the processed mark); whether it wrote events.

    Not CTEs of that statement: a report applies only over an older one of the same
    egress, and a session's end turns what is running then to `ending`, so each
    needs the row as the one before left it, which CTEs of one statement (one
    snapshot, each row touched once) cannot see. A round trip more, only in rounds
    with egress events or a session's end; one code path for both databases.
    Their events follow the batch's others (LiveKit orders egress events with
    nothing else either).
    """
    if not (batch.egress or batch.sessions_over):
        return False
    return bool(await apply_egress(conn, batch.egress, batch.sessions_over))


# Each row type's values, in the one order both dialects' statements take them.
def _session(s: SessionRow) -> list[object]:
    return [s.sid, s.room_name, s.started_at, s.ended_at]


def _ended(e: SessionEnd) -> list[object]:
    return [e.sid, e.ended_at]


def _room(r: RoomPresenceRow) -> list[object]:
    return [r.room_id, r.status, r.num_participants, r.livekit_sid]


def _failed(f: FailedAttempt) -> list[object]:
    return [f.id, f.error]


def _opened(p: ParticipantRow) -> list[object]:
    return [
        p.sid,
        p.session_sid,
        p.identity,
        p.name,
        p.kind,
        p.state,
        p.joined_at,
        p.left_at,
        p.disconnect_reason,
        p.tracks.count,
        p.tracks.to_json(),
    ]


def _changed(c: ParticipantChange) -> list[object]:
    tracks = c.tracks
    return [
        c.sid,
        c.session_sid,
        c.left_at,
        c.disconnect_reason,
        None if tracks is None else tracks.count,
        None if tracks is None else tracks.to_json(),
    ]


def _pg_args(batch: EffectBatch) -> list[object]:
    return [
        *columns([_session(s) for s in batch.sessions_opened], 4),
        *columns([_ended(e) for e in batch.sessions_ended], 2),
        *columns([_opened(p) for p in batch.participants_opened], 11),
        *columns([_changed(c) for c in batch.participants_changed], 6),
        *columns([_room(r) for r in batch.rooms], 4),
        *columns([_failed(f) for f in batch.failed], 2),
        batch.applied,
        *columns([_event(e) for e in batch.events], 6),
    ]


def _event(e: EventIf) -> list[object]:
    return [e.condition, e.key, e.event.room, e.event.type, e.event.data_json(), e.event.at]


async def _sids_where(conn: BaseDBAsyncClient, table: str, sids: list[str], open_: str) -> set[str]:
    """Of `sids`, those `table` holds (with `open_`, only rows still open)."""
    if not sids:
        return set()
    marks = ", ".join("?" for _ in sids)
    where = f" AND {open_} IS NULL" if open_ else ""
    rows = await conn.execute_query_dict(
        f"SELECT sid FROM {table} WHERE sid IN ({marks}){where}",  # noqa: S608
        sids,
    )
    return {row["sid"] for row in rows}


async def _open_participants(conn: BaseDBAsyncClient, changes: list[ParticipantChange]) -> set[str]:
    """Of `changes`, the sids whose stored row, in the session the change names, is
    open: those its close will close (as PostgreSQL's statement matches them)."""
    if not changes:
        return set()
    marks = ", ".join("?" for _ in changes)
    rows = await conn.execute_query_dict(
        "SELECT p.sid, s.sid AS session_sid FROM participant_sessions p "  # noqa: S608
        f"JOIN room_sessions s ON s.id = p.room_session_id WHERE p.sid IN ({marks}) "
        "AND p.left_at IS NULL",
        [c.sid for c in changes],
    )
    wanted = {(c.sid, c.session_sid) for c in changes}
    return {row["sid"] for row in rows if (row["sid"], row["session_sid"]) in wanted}


async def _write_and_mark_sqlite(conn: BaseDBAsyncClient, batch: EffectBatch) -> Written:
    """The same writes, one statement per kind, in the order the CTEs mean."""
    # What the events' conditions need to know of the rows before the writes.
    sessions_before = await _sids_where(
        conn, "room_sessions", [s.sid for s in batch.sessions_opened], ""
    )
    sessions_open = await _sids_where(
        conn, "room_sessions", [e.sid for e in batch.sessions_ended], "ended_at"
    )
    participants_open = await _open_participants(
        conn, [c for c in batch.participants_changed if c.left_at is not None]
    )
    if batch.sessions_opened:
        await conn.execute_many(
            "INSERT INTO room_sessions (sid, room_name, started_at, ended_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (sid) DO NOTHING",
            [_session(s) for s in batch.sessions_opened],
        )
    if batch.sessions_ended:
        await conn.execute_many(
            "UPDATE room_sessions SET ended_at = ?2 WHERE sid = ?1 AND ended_at IS NULL",
            [_ended(e) for e in batch.sessions_ended],
        )
    inserted: Stored = set()
    if batch.participants_opened:
        sids = [p.sid for p in batch.participants_opened]
        marks = ", ".join("?" for _ in sids)
        taken = await conn.execute_query_dict(
            f"SELECT sid FROM participant_sessions WHERE sid IN ({marks})",  # noqa: S608
            sids,
        )
        before = {row["sid"] for row in taken}
        await conn.execute_many(
            "INSERT INTO participant_sessions (sid, room_session_id, identity, name, kind, "
            "state, joined_at, left_at, disconnect_reason, track_count, track_sids) VALUES "
            "(?, (SELECT id FROM room_sessions WHERE sid = ?), ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (sid) DO NOTHING",
            [_opened(p) for p in batch.participants_opened],
        )
        # Which room's row each new sid became (two rooms of a batch may name one sid).
        rows = await conn.execute_query_dict(
            "SELECT p.sid, s.sid AS session_sid FROM participant_sessions p "  # noqa: S608
            f"JOIN room_sessions s ON s.id = p.room_session_id WHERE p.sid IN ({marks})",
            sids,
        )
        inserted = {(r["sid"], r["session_sid"]) for r in rows if r["sid"] not in before}
    if batch.participants_changed:
        await conn.execute_many(
            f"UPDATE participant_sessions AS p SET {_CLOSE} "  # noqa: S608
            "FROM (SELECT ?1 AS sid, ?2 AS session_sid, ?3 AS left_at, ?4 AS reason, "
            "?5 AS track_count, ?6 AS track_sids) AS u, room_sessions s "
            "WHERE s.sid = u.session_sid AND p.sid = u.sid AND p.room_session_id = s.id",
            [_changed(c) for c in batch.participants_changed],
        )
    if batch.rooms:
        await conn.execute_many(
            "UPDATE rooms SET status = ?2, num_participants = ?3, "
            "livekit_sid = COALESCE(?4, livekit_sid) WHERE id = ?1",
            [_room(r) for r in batch.rooms],
        )
    if batch.failed:
        await conn.execute_many(
            "UPDATE webhook_inbox SET attempts = attempts + 1, last_error = ?2 "
            "WHERE id = ?1 AND processed_at IS NULL",
            [_failed(f) for f in batch.failed],
        )
    processed: dict[int, dt.datetime] = {}
    if batch.applied:
        marks = ", ".join("?" for _ in batch.applied)
        marked = await conn.execute_query_dict(
            f"UPDATE webhook_inbox SET processed_at = {PROCESSED_NOW_SQLITE} "  # noqa: S608
            f"WHERE processed_at IS NULL AND id IN ({marks}) RETURNING id, processed_at",
            batch.applied,
        )
        processed = {int(row["id"]): timestamp(row["processed_at"]) for row in marked}
    happened = {
        ALWAYS: None,
        SESSION_NEW: {s.sid for s in batch.sessions_opened} - sessions_before,
        SESSION_CLOSED: sessions_open,
        PARTICIPANT_NEW: {sid for sid, _ in inserted},
        PARTICIPANT_CLOSED: participants_open,
    }
    events = []
    for candidate in batch.events:
        keys = happened.get(candidate.condition, set())
        if keys is None or candidate.key in keys:
            event = candidate.event
            if event.type == SESSION_ENDED:
                total = await _participants_total(conn, candidate.key)
                event = replace(event, data={**event.data, "participants_total": total})
            events.append(event)
    await append(conn, events)
    return Written(inserted, processed)


async def _participants_total(conn: BaseDBAsyncClient, session_sid: str) -> int:
    rows = await conn.execute_query_dict(
        "SELECT count(DISTINCT p.identity) AS n FROM participant_sessions p "
        "JOIN room_sessions s ON s.id = p.room_session_id WHERE s.sid = ? "
        "AND (p.disconnect_reason IS NULL OR p.disconnect_reason != 'NOT_ADMITTED')",
        [session_sid],
    )
    return int(rows[0]["n"])
