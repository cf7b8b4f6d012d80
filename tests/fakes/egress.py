"""The fake LiveKit's Egress service, and the egress webhooks LiveKit would send.

Served by FakeLiveKit (tests/fakes/livekit_server.py) at
`/twirp/livekit.Egress/StartRoomCompositeEgress` and `.../StopEgress`, with
the `roomRecord` grant LiveKit requires. Egresses move only when a test says
so (`advance`), which returns the webhook LiveKit sends for that move, with
an `updated_at` later than any before: tests deliver them in any order.
"""

from __future__ import annotations

import itertools
import secrets
import string
import time
import uuid
from collections.abc import Callable, Mapping

from livekit.api import VideoGrants
from livekit.protocol.egress import (
    EgressInfo,
    EgressStatus,
    FileInfo,
    RoomCompositeEgressRequest,
    StopEgressRequest,
)
from livekit.protocol.models import Room
from livekit.protocol.webhook import WebhookEvent

_ALPHABET = string.ascii_letters + string.digits
_RUNNING = (EgressStatus.EGRESS_STARTING, EgressStatus.EGRESS_ACTIVE)
_ENDED = (
    EgressStatus.EGRESS_COMPLETE,
    EgressStatus.EGRESS_FAILED,
    EgressStatus.EGRESS_ABORTED,
    EgressStatus.EGRESS_LIMIT_REACHED,
)


def can_record(grants: VideoGrants, _req: object) -> bool:
    """LiveKit's check for every Egress method: the token's `roomRecord` grant."""
    return bool(grants.room_record)


class FakeEgress:
    """Egresses by id, as LiveKit's Egress service keeps them."""

    def __init__(self, rooms: Mapping[str, Room], refuse: Callable[[str, str], Exception]) -> None:
        self._rooms = rooms
        # Builds the Twirp error a handler raises (the server's own type).
        self._refuse = refuse
        self.egresses: dict[str, EgressInfo] = {}
        # LiveKit's clock in nanoseconds, a millisecond a tick: every move is later.
        self._ticks = itertools.count(time.time_ns(), 1_000_000)

    # -- served (Twirp) ------------------------------------------------------------

    def start_room_composite(self, req: RoomCompositeEgressRequest) -> EgressInfo:
        room = self._rooms.get(req.room_name)
        if room is None:
            raise self._refuse("not_found", "requested room does not exist")
        info = self._new(room.name, room.sid)
        info.room_composite.CopyFrom(req)
        return _copy(info)

    def stop(self, req: StopEgressRequest) -> EgressInfo:
        info = self.egresses.get(req.egress_id)
        if info is None:
            raise self._refuse("not_found", "egress not found")
        if info.status not in _RUNNING:
            raise self._refuse("failed_precondition", "egress is not running")
        info.status = EgressStatus.EGRESS_ENDING
        info.updated_at = next(self._ticks)
        return _copy(info)

    # -- test controls -------------------------------------------------------------

    def started_elsewhere(self, room: str, room_sid: str, *, audio_only: bool = False) -> str:
        """An egress of `room` that Qari did not start (the CLI, another service)."""
        info = self._new(room, room_sid)
        info.room_composite.CopyFrom(
            RoomCompositeEgressRequest(room_name=room, audio_only=audio_only)
        )
        return info.egress_id

    def advance(
        self, egress_id: str, status: EgressStatus.ValueType, *, error: str = ""
    ) -> WebhookEvent:
        """Move the egress to `status` (complete writes its file); the webhook LiveKit
        sends for it: egress_started, egress_updated or egress_ended."""
        info = self.egresses[egress_id]
        now = next(self._ticks)
        info.status = status
        info.updated_at = now
        if status == EgressStatus.EGRESS_ACTIVE:
            info.started_at = now
        if status in _ENDED:
            info.ended_at = now
            info.error = error
        if status == EgressStatus.EGRESS_COMPLETE:
            path = _file_path(info)
            info.file_results.append(
                FileInfo(
                    filename=path,
                    location=f"s3://recordings/{path}",
                    size=1_048_576,
                    duration=max(0, now - (info.started_at or now)),
                    started_at=info.started_at,
                    ended_at=now,
                )
            )
        return self.webhook(egress_id)

    def webhook(self, egress_id: str) -> WebhookEvent:
        """The webhook LiveKit sends for the egress as it is now."""
        info = self.egresses[egress_id]
        if info.status == EgressStatus.EGRESS_STARTING:
            kind = "egress_started"
        elif info.status in _ENDED:
            kind = "egress_ended"
        else:
            kind = "egress_updated"
        return WebhookEvent(
            event=kind,
            id=f"EV_{uuid.uuid4().hex[:12]}",
            created_at=info.updated_at // 1_000_000_000,
            egress_info=_copy(info),
        )

    def _new(self, room: str, room_sid: str) -> EgressInfo:
        info = EgressInfo(
            egress_id="EG_" + "".join(secrets.choice(_ALPHABET) for _ in range(12)),
            room_id=room_sid,
            room_name=room,
            status=EgressStatus.EGRESS_STARTING,
            updated_at=next(self._ticks),
        )
        self.egresses[info.egress_id] = info
        return info


def _file_path(info: EgressInfo) -> str:
    outputs = info.room_composite.file_outputs
    return outputs[0].filepath if outputs else f"{info.room_name}/{info.egress_id}.mp4"


def _copy(info: EgressInfo) -> EgressInfo:
    copied = EgressInfo()
    copied.CopyFrom(info)
    return copied
