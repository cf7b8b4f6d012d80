"""A node's claims of room leases (app/cluster/leases.py `Leases.claim`), on PostgreSQL.

Requests for one room share one claim. The claim must not inherit the
budget of whichever request started it: a request that spent nearly all of
its own (a forward that timed out) would doom every request that joins it.
"""

from __future__ import annotations

import asyncio

import pytest

from app.cluster.leases import NodeLeases
from models.db import DatabaseUnavailableError
from models.leases import Lease
from tests.conftest import Running

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


async def test_a_claim_started_by_a_request_out_of_budget_serves_the_next_one(
    running: Running,
) -> None:
    leases = NodeLeases("node-claims", "http://127.0.0.1:1", 10, running.services.database)
    spent = asyncio.ensure_future(leases.claim("shared-claim-room", 0.0))
    with_time = asyncio.ensure_future(leases.claim("shared-claim-room", 5.0))
    with pytest.raises(DatabaseUnavailableError):
        await asyncio.wait_for(spent, 5)
    assert await asyncio.wait_for(with_time, 5) == Lease("shared-claim-room", 1)
