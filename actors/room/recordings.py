"""Starting and stopping a room's recordings (LiveKit Egress), by its actor.

Called only by the room's actor, one message at a time, so two starts can
never both find the room free. LiveKit is asked first and nothing is stored
unless it accepts (503 `livekit_unavailable`, nothing stored); what it
answered is then stored as its first report of the egress, fenced by the
room's lease. The egress's webhooks (applied by the committer, in any order
with this) move the recording on from there (models/recordings.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from dataclasses import replace

from actors.room.errors import RecordingActiveError, RecordingNotFoundError, RoomNotLiveError
from actors.room.livekit import (
    LiveKit,
    LiveKitRefusedError,
    LiveKitUnreachableError,
    RecordingRequest,
)
from actors.room.memory import RoomMemory
from actors.room.protocol import StartRecording, StopRecording
from models.recordings import (
    RecordingRow,
    recording_of,
    recording_running,
    store_lost,
    store_started,
    store_stopped,
)

log = logging.getLogger(__name__)

# Egress participants are the recorders themselves: they do not make a room live.
_NOT_PEOPLE = frozenset({"egress"})


def file_path(room: str, session: str, at: dt.datetime, *, audio_only: bool) -> str:
    """`{room}/{session}/{time}.{ext}`: found by room and session, in time order."""
    stamp = at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{room}/{session}/{stamp}.{'ogg' if audio_only else 'mp4'}"


async def start(
    memory: RoomMemory,
    livekit: LiveKit,
    message: StartRecording,
    now: dt.datetime,
    seconds: float | None,
) -> RecordingRow:
    """StartRoomCompositeEgress, then the recording stored; 409 when someone's
    recording runs or no one is in the room."""
    memory.require_config()
    session = memory.state.session
    in_room = any(c.kind not in _NOT_PEOPLE for c in memory.state.live.values())
    if session is None or not in_room:
        raise RoomNotLiveError(memory.name)
    async with memory.database.bounded(seconds):
        running = await recording_running(memory.name)
    if running:
        raise RecordingActiveError(memory.name)
    path = file_path(memory.name, session.sid, now, audio_only=message.audio_only)
    request = RecordingRequest(memory.name, path, message.audio_only, message.layout)
    started = await livekit.start_room_composite_egress(request)
    # Ours to say: what was asked, of this session (LiveKit's answer may leave them out).
    update = replace(
        started,
        room_name=memory.name,
        session_sid=started.session_sid or session.sid,
        audio_only=message.audio_only,
    )
    try:
        return await store_started(memory.database, memory.fence(), update, seconds)
    except Exception:
        # No recording running that Qari cannot show (its webhooks would record it
        # under the room anyway, as one started elsewhere).
        with contextlib.suppress(LiveKitRefusedError, LiveKitUnreachableError):
            await livekit.stop_egress(update.egress_id)
        raise


async def stop(
    memory: RoomMemory,
    livekit: LiveKit,
    message: StopRecording,
    now: dt.datetime,
    seconds: float | None,
) -> RecordingRow:
    """StopEgress, then the recording `ending`; one already ending or ended is
    answered as it is, with no call. An egress LiveKit no longer has (it
    restarted, say) will never report its end: that recording is aborted now."""
    memory.require_config()
    async with memory.database.bounded(seconds):
        recording = await recording_of(memory.name, message.recording_id)
    if recording is None:
        raise RecordingNotFoundError(message.recording_id)
    if not recording.running:
        return recording
    try:
        await livekit.stop_egress(recording.egress_id)
    except LiveKitRefusedError as refused:
        if refused.gone:
            log.warning(
                "room %r: LiveKit no longer has egress %s; its recording is aborted",
                memory.name,
                recording.egress_id,
            )
            return await store_lost(
                memory.database, memory.fence(), recording.egress_id, now, seconds
            )
        if refused.code != "failed_precondition":
            raise
        # No longer running on LiveKit's side: ending, as after a stop (its
        # egress_ended, on its way, completes it).
    return await store_stopped(memory.database, memory.fence(), recording.egress_id, seconds)
