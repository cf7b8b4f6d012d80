"""The gateway's participant calls against the fake RoomService: what goes on the
wire, and how LiveKit's answers come back."""

from __future__ import annotations

import logging
import warnings
from collections.abc import AsyncIterator

import pytest
from jwt.warnings import InsecureKeyLengthWarning
from livekit.protocol.models import TrackInfo, TrackType
from livekit.protocol.room import (
    MuteRoomTrackRequest,
    RoomParticipantIdentity,
    UpdateParticipantRequest,
)
from pydantic import SecretStr

from app.livekit_gateway import (
    LiveKitGateway,
    LiveKitNotConfiguredError,
    LiveKitRefusedError,
    LiveKitUnreachableError,
    RoomConfig,
    TokenRequest,
    participant_permission,
)
from tests.fakes.livekit_server import FakeLiveKit
from tests.support.settings import make_settings
from tests.support.webhooks import event, room_info, serialise, sign


@pytest.fixture
async def gateway(fake_livekit: FakeLiveKit) -> AsyncIterator[LiveKitGateway]:
    settings = make_settings("sqlite://:memory:", livekit_url=fake_livekit.url)
    gateway = LiveKitGateway(settings)
    await gateway.open()
    yield gateway
    await gateway.close()


async def test_remove_participant(gateway: LiveKitGateway, fake_livekit: FakeLiveKit) -> None:
    fake_livekit.join("r", "alice")

    await gateway.remove_participant("r", "alice")

    assert fake_livekit.calls_to("RemoveParticipant") == [
        RoomParticipantIdentity(room="r", identity="alice")
    ]
    with pytest.raises(LiveKitRefusedError) as refused:
        await gateway.remove_participant("r", "alice")
    assert refused.value.code == "not_found"
    assert refused.value.gone  # already removed: what a removal asks for


async def test_update_participant_sends_the_roles_permission(
    gateway: LiveKitGateway, fake_livekit: FakeLiveKit
) -> None:
    fake_livekit.join("r", "alice")

    await gateway.update_participant("r", "alice", role="viewer", name="A", attributes={"k": "v"})

    expected = UpdateParticipantRequest(
        room="r",
        identity="alice",
        name="A",
        attributes={"k": "v"},
        permission=participant_permission("viewer"),
    )
    assert fake_livekit.calls_to("UpdateParticipant") == [expected]
    assert not fake_livekit.participants["r"]["alice"].permission.can_publish


async def test_update_participant_without_role_keeps_the_permission(
    gateway: LiveKitGateway, fake_livekit: FakeLiveKit
) -> None:
    fake_livekit.join("r", "alice")

    await gateway.update_participant("r", "alice", metadata="m")

    (call,) = fake_livekit.calls_to("UpdateParticipant")
    assert isinstance(call, UpdateParticipantRequest)
    assert not call.HasField("permission")
    assert fake_livekit.participants["r"]["alice"].permission.can_publish


async def test_mute_published_track(gateway: LiveKitGateway, fake_livekit: FakeLiveKit) -> None:
    fake_livekit.join("r", "alice", tracks=[TrackInfo(sid="TR_1", type=TrackType.VIDEO)])

    await gateway.mute_published_track("r", "alice", "TR_1", muted=True)

    assert fake_livekit.calls_to("MutePublishedTrack") == [
        MuteRoomTrackRequest(room="r", identity="alice", track_sid="TR_1", muted=True)
    ]
    assert fake_livekit.participants["r"]["alice"].tracks[0].muted


async def test_a_refusal_and_an_outage_are_told_apart(
    gateway: LiveKitGateway, fake_livekit: FakeLiveKit
) -> None:
    fake_livekit.join("r", "alice")
    fake_livekit.fail_next("RemoveParticipant", "internal")
    with pytest.raises(LiveKitRefusedError) as refused:
        await gateway.remove_participant("r", "alice")
    assert not refused.value.gone

    await fake_livekit.stop()
    with pytest.raises(LiveKitUnreachableError):
        await gateway.remove_participant("r", "alice")


async def test_without_livekit_url_the_participant_calls_refuse() -> None:
    gateway = LiveKitGateway(make_settings("sqlite://:memory:"))
    await gateway.open()
    try:
        with pytest.raises(LiveKitNotConfiguredError):
            await gateway.remove_participant("r", "alice")
        with pytest.raises(LiveKitNotConfiguredError):
            await gateway.update_participant("r", "alice", role="host")
        with pytest.raises(LiveKitNotConfiguredError):
            await gateway.mute_published_track("r", "alice", "TR_1", muted=True)
    finally:
        await gateway.close()


async def test_a_short_secret_is_said_once_and_leaves_no_warning_filter(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The dev default secret: PyJWT's short-key warning (an error under this suite's
    `filterwarnings = error`) is held back around each of the gateway's signatures
    and checks, and the process-wide warning filters are left as they were."""
    filters = list(warnings.filters)
    async with FakeLiveKit("devkey", "secret") as fake:
        settings = make_settings(
            "sqlite://:memory:",
            livekit_url=fake.url,
            livekit_api_key="devkey",
            livekit_api_secret=SecretStr("secret"),
        )
        with caplog.at_level(logging.WARNING, logger="app.livekit_gateway"):
            gateway = LiveKitGateway(settings)
        await gateway.open()
        try:
            gateway.mint_token(
                RoomConfig("r", 60, 20, 0, None),
                TokenRequest("alice", None, "viewer", None, None, 60),
            )
            body = serialise(event("room_started", room_info("r", "RM_r")))
            with pytest.warns(InsecureKeyLengthWarning):  # signed here as LiveKit would
                authorization = sign(body, "devkey", "secret")
            assert gateway.verify_webhook(body, authorization).room.name == "r"
            fake.join("r", "alice")
            await gateway.remove_participant("r", "alice")
        finally:
            await gateway.close()
    assert warnings.filters == filters
    said = [r for r in caplog.records if "LIVEKIT_API_SECRET is shorter" in r.getMessage()]
    assert len(said) == 1
