"""Outbound webhook deliveries (DESIGN.md section 7), end to end on both databases.

The real app delivers events written through the real write API (the outbox,
in a transaction, then `committed()`) to loopback receivers, which check every
signature with the PyPI `standardwebhooks` package. Retries use short
OUTBOUND_RETRY_SECONDS; nothing here sleeps to wait: tests wait on the
receiver's requests, or on rows, with timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.events.delivery import PER_ENDPOINT, DeliveryWorker
from models.outbox import OutboxDelivery, OutboxEvent, WebhookEndpoint, iso
from tests.app.test_metrics import scrape
from tests.conftest import Running
from tests.events import attempts, emit, joined, register, started
from tests.support.clock import FakeClock
from tests.support.receiver import HANG, Received, Receiver, eventually
from tests.support.settings import AUTH

# The contract: a healthy endpoint gets an event within 1 s of its commit.
WITHIN = 1.0


@pytest.fixture
async def app(database_url: str, clock: FakeClock) -> AsyncIterator[Running]:
    async with started(database_url, clock) as running:
        yield running


def identity(item: Received) -> str:
    return str(item.json["data"].get("identity"))


async def delivery_states(endpoint_id: str) -> dict[int, str]:
    rows = await OutboxDelivery.filter(endpoint_id=endpoint_id).values("event_seq", "state")
    return {int(row["event_seq"]): str(row["state"]) for row in rows}


def entries(item: Received) -> list[str]:
    return item.headers["webhook-signature"].split(" ")


def verifies(item: Received, secret: str, signature: str) -> bool:
    try:
        Webhook(secret).verify(item.body, {**item.headers, "webhook-signature": signature})
    except WebhookVerificationError:
        return False
    return True


# -- delivered -----------------------------------------------------------------------------


async def test_a_healthy_endpoint_gets_each_event_signed_within_a_second(
    app: Running, clock: FakeClock
) -> None:
    client = app.client()
    async with Receiver() as receiver:
        endpoint = await register(client, receiver.url)
        committed = time.monotonic()
        await emit(app, joined("room-a", "ann"))
        await receiver.wait_until(lambda: len(receiver.delivered()) == 1)
        got = receiver.received[0]
        assert got.at - committed < WITHIN
        assert got.verified(endpoint["secret"]) == {
            "type": "participant.joined",
            "timestamp": iso(clock.now()),
            "data": {"room": "room-a", "identity": "ann"},
        }
        seq = (await OutboxEvent.get(room="room-a")).seq
        assert got.id == f"evt_{seq}"
        assert got.headers["content-type"] == "application/json"
        assert len(entries(got)) == 1
        assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 5
    listed = await eventually(lambda: _when(attempts(client, endpoint["id"]), lambda b: b["items"]))
    (item,) = listed["items"]
    assert item["event_id"] == got.id
    assert (item["type"], item["attempt"], item["status_code"], item["error"]) == (
        "participant.joined",
        1,
        200,
        None,
    )
    assert item["next_attempt_at"] is None
    assert listed["next_cursor"] is None
    await eventually(lambda: _true(app.services.events.delivery.delivered == 1))


async def test_a_room_created_through_the_api_is_delivered(app: Running) -> None:
    client = app.client()
    async with Receiver() as receiver:
        endpoint = await register(client, receiver.url, events=["room.created"])
        response = await client.post("/v1/rooms", json={"name": "api-room"}, headers=AUTH)
        room = await response.get_json()
        await receiver.wait_until(lambda: len(receiver.delivered()) == 1)
    body = receiver.received[0].verified(endpoint["secret"])
    assert body["type"] == "room.created"
    assert (body["data"]["room"]["id"], body["data"]["room"]["name"]) == (room["id"], "api-room")


async def test_an_endpoint_gets_only_the_types_and_rooms_it_asked_for(app: Running) -> None:
    client = app.client()
    async with Receiver() as everything, Receiver() as some:
        await register(client, everything.url)
        chosen = await register(client, some.url, events=["participant.joined"], rooms=["room-a"])
        await emit(
            app,
            joined("room-a", "ann"),
            ("room-a", "participant.left", {"identity": "ann"}),
            joined("room-b", "bob"),
        )
        await everything.wait_until(lambda: len(everything.delivered()) == 3)
        await some.wait_until(lambda: len(some.delivered()) == 1)
        assert [(r.room, r.type) for r in some.received] == [("room-a", "participant.joined")]
        assert len(await delivery_states(chosen["id"])) == 1


async def test_a_rooms_events_arrive_in_order_while_the_first_is_retried(app: Running) -> None:
    client = app.client()
    async with Receiver() as receiver:
        receiver.script(500, 500, when=lambda r: identity(r) == "first")
        await register(client, receiver.url)
        await emit(
            app, joined("room-a", "first"), joined("room-a", "second"), joined("room-b", "other")
        )
        await receiver.wait_until(lambda: any(identity(r) == "second" for r in receiver.received))
        await receiver.wait_until(lambda: len(receiver.delivered()) == 3)
    in_room_a = [(identity(r), r.status) for r in receiver.received if r.room == "room-a"]
    assert in_room_a == [("first", 500), ("first", 500), ("first", 200), ("second", 200)]
    first = [r for r in receiver.received if identity(r) == "first"]
    # Each retry waits OUTBOUND_RETRY_SECONDS after the failed attempt.
    assert first[1].at - first[0].at >= 0.19
    assert first[2].at - first[1].at >= 0.19
    # The webhook-id is the event's, the same on every retry; other rooms do not wait.
    assert len({r.id for r in first}) == 1
    other = next(r for r in receiver.received if identity(r) == "other")
    assert other.at < first[2].at


async def test_retries_follow_the_delays_from_the_end_of_each_attempt_then_fail(
    app: Running,
) -> None:
    client = app.client()
    # Each answer takes 0.1 s: a retry counts its delay from the answer, not the request.
    async with Receiver(default=500, hold_seconds=0.1) as receiver:
        receiver.script(200, when=lambda r: identity(r) == "next")
        endpoint = await register(client, receiver.url)
        await emit(app, joined("room-a", "doomed"), joined("room-a", "next"))
        await receiver.wait_until(lambda: len(receiver.delivered()) == 1, timeout=10)
    doomed = [r for r in receiver.received if identity(r) == "doomed"]
    assert len(doomed) == 3  # the first attempt and one per delay
    for before, after in itertools.pairwise(doomed):
        assert after.at - before.at >= 0.1 + 0.2 - 0.01
    # Given up, the room's next event goes.
    assert [identity(r) for r in receiver.received] == ["doomed"] * 3 + ["next"]
    listed = await eventually(
        lambda: _when(attempts(client, endpoint["id"]), lambda b: len(b["items"]) == 4)
    )
    items = listed["items"]
    assert [(i["attempt"], i["status_code"]) for i in items] == [
        (1, 200),
        (3, 500),
        (2, 500),
        (1, 500),
    ]
    assert [i["next_attempt_at"] is None for i in items] == [True, True, False, False]
    assert all(i["error"] is None for i in items)
    states = await delivery_states(endpoint["id"])
    assert sorted(states.values()) == ["delivered", "failed"]
    delivery = app.services.events.delivery
    await eventually(
        lambda: _true(
            (delivery.given_up, delivery.failed_attempts, delivery.delivered) == (1, 3, 1)
        )
    )


async def _when(result: Any, check: Any) -> Any:
    body = await result
    return body if check(body) else None


async def _true(value: bool) -> bool:
    return value


async def test_410_disables_the_endpoint_and_skips_what_it_had_pending(app: Running) -> None:
    client = app.client()
    async with Receiver() as receiver:
        receiver.script(410, when=lambda r: identity(r) == "one")
        endpoint = await register(client, receiver.url)
        path = f"/v1/webhook-endpoints/{endpoint['id']}"
        await emit(app, joined("room-a", "one"), joined("room-a", "two"))

        async def disabled() -> dict[str, Any] | None:
            body: dict[str, Any] = await (await client.get(path, headers=AUTH)).get_json()
            return None if body["enabled"] else body

        body = await eventually(disabled)
        assert "410" in body["disabled_reason"]
        assert sorted((await delivery_states(endpoint["id"])).values()) == ["failed", "skipped"]
        # Disabled, it gets nothing: no delivery is even made.
        await emit(app, joined("room-a", "while-disabled"))
        await eventually(lambda: _numbered(3))
        assert len(await delivery_states(endpoint["id"])) == 2
        # Enabled again: the reason goes, and it gets the events made from then on.
        response = await client.patch(path, json={"enabled": True}, headers=AUTH)
        assert (await response.get_json())["disabled_reason"] is None
        await emit(app, joined("room-a", "after"))
        await receiver.wait_until(lambda: len(receiver.delivered()) == 1)
    assert [identity(r) for r in receiver.received] == ["one", "after"]


async def _numbered(count: int) -> bool:
    return await OutboxEvent.filter(seq__not_isnull=True).count() >= count


async def test_after_a_rotation_both_secrets_sign_for_a_day(app: Running, clock: FakeClock) -> None:
    client = app.client()
    async with Receiver() as receiver:
        endpoint = await register(client, receiver.url)
        old = endpoint["secret"]
        response = await client.post(
            f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=AUTH
        )
        new = (await response.get_json())["secret"]
        await emit(app, joined("room-a", "ann"))
        await receiver.wait_until(lambda: len(receiver.delivered()) == 1)
        got = receiver.received[0]
        first, second = entries(got)
        assert first.startswith("v1,")
        assert second.startswith("v1,")
        # One entry per secret: the new one's first.
        assert [verifies(got, new, first), verifies(got, old, first)] == [True, False]
        assert [verifies(got, old, second), verifies(got, new, second)] == [True, False]
        got.verified(old)
        got.verified(new)
        # A day later the old secret signs no more.
        clock.advance(dt.timedelta(hours=24, seconds=1).total_seconds())
        await emit(app, joined("room-a", "bob"))
        await receiver.wait_until(lambda: len(receiver.delivered()) == 2)
        later = receiver.received[1]
        assert len(entries(later)) == 1
        later.verified(new)
        with pytest.raises(WebhookVerificationError):
            later.verified(old)


# -- failures and isolation --------------------------------------------------------------


async def test_an_event_is_delivered_on_the_retry_once_a_down_receiver_is_up(
    database_url: str, clock: FakeClock
) -> None:
    # One retry, a second later: time enough to bring the receiver up.
    async with started(database_url, clock, outbound_retry_seconds="1") as app:
        client = app.client()
        receiver = Receiver()  # not listening yet: connections are refused
        endpoint = await register(client, receiver.url)
        await emit(app, joined("room-a", "ann"))
        refused = await eventually(
            lambda: _when(attempts(client, endpoint["id"]), lambda b: b["items"])
        )
        (first,) = refused["items"]
        assert first["status_code"] is None
        assert "connect" in first["error"].lower()
        assert first["next_attempt_at"] is not None
        async with receiver:
            await receiver.wait_until(lambda: len(receiver.delivered()) == 1)
        listed = await eventually(
            lambda: _when(attempts(client, endpoint["id"]), lambda b: len(b["items"]) == 2)
        )
        assert [(i["attempt"], i["status_code"]) for i in listed["items"]] == [(2, 200), (1, None)]


async def test_a_loopback_address_is_refused_at_connect_time(
    database_url: str, clock: FakeClock
) -> None:
    async with (
        started(database_url, clock, outbound_allow_private=False) as app,
        Receiver() as receiver,
    ):
        # Registration would refuse it (422): stored directly, as if DNS had
        # answered a public address then and loopback now.
        await WebhookEndpoint.create(
            id="ep_loopback",
            url=f"https://127.0.0.1:{receiver.port}/hook",
            secret="whsec_" + "A" * 44,
            created_at=clock.now(),
        )
        await emit(app, joined("room-a", "ann"))
        listed = await eventually(
            lambda: _when(attempts(app.client(), "ep_loopback"), lambda b: b["items"])
        )
        item = listed["items"][-1]
        assert item["attempt"] == 1
        assert item["status_code"] is None
        assert item["error"].startswith("forbidden address")
        assert "loopback" in item["error"]
        assert receiver.received == []


async def test_a_hanging_endpoint_holds_a_few_attempts_and_nobody_else(app: Running) -> None:
    client = app.client()
    rooms = [f"room-{i}" for i in range(PER_ENDPOINT + 2)]
    async with Receiver() as stuck, Receiver() as healthy:
        stuck.script(*[HANG] * len(rooms))
        await register(client, stuck.url)
        await register(client, healthy.url)
        committed = time.monotonic()
        await emit(app, *(joined(room, "ann") for room in rooms))
        await healthy.wait_until(lambda: len(healthy.delivered()) == len(rooms))
        assert max(r.at for r in healthy.received) - committed < WITHIN
        await stuck.wait_until(lambda: stuck.hanging == PER_ENDPOINT)
        # A request to the service does not wait for the stuck endpoint either.
        started_at = time.monotonic()
        response = await client.get("/v1/webhook-endpoints", headers=AUTH)
        assert response.status_code == 200
        assert time.monotonic() - started_at < WITHIN
        assert stuck.most_hanging == PER_ENDPOINT
        stuck.release()


async def test_shutdown_cancels_a_hanging_attempt_within_its_grace(app: Running) -> None:
    client = app.client()
    async with Receiver() as receiver:
        receiver.script(HANG)
        endpoint = await register(client, receiver.url)
        await emit(app, joined("room-a", "ann"))
        await receiver.wait_until(lambda: receiver.hanging == 1)
        began = time.monotonic()
        await app.services.events.delivery.close(0.2)
        assert time.monotonic() - began < 1.0
        # Its claim stays, to lapse: then another node (or this one, restarted) tries again.
        (row,) = await OutboxDelivery.filter(endpoint_id=endpoint["id"]).values(
            "state", "claimed_by", "attempts"
        )
        assert row == {
            "state": "pending",
            "claimed_by": app.services.settings.this_node_id,
            "attempts": 0,
        }
        receiver.release()


async def test_two_workers_on_one_database_deliver_each_event_once(app: Running) -> None:
    client = app.client()
    services = app.services
    other = DeliveryWorker(services.database, services.settings, "other-node", services.now)
    services.events.sequencer.on_numbered.append(other.wake)
    running_other = asyncio.create_task(other.run_forever())
    try:
        async with Receiver() as receiver:
            await register(client, receiver.url)
            await emit(app, *(joined(f"room-{i}", "ann") for i in range(20)))
            await emit(app, *(joined(f"room-{i}", "bob") for i in range(20)))
            await receiver.wait_until(lambda: len(receiver.delivered()) == 40)
            ids = [r.id for r in receiver.received]
            assert len(ids) == len(set(ids)) == 40
            for i in range(20):
                assert [identity(r) for r in receiver.received if r.room == f"room-{i}"] == [
                    "ann",
                    "bob",
                ]
    finally:
        running_other.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running_other
        await other.close(1.0)


async def test_metrics_count_attempts_give_ups_and_what_is_pending(app: Running) -> None:
    """/metrics: attempts by outcome, deliveries given up, endpoints a 410 disabled,
    attempts in flight, their durations, and the deliveries still pending."""
    client = app.client()
    async with Receiver(default=500) as receiver, Receiver() as gone:
        receiver.script(HANG, when=lambda r: identity(r) == "held")
        # "next" once; "held" on its retry (released, a hanging answer is the default 500).
        receiver.script(200, 200, when=lambda r: identity(r) in ("next", "held"))
        gone.script(410)
        await register(client, receiver.url)
        await register(client, gone.url)
        await emit(app, joined("room-a", "doomed"), joined("room-a", "next"))
        await receiver.wait_until(lambda: len(receiver.delivered()) == 1, timeout=10)
        await gone.wait_until(lambda: len(gone.received) == 1)
        await emit(app, joined("room-b", "held"))
        await receiver.wait_until(lambda: receiver.hanging == 1)

        async def while_held() -> dict[str, Any] | None:
            samples = await scrape(client)
            # The 410 is recorded once the other endpoint's answer is.
            done = samples["qari_event_endpoints_disabled_total"][()] == 1
            return samples if done else None

        samples = await eventually(while_held)
        assert samples["qari_event_delivery_attempts_in_flight"][()] == 1
        # "held" to the hanging endpoint; the disabled one gets no more deliveries.
        assert samples["qari_event_deliveries_pending"][()] == 1
        assert samples["qari_event_delivery_attempts_total"] == {
            (("outcome", "delivered"),): 1,  # "next"
            # "doomed" three times, and once to the endpoint that said 410 (disabled
            # by it, that endpoint is sent nothing more).
            (("outcome", "failed"),): 4,
        }
        assert samples["qari_event_deliveries_given_up_total"][()] == 2  # by retries, by 410
        assert samples["qari_event_delivery_duration_seconds_count"][()] == 5
        receiver.release()
        await receiver.wait_until(lambda: len(receiver.delivered()) == 2, timeout=10)

    async def after() -> dict[str, Any] | None:
        samples = await scrape(client)
        return samples if samples["qari_event_deliveries_pending"][()] == 0 else None

    samples = await eventually(after)
    assert samples["qari_event_delivery_attempts_in_flight"][()] == 0
    assert samples["qari_event_delivery_attempts_total"][(("outcome", "delivered"),)] == 2
    assert samples["qari_event_delivery_duration_seconds_sum"][()] > 0
