"""Durable seats: stored before the token is returned, shared inserts, kept across restarts."""

from __future__ import annotations

import asyncio
import datetime as dt

from models import Seat
from tests.conftest import Client, Running, app_running
from tests.support.clock import FakeClock
from tests.support.settings import AUTH, make_settings


async def make_room(client: Client, name: str, **fields: object) -> None:
    response = await client.post("/v1/rooms", json={"name": name, **fields}, headers=AUTH)
    assert response.status_code == 201, await response.get_data(as_text=True)


async def token(client: Client, room: str, identity: str, **fields: object) -> int:
    response = await client.post(
        f"/v1/rooms/{room}/token", json={"identity": identity, **fields}, headers=AUTH
    )
    return response.status_code


async def test_a_seat_is_stored_before_its_token_is_returned(
    running: Running, clock: FakeClock
) -> None:
    client = running.client()
    await make_room(client, "stored-room")
    assert await token(client, "stored-room", "alice", ttl_seconds=300) == 200
    seat = await Seat.get(identity="alice")
    hold = dt.timedelta(seconds=running.services.settings.seat_hold_seconds)
    assert seat.issued_at == clock.now()
    assert seat.held_until == clock.now() + hold
    # The grant runs the hold past the token's expiry (see actors/room/seats.py).
    assert seat.granted_until == clock.now() + dt.timedelta(seconds=300) + hold


async def test_the_same_identity_asking_again_writes_nothing(
    running: Running, clock: FakeClock
) -> None:
    client = running.client()
    await make_room(client, "again-room")
    assert await token(client, "again-room", "bob") == 200
    writer = running.services.seat_writer
    before = writer.statements
    for _ in range(5):
        clock.advance(10)
        assert await token(client, "again-room", "bob") == 200
    assert writer.statements == before
    # A longer ttl than the stored grant covers is written, once.
    assert await token(client, "again-room", "bob", ttl_seconds=3600) == 200
    assert writer.statements == before + 1


async def test_a_burst_of_new_identities_costs_a_few_statements(running: Running) -> None:
    client = running.client()
    await make_room(client, "burst-seats", max_participants=50)
    before = running.services.seat_writer.statements
    responses = await asyncio.gather(
        *(
            client.post("/v1/rooms/burst-seats/token", json={"identity": f"user-{i}"}, headers=AUTH)
            for i in range(500)
        )
    )
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 50
    assert statuses.count(409) == 450
    assert await Seat.all().count() == 50
    assert running.services.seat_writer.statements - before <= 10


async def test_seats_held_before_a_restart_still_count(database_url: str, clock: FakeClock) -> None:
    settings = make_settings(database_url)
    async with app_running(settings, clock) as first:
        client = first.client()
        await make_room(client, "restart-room", max_participants=3)
        for identity in ("a", "b", "c"):
            assert await token(client, "restart-room", identity) == 200
    clock.advance(60)
    async with app_running(settings, clock) as second:
        client = second.client()
        assert await token(client, "restart-room", "newcomer") == 409
        assert await token(client, "restart-room", "a") == 200  # holders still served
        clock.advance(second.services.settings.seat_hold_seconds - 60)
        # Expired on time: the hold ran from the first token, not from the restart.
        assert await token(client, "restart-room", "newcomer") == 200


async def test_lowering_capacity_keeps_held_seats_and_gives_none_until_under(
    running: Running, clock: FakeClock
) -> None:
    client = running.client()
    await make_room(client, "shrink-room", max_participants=3)
    assert await token(client, "shrink-room", "early") == 200
    clock.advance(50)
    for identity in ("mid-1", "mid-2"):
        assert await token(client, "shrink-room", identity) == 200
    response = await client.patch(
        "/v1/rooms/shrink-room", json={"max_participants": 2}, headers=AUTH
    )
    assert response.status_code == 200
    for identity in ("early", "mid-1", "mid-2"):
        assert await token(client, "shrink-room", identity) == 200  # held seats are kept
    assert await token(client, "shrink-room", "newcomer") == 409
    clock.advance(running.services.settings.seat_hold_seconds - 49)  # "early" expired
    assert await token(client, "shrink-room", "newcomer") == 409  # 2 held, limit 2
    clock.advance(50)  # every seat expired
    assert await token(client, "shrink-room", "newcomer") == 200


async def test_a_room_created_again_starts_with_no_seat(running: Running) -> None:
    client = running.client()
    await make_room(client, "again-and-again", max_participants=1)
    assert await token(client, "again-and-again", "before") == 200
    assert (await client.delete("/v1/rooms/again-and-again", headers=AUTH)).status_code == 204
    assert await Seat.all().count() == 0  # the rows go with the room
    await make_room(client, "again-and-again", max_participants=1)
    assert await token(client, "again-and-again", "after") == 200
