"""Webhook deliveries survive a node's death and a restart (DESIGN.md section 7), with
real processes on one PostgreSQL database.

A node killed (SIGKILL) while its attempt hangs leaves a claim; once it lapses
(OUTBOUND_TIMEOUT_SECONDS + DATABASE_TIMEOUT_SECONDS after the claim) another
node delivers the event, under the same webhook-id, and one 2xx attempt is
recorded. A node stopped (SIGTERM) while its attempt hangs cancels it within
its shutdown, and started again delivers what was pending.

PostgreSQL only (several nodes need it): the tests take `postgres_url`, so they
skip without a server locally and fail under CI=true.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import httpx

from tests.support.cluster import Cluster, running_cluster
from tests.support.receiver import HANG, Receiver, eventually
from tests.support.settings import AUTH

TIMEOUT = 3.0  # OUTBOUND_TIMEOUT_SECONDS
DATABASE_TIMEOUT = 2.0  # DATABASE_TIMEOUT_SECONDS
CLAIM = TIMEOUT + DATABASE_TIMEOUT  # how long a claim holds
POLL = 1.0  # the delivery worker's poll
MARGIN = 3.0  # what a busy machine (nodes, database, this test) may add
ENV = {
    "OUTBOUND_ALLOW_PRIVATE": "true",
    "OUTBOUND_TIMEOUT_SECONDS": str(TIMEOUT),
    "OUTBOUND_RETRY_SECONDS": "1,1,1",
    "DATABASE_TIMEOUT_SECONDS": str(DATABASE_TIMEOUT),
}


async def post(node_url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=node_url, timeout=10) as client:
        response = await client.post(path, json=body, headers=AUTH)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def delivery(cluster: Cluster) -> dict[str, Any]:
    """The one delivery, with its attempts (status codes, oldest first)."""
    conn = await asyncpg.connect(cluster.database_url)
    try:
        row = await conn.fetchrow("SELECT id, state, claimed_by FROM outbox_deliveries")
        assert row is not None
        statuses = await conn.fetch(
            "SELECT status_code FROM outbox_attempts WHERE delivery_id = $1 ORDER BY id", row["id"]
        )
    finally:
        await conn.close()
    return {**dict(row), "attempts": [s["status_code"] for s in statuses]}


async def test_a_killed_nodes_delivery_is_made_by_another_once_its_claim_lapses(
    postgres_url: str, tmp_path: Path
) -> None:
    async with Receiver() as receiver, running_cluster(tmp_path, size=2, env=ENV) as cluster:
        receiver.script(HANG)
        await post(cluster[0].base_url, "/v1/webhook-endpoints", {"url": receiver.url})
        await post(cluster[1].base_url, "/v1/rooms", {"name": "failover-room"})
        await receiver.wait_until(lambda: receiver.hanging == 1, timeout=5)
        claimer = cluster.by_id((await delivery(cluster))["claimed_by"])
        await cluster.kill(claimer.index)
        receiver.release()  # to a sender that is gone: no answer reaches anyone
        await receiver.wait_until(
            lambda: len(receiver.delivered()) == 1, timeout=CLAIM + POLL + MARGIN
        )
        first, second = receiver.received
        assert first.id == second.id
        assert (first.type, second.type) == ("room.created", "room.created")
        assert second.at - first.at >= CLAIM - 0.5  # not before the claim lapsed
        survivor = cluster.others(claimer.index)[0]
        done = await eventually(lambda: _delivered(cluster), timeout=5)
        assert done["attempts"] == [200]  # the killed attempt left no record
        assert done["claimed_by"] is None
        assert survivor.running


async def test_a_delivery_pending_across_a_restart_is_delivered(
    postgres_url: str, tmp_path: Path
) -> None:
    async with Receiver() as receiver, running_cluster(tmp_path, size=1, env=ENV) as cluster:
        receiver.script(HANG)
        await post(cluster[0].base_url, "/v1/webhook-endpoints", {"url": receiver.url})
        await post(cluster[0].base_url, "/v1/rooms", {"name": "restart-room"})
        await receiver.wait_until(lambda: receiver.hanging == 1, timeout=5)
        # Its shutdown ends the hanging attempt (cancelled at the end of its grace,
        # or timed out and recorded as failed, whichever comes first).
        await cluster.terminate(0)
        receiver.release()
        pending = await delivery(cluster)
        assert pending["state"] == "pending"
        assert pending["attempts"] in ([], [None])
        await cluster.start(0)
        await receiver.wait_until(
            lambda: len(receiver.delivered()) == 1, timeout=CLAIM + POLL + MARGIN
        )
        assert len({r.id for r in receiver.received}) == 1
        done = await eventually(lambda: _delivered(cluster), timeout=5)
        assert done["attempts"] == [*pending["attempts"], 200]


async def _delivered(cluster: Cluster) -> dict[str, Any] | None:
    found = await delivery(cluster)
    return found if found["state"] == "delivered" else None
