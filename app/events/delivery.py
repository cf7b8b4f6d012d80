"""Outbound webhook deliveries: claim what is due, send it signed, record the outcome.

One `DeliveryWorker` per node. It claims due deliveries (app/events/claims.py:
one node at a time per delivery, only the head of each endpoint's room queue)
and sends each as a task of its own, with one HTTP session for all
(app/outbound/client.py: bounded connections, no private addresses unless
allowed). An attempt is bounded by OUTBOUND_TIMEOUT_SECONDS and its record by
the database's timeout, and a claim lasts both, so it lapses only once its
node is gone or stuck: another node then tries again. A 2xx answer is
delivered; any other outcome is retried after each delay of
OUTBOUND_RETRY_SECONDS, counted from the end of the failed attempt, then
given up (failed); 410 disables the endpoint at once.

A slow or dead endpoint holds at most `PER_ENDPOINT` of this node's attempts,
and every attempt at most its timeout, so other endpoints and rooms go on. An
endpoint whose last attempt was answered 2xx within `FAST_SECONDS` may have
`PER_HEALTHY_ENDPOINT` (many rooms' events at once: a healthy endpoint keeps up
with the node's events); the first slow or failed attempt puts it back.
The worker wakes when events are numbered (`wake`, here or on another node),
when an attempt ends, when a retry it scheduled is due, and otherwise every
`poll_seconds` (retries scheduled by other nodes, lapsed claims).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import heapq
import json
import logging
import secrets
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from actors.batching import TurnBatches
from app.events import claims, endpoints
from app.events.claims import Claimed
from app.outbound.client import ForbiddenConnectionError, create_session
from app.outbound.signing import headers
from app.settings import Settings
from models.db import Database
from models.outbox import iso

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
# A claim takes a queue's head and the deliveries after it, up to this many in
# all, sent one after another (to a healthy endpoint: one claim per backlog).
RUN_LENGTH = 16
# Attempts in flight on this node: per endpoint (a healthy one: more), and in all.
PER_ENDPOINT = 4
PER_HEALTHY_ENDPOINT = 64
FAST_SECONDS = 1.0
IN_FLIGHT = 128
# Wake-ups closer than this are one claim pass (a burst of events, of attempts ending).
MIN_INTERVAL_SECONDS = 0.02


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one POST came to: an HTTP status, or why there was none."""

    status_code: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def _connect_error(error: aiohttp.ClientConnectorError) -> str:
    if isinstance(error.os_error, ForbiddenConnectionError):
        return f"forbidden address: {error.os_error.strerror}"
    return str(error)


