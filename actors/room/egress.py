"""LiveKit's EgressInfo read as an EgressUpdate: from a webhook, or from Start's answer.

Checked like the rest of a stored event (inbox.py): what no column holds
fails here, as BadEgressError, before any rule runs (the event then costs an
attempt of its own).
"""

from __future__ import annotations

import datetime as dt

from livekit.protocol.egress import EgressInfo, EgressStatus, FileInfo

from models.recordings import MAX_EGRESS_ID, EgressUpdate, RecordingFile, RecordingStatus
from models.sessions import MAX_SID
from models.webhook_inbox import MAX_ERROR

_STATUS = {
    EgressStatus.EGRESS_STARTING: RecordingStatus.STARTING,
    EgressStatus.EGRESS_ACTIVE: RecordingStatus.ACTIVE,
    EgressStatus.EGRESS_ENDING: RecordingStatus.ENDING,
    EgressStatus.EGRESS_COMPLETE: RecordingStatus.COMPLETE,
    EgressStatus.EGRESS_FAILED: RecordingStatus.FAILED,
    EgressStatus.EGRESS_ABORTED: RecordingStatus.ABORTED,
    # Stopped at LiveKit's time limit: its files are written, as for a stop.
    EgressStatus.EGRESS_LIMIT_REACHED: RecordingStatus.COMPLETE,
}


class BadEgressError(ValueError):
    """An egress report that cannot be stored as it is."""


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# Files kept per recording (a room composite writes one; segments are not files here).
MAX_FILES = 16
MAX_FILE_TEXT = 1024


def nanoseconds(value: int) -> dt.datetime | None:
    """LiveKit's egress times (nanoseconds) as UTC; None for "not given" (0 or less)."""
    if value <= 0:
        return None
    try:
        return EPOCH + dt.timedelta(microseconds=value // 1000)
    except (OverflowError, OSError, ValueError):
        raise BadEgressError(f"egress time {value} is out of range") from None


def egress_update(info: EgressInfo, room_name: str, at: dt.datetime) -> EgressUpdate:
    """The state `info` reports for an egress of `room_name`; `at` stands for its
    updated_at when LiveKit gave none."""
    egress_id = info.egress_id
    if not 0 < len(egress_id) <= MAX_EGRESS_ID or "\x00" in egress_id:
        raise BadEgressError("the egress has no id, or one no column holds")
    if len(info.room_id) > MAX_SID or "\x00" in info.room_id:
        raise BadEgressError("the egress's room sid is longer than any sid")
    status = _STATUS.get(info.status)
    if status is None:
        raise BadEgressError(f"unknown egress status {info.status}")
    files = list(info.file_results) or ([info.file] if info.HasField("file") else [])
    return EgressUpdate(
        egress_id=egress_id,
        room_name=room_name,
        session_sid=info.room_id or None,
        status=status,
        updated_at=nanoseconds(info.updated_at) or at,
        started_at=nanoseconds(info.started_at),
        ended_at=nanoseconds(info.ended_at),
        audio_only=bool(info.room_composite.audio_only)
        if info.HasField("room_composite")
        else False,
        files=tuple(_file(f) for f in files[:MAX_FILES]),
        error=_clean(info.error)[:MAX_ERROR] or None,
    )


def _file(info: FileInfo) -> RecordingFile:
    return RecordingFile(
        filename=_clean(info.filename)[:MAX_FILE_TEXT],
        location=_clean(info.location)[:MAX_FILE_TEXT],
        size=max(0, int(info.size)),
        duration_seconds=info.duration / 1e9 if info.duration > 0 else None,
    )


def _clean(text: str) -> str:
    # PostgreSQL text holds no NUL.
    return text.replace("\x00", "")
