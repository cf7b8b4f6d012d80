"""The egress rule, one row per case: which report changes a stored recording,
and how LiveKit's EgressInfo reads as one."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from livekit.protocol.egress import (
    EgressInfo,
    EgressStatus,
    FileInfo,
    RoomCompositeEgressRequest,
)

from actors.room.egress import BadEgressError, egress_update
from actors.room.recordings import file_path
from models.recordings import EgressUpdate, RecordingStatus, supersedes

T0 = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
S = RecordingStatus


@dataclass(frozen=True)
class Row:
    name: str
    stored: tuple[RecordingStatus, int]  # status, updated_at (seconds after T0)
    report: tuple[RecordingStatus, int]
    applies: bool


ROWS = [
    Row("a newer report moves it on", (S.STARTING, 0), (S.ACTIVE, 1), True),
    Row("an older report changes nothing", (S.COMPLETE, 5), (S.ACTIVE, 1), False),
    Row("the same report again changes nothing", (S.ACTIVE, 1), (S.ACTIVE, 1), False),
    Row("a newer report of the same state applies", (S.ACTIVE, 1), (S.ACTIVE, 2), True),
    Row("newer, but back from ending to active: no", (S.ENDING, 1), (S.ACTIVE, 2), False),
    Row("ending then its end", (S.ENDING, 1), (S.COMPLETE, 2), True),
    Row("an end after another end, newer", (S.COMPLETE, 1), (S.FAILED, 2), True),
    Row("never back from an end", (S.FAILED, 1), (S.STARTING, 9), False),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_which_report_supersedes_the_stored_one(row: Row) -> None:
    status, seconds = row.report
    update = EgressUpdate(
        egress_id="EG_1",
        room_name="agora",
        session_sid="RM_1",
        status=status,
        updated_at=T0 + dt.timedelta(seconds=seconds),
        started_at=None,
        ended_at=None,
        audio_only=False,
    )
    stored_status, stored_seconds = row.stored
    assert (
        supersedes(update, stored_status, T0 + dt.timedelta(seconds=stored_seconds)) is row.applies
    )


def test_an_egress_info_reads_as_its_update() -> None:
    ns = 1_800_000_000_123_456_789
    info = EgressInfo(
        egress_id="EG_1",
        room_id="RM_1",
        room_name="agora",
        status=EgressStatus.EGRESS_LIMIT_REACHED,
        started_at=ns - 60_000_000_000,
        ended_at=ns,
        updated_at=ns,
        room_composite=RoomCompositeEgressRequest(room_name="agora", audio_only=True),
        file_results=[
            FileInfo(filename="a.ogg", location="s3://b/a.ogg", size=7, duration=60_000_000_000)
        ],
    )
    update = egress_update(info, "agora", T0)
    assert (update.status, update.session_sid, update.audio_only) == (S.COMPLETE, "RM_1", True)
    assert update.updated_at == dt.datetime.fromtimestamp(1_800_000_000, dt.UTC).replace(
        microsecond=123_456
    )
    assert update.ended_at is not None
    assert update.started_at is not None
    assert (update.ended_at - update.started_at).total_seconds() == 60
    (file,) = update.files
    assert (file.filename, file.location, file.size, file.duration_seconds) == (
        "a.ogg",
        "s3://b/a.ogg",
        7,
        60.0,
    )
    # No updated_at from LiveKit: the event's own time stands for it.
    assert egress_update(EgressInfo(egress_id="EG_2"), "agora", T0).updated_at == T0


@pytest.mark.parametrize(
    "info",
    [EgressInfo(), EgressInfo(egress_id="E" * 65), EgressInfo(egress_id="EG_1", room_id="R" * 65)],
    ids=["no id", "id too long", "room sid too long"],
)
def test_an_egress_no_column_holds_is_refused(info: EgressInfo) -> None:
    with pytest.raises(BadEgressError):
        egress_update(info, "agora", T0)


def test_the_file_is_named_by_room_session_and_time() -> None:
    at = dt.datetime(2026, 12, 1, 9, 5, 7, tzinfo=dt.UTC)
    assert file_path("agora", "RM_1", at, audio_only=False) == "agora/RM_1/20261201T090507Z.mp4"
    assert file_path("agora", "RM_1", at, audio_only=True) == "agora/RM_1/20261201T090507Z.ogg"