class DeliveryWorker:
    """Sends pending deliveries; one node at a time per delivery."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        node_id: str,
        now: Callable[[], dt.datetime],
        *,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self._database = database
        self._node_id = node_id
        # Only for what tests drive by hand (which secrets sign); claims and
        # schedules follow the database's clock, the one every node shares.
        self._now = now
        self._poll_seconds = poll_seconds
        self._allow_private = settings.outbound_allow_private
        self._timeout = settings.outbound_timeout_seconds
        self._delays: Sequence[float] = settings.outbound_retry_delays
        # The attempt, then its record: a claim outlives both unless its node is gone.
        self._hold_seconds = self._timeout + database.timeout_seconds
        self._woken = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None
        self._attempts: dict[asyncio.Task[None], str] = {}  # -> its endpoint
        self._retries: list[float] = []  # loop times of the retries scheduled here (a heap)
        self._closing = False
        # Endpoints whose last attempt was a quick 2xx.
        self._healthy: set[str] = set()
        # Successes (the common case) recorded together: one statement for all
        # that ended in a turn of the loop, not a transaction each.
        self._delivered: TurnBatches[tuple[Claimed, int, asyncio.Future[None]]] = TurnBatches(
            self._record_delivered, max_in_flight=2, max_batch=256
        )
        # For /metrics (app/metrics_collectors.py), ops and tests: attempts by
        # outcome, deliveries given up, endpoints disabled by a 410, and the time
        # attempts took (sending only, not recording).
        self.delivered = 0
        self.failed_attempts = 0
        self.given_up = 0
        self.endpoints_gone = 0
        self.attempt_seconds_total = 0.0
        self.attempts_timed = 0

    @property
    def in_flight(self) -> int:
        return len(self._attempts)

    def wake(self, seq: int | None = None) -> None:
        """New events were numbered (here or on another node): look for work."""
        self._woken.set()

    async def run_forever(self) -> None:
        loop = asyncio.get_running_loop()
        await self._release_own_claims()
        while not self._closing:
            self._woken.clear()
            started = loop.time()
            try:
                await self._claim_and_start()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("claiming deliveries failed (%s); next try soon", type(error).__name__)
            await self._wait_for_work(loop)
            await asyncio.sleep(max(0.0, MIN_INTERVAL_SECONDS - (loop.time() - started)))

    async def close(self, grace_seconds: float) -> None:
        """Claim nothing more; let attempts in flight end within `grace_seconds`, then
        cancel them (their claims lapse, and another node tries again)."""
        self._closing = True
        self._woken.set()
        if self._attempts:
            _, late = await asyncio.wait(list(self._attempts), timeout=grace_seconds)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def ping(self, url: str, signing: Sequence[str]) -> Outcome:
        """Send a `ping` to `url` once, now (the test route): not stored, not retried."""
        body = {"type": "ping", "timestamp": iso(self._now()), "data": {}}
        return await self._post(url, signing, "ping_" + secrets.token_urlsafe(12), _encode(body))

    # -- claiming ---------------------------------------------------------------------

    async def _release_own_claims(self) -> None:
        # A node restarted with its id has nothing in flight: what it claimed
        # before is due now, not once the claims lapse.
        try:
            async with self._database.transaction() as conn:
                released = await claims.release_claims(conn, self._node_id)
        except Exception as error:
            log.warning("could not release earlier claims (%s)", type(error).__name__)
            return
        if released:
            log.info("released %d delivery claim(s) left by an earlier run", released)

    async def _claim_and_start(self) -> None:
        free = IN_FLIGHT - len(self._attempts)
        if free <= 0:
            return  # an attempt ending wakes the loop
        async with self._database.transaction() as conn:
            claimed = await claims.claim_due(
                conn,
                self._node_id,
                self._hold_seconds,
                limit=free,
                per_endpoint=self._cap,
                in_flight=Counter(self._attempts.values()),
                most=PER_HEALTHY_ENDPOINT,
                run_length=RUN_LENGTH,
            )
        if self._closing:
            return  # closed meanwhile: these claims lapse, and are tried again
        for run in claimed:
            task = asyncio.create_task(self._run(run), name="qari-delivery")
            self._attempts[task] = run[0].endpoint_id
            task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._attempts.pop(task, None)
        self._woken.set()  # a free slot, and maybe the next of its room is due

    async def _wait_for_work(self, loop: asyncio.AbstractEventLoop) -> None:
        wait = self._poll_seconds
        if self._retries:
            wait = min(wait, max(0.0, self._retries[0] - loop.time()))
        # Not asyncio.wait_for: before Python 3.12 it loses a cancellation that
        # arrives as the event is set, and the worker would outlive shutdown.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await self._woken.wait()
        while self._retries and self._retries[0] <= loop.time():
            heapq.heappop(self._retries)

    # -- one attempt ------------------------------------------------------------------

    async def _run(self, run: list[Claimed]) -> None:
        """A queue's claimed deliveries, one after another: the next only once the
        one before was delivered (and recorded), quickly, within the claims' hold;
        otherwise the rest is given back, for the next claim."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        for i, claim in enumerate(run):
            if i and (
                claim.endpoint_id not in self._healthy
                or loop.time() - started > self._hold_seconds / 2
            ):
                await self._give_back(run[i:])
                return
            if not await self._attempt(claim):
                await self._give_back(run[i + 1 :])
                return

    async def _give_back(self, rest: list[Claimed]) -> None:
        if not rest:
            return
        try:
            async with self._database.transaction() as conn:
                await claims.release(conn, self._node_id, [c.delivery_id for c in rest])
        except Exception as error:
            # They lapse with their hold, and are sent then.
            log.warning("could not give back %d claim(s) (%s)", len(rest), type(error).__name__)

    def _cap(self, endpoint_id: str) -> int:
        return PER_HEALTHY_ENDPOINT if endpoint_id in self._healthy else PER_ENDPOINT

    async def _attempt(self, claim: Claimed) -> bool:
        """One delivery: sent, its outcome recorded; whether it was delivered."""
        try:
            signing = endpoints.signing_secrets(
                claim.secret, claim.previous_secret, claim.previous_until, self._now()
            )
            loop = asyncio.get_running_loop()
            started = loop.time()
            outcome = await self._post(
                claim.url, signing, claim.event.id, _encode(claim.event.body())
            )
            took = loop.time() - started
            self.attempt_seconds_total += took
            self.attempts_timed += 1
            if outcome.delivered and took <= FAST_SECONDS:
                self._healthy.add(claim.endpoint_id)
            else:
                self._healthy.discard(claim.endpoint_id)
            await self._record(claim, outcome)
            return outcome.delivered
        except asyncio.CancelledError:
            raise
        except Exception as error:
            # Nothing recorded: the claim lapses and the delivery is tried again.
            log.warning(
                "delivery %s of %s to %s not recorded (%s)",
                claim.delivery_id,
                claim.event.id,
                claim.endpoint_id,
                type(error).__name__,
            )
            return False

    async def _post(self, url: str, signing: Sequence[str], msg_id: str, body: bytes) -> Outcome:
        if self._session is None:
            if self._closing:
                return Outcome(None, "the service is shutting down")
            self._session = create_session(self._allow_private, timeout_seconds=self._timeout)
        try:
            sent = headers(signing, msg_id, int(time.time()), body)
        except ValueError as error:
            return Outcome(None, f"cannot sign: {error}")
        try:
            # aiohttp's own timeout is the same; this one also bounds what it does not time.
            async with (
                asyncio.timeout(self._timeout),
                self._session.post(url, data=body, headers=sent, allow_redirects=False) as answer,
            ):
                return Outcome(answer.status, None)
        except TimeoutError:
            return Outcome(None, f"no answer within {self._timeout:g} s")
        except aiohttp.ClientConnectorError as error:
            return Outcome(None, _connect_error(error))
        except (aiohttp.ClientError, OSError, ValueError) as error:
            return Outcome(None, f"{type(error).__name__}: {error}")

    async def _record_delivered(
        self, batch: list[tuple[Claimed, int, asyncio.Future[None]]]
    ) -> None:
        try:
            async with self._database.transaction() as conn:
                await claims.record_delivered(conn, self._node_id, [(c, s) for c, s, _ in batch])
        except BaseException as error:
            for _, _, done in batch:
                if not done.done():
                    done.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        for _, _, done in batch:
            if not done.done():
                done.set_result(None)

    async def _record(self, claim: Claimed, outcome: Outcome) -> None:
        if outcome.delivered and outcome.status_code is not None:
            done = asyncio.get_running_loop().create_future()
            self._delivered.add((claim, outcome.status_code, done))
            # The write bounds itself (the database's timeout); this is its answer.
            await done
            self.delivered += 1
            return
        gone = outcome.status_code == 410
        retry_in: float | None = None
        if outcome.delivered:
            state = "delivered"
        elif not gone and claim.attempt <= len(self._delays):
            state, retry_in = "pending", self._delays[claim.attempt - 1]
        else:
            state = "failed"
        async with self._database.transaction() as conn:
            if gone:
                await endpoints.hold_sequencer(conn)
            recorded = await claims.record_attempt(
                conn,
                self._node_id,
                claim,
                state=state,
                status_code=outcome.status_code,
                error=outcome.error,
                retry_in=retry_in,
            )
            if gone:
                await endpoints.disable_endpoint(conn, claim.endpoint_id, endpoints.GONE)
        if outcome.delivered:
            self.delivered += 1
            return
        self.failed_attempts += 1
        if gone:
            self.given_up += 1
            self.endpoints_gone += 1
            log.warning("webhook endpoint %s answered 410: disabled", claim.endpoint_id)
        elif retry_in is None:
            self.given_up += 1
        elif recorded:
            heapq.heappush(self._retries, asyncio.get_running_loop().time() + retry_in)
