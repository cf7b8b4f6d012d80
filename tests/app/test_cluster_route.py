"""One node as a cluster sees it: GET /v1/ops/cluster, and `Qari-Room-Owner` on room routes.
(Several nodes, as real processes: tests/test_cluster.py.)"""

from __future__ import annotations

from quart.typing import TestClientProtocol as Client

from tests.conftest import Running
from tests.support.settings import AUTH


async def test_the_cluster_lists_this_node_alive(running: Running, client: Client) -> None:
    response = await client.get("/v1/ops/cluster", headers=AUTH)
    assert response.status_code == 200
    report = await response.get_json()
    node = running.services.ownership.node_id
    assert report["node"] == node
    [me] = [n for n in report["nodes"] if n["id"] == node]
    assert me["alive"] is True


async def test_room_routes_name_this_node_as_the_owner(running: Running, client: Client) -> None:
    node = running.services.ownership.node_id
    created = await client.post("/v1/rooms", json={"name": "owned-room"}, headers=AUTH)
    assert created.status_code == 201
    assert created.headers["Qari-Room-Owner"] == node
    token = await client.post("/v1/rooms/owned-room/token", json={"identity": "ann"}, headers=AUTH)
    assert token.status_code == 200
    assert token.headers["Qari-Room-Owner"] == node
    missing = await client.get("/v1/rooms/no-such-room", headers=AUTH)
    assert missing.status_code == 404
    assert missing.headers["Qari-Room-Owner"] == node
    # Not a room route: no owner named.
    listed = await client.get("/v1/rooms", headers=AUTH)
    assert "Qari-Room-Owner" not in listed.headers
