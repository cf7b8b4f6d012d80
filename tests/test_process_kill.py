"""A real Hypercorn process killed with SIGKILL mid-stream of webhooks loses nothing.

After the restart, every event that was answered 200 has been applied exactly
once: each track_published adds one to a counter, so a lost event or a double
application shows in the count.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path

import asyncpg
import httpx

from tests.support.server import free_port, serving
from tests.support.webhooks import audio_track, event, participant, room_info, signed

ROOM = "kill-room"
SID = "RM_kill"
TRACK_EVENTS = 400
KILL_AFTER_ACKS = 120


async def inbox_rows(database_url: str) -> list[tuple[str, str, bool]]:
    sql = "SELECT event_id, event_type, processed_at IS NOT NULL FROM webhook_inbox"
    if database_url.startswith("sqlite://"):
        with sqlite3.connect(database_url.removeprefix("sqlite://")) as conn:
            return [(r[0], r[1], bool(r[2])) for r in conn.execute(sql)]
    conn = await asyncpg.connect(database_url)
    try:
        return [(r[0], r[1], bool(r[2])) for r in await conn.fetch(sql)]
    finally:
        await conn.close()


async def track_count(database_url: str) -> int:
    sql = "SELECT track_count FROM participant_sessions WHERE sid = 'PA_kill'"
    if database_url.startswith("sqlite://"):
        with sqlite3.connect(database_url.removeprefix("sqlite://")) as conn:
            return int(conn.execute(sql).fetchone()[0])
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


async def test_sigkill_mid_stream_loses_no_acknowledged_event(
    database_url: str, tmp_path: Path
) -> None:
    if database_url.startswith("sqlite://"):
        # The server runs in tmp_path; give it an absolute file path.
        database_url = f"sqlite://{tmp_path}/kill.sqlite3"
    room = room_info(ROOM, SID)
    who = participant("kim", "PA_kill")
    setup = [event("room_started", room), event("participant_joined", room, who=who)]
    stream = [
        event("track_published", room, who=who, track=audio_track(f"TR_{i}"))
        for i in range(TRACK_EVENTS)
    ]
    acked: set[str] = set()
    port = free_port()

    async with (
        serving(database_url, port, tmp_path) as process,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client,
    ):
        for message in setup:
            body, headers = signed(message)
            assert (
                await client.post("/v1/livekit/webhook", content=body, headers=headers)
            ).status_code == 200
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(len(stream)):
            queue.put_nowait(i)
        killed = asyncio.Event()

        async def sender() -> None:
            while not queue.empty() and not killed.is_set():
                message = stream[queue.get_nowait()]
                body, headers = signed(message)
                try:
                    response = await client.post(
                        "/v1/livekit/webhook", content=body, headers=headers
                    )
                except httpx.HTTPError:
                    return  # the process is gone: this delivery was never acknowledged
                if response.status_code == 200:
                    acked.add(message.id)
                    if len(acked) >= KILL_AFTER_ACKS and not killed.is_set():
                        killed.set()
                        process.send_signal(signal.SIGKILL)

        await asyncio.wait_for(asyncio.gather(*(sender() for _ in range(8))), 60)
        await process.wait()
    assert killed.is_set()
    assert len(acked) >= KILL_AFTER_ACKS

    # A port of its own: the old one is free during the restart, and another
    # process on the machine may take it.
    async with serving(database_url, free_port(), tmp_path):
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            rows = await inbox_rows(database_url)
            if all(done for _, _, done in rows):
                break
            assert asyncio.get_running_loop().time() < deadline, "stored events not applied"
            await asyncio.sleep(0.1)
    stored = {event_id for event_id, kind, _ in rows if kind == "track_published"}
    assert acked <= stored
    assert await track_count(database_url) == len(stored)
