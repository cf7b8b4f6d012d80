"""What the metrics read at scrape time (app/metrics.py): the gating checker's
counters, the actors and the pool, each through a callable given at start-up."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.registry import Collector
from tortoise import connections

from app.chain.stats import GatingStats

# Outcomes of a chain JSON-RPC exchange (app/chain/stats.py names them), all
# shown from the start so a rate over them never begins with a missing series.
CHAIN_OUTCOMES = ("ok", "timeout", "unreachable", "not_configured", "bad_response", "rpc_error")


class GatingCollector(Collector):
    """Chain reads and gate checks, from the counters the gating checker keeps."""

    def __init__(self, stats: GatingStats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Any]:
        stats = self._stats
        requests = CounterMetricFamily(
            "qari_chain_requests",
            "Chain JSON-RPC exchanges (a batch counts once), by outcome.",
            labels=["outcome"],
        )
        for outcome in sorted({*CHAIN_OUTCOMES, *stats.rpc_requests}):
            requests.add_metric([outcome], stats.rpc_requests[outcome])
        yield requests
        yield SummaryMetricFamily(
            "qari_chain_request_duration_seconds",
            "Time spent in chain JSON-RPC exchanges.",
            count_value=stats.rpc_seconds_count,
            sum_value=stats.rpc_seconds_total,
        )
        checks = CounterMetricFamily(
            "qari_gating_checks",
            "Token requests on gated rooms, by the check's result.",
            labels=["result"],
        )
        checks.add_metric(["admitted"], stats.admitted)
        checks.add_metric(["denied"], stats.denied)
        checks.add_metric(["unavailable"], stats.unavailable)
        yield checks
        yield CounterMetricFamily(
            "qari_gating_cache_hits",
            "Gate checks answered from the verdict cache.",
            value=stats.cache_hits,
        )
        yield CounterMetricFamily(
            "qari_gating_recheck_removals",
            "Participants removed because they no longer met their room's condition.",
            value=stats.recheck_removals,
        )

    def describe(self) -> Iterable[Any]:
        return []


# What a reconciliation with LiveKit changes (actors/room/reconcile.py), all
# shown from the start.
RECONCILED = ("ghosts_closed", "joins_found", "sessions_ended")


class ReconciledCollector(Collector):
    """Presence reconciled with LiveKit, across rooms (no room label)."""

    def __init__(self, counts: Mapping[str, int]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[Any]:
        family = CounterMetricFamily(
            "qari_presence_reconciled",
            "What reconciling rooms' presence with LiveKit's ListParticipants changed:"
            " ghosts closed, joins found, sessions ended.",
            labels=["change"],
        )
        for change in RECONCILED:
            family.add_metric([change], self._counts.get(change, 0))
        yield family

    def describe(self) -> Iterable[Any]:
        return []


class ScrapeTime(Collector):
    """Values read when Prometheus scrapes, from callbacks that must not block."""

    def __init__(
        self,
        actors_alive: Callable[[], int],
        actor_restarts: Callable[[], int],
        pool: Callable[[], PoolState | None],
    ) -> None:
        self._actors_alive = actors_alive
        self._actor_restarts = actor_restarts
        self._pool = pool

    def collect(self) -> Iterator[Any]:
        yield GaugeMetricFamily(
            "qari_actors_alive", "Room actors alive now.", value=self._actors_alive()
        )
        yield CounterMetricFamily(
            "qari_actor_restarts",
            "Room actors restarted after an unexpected failure, since start.",
            value=self._actor_restarts(),
        )
        pool = self._pool()
        if pool is not None:
            yield GaugeMetricFamily(
                "qari_db_pool_max", "Database connections the pool may open.", value=pool.max
            )
            connections = GaugeMetricFamily(
                "qari_db_pool_connections",
                "Database connections open now, by state.",
                labels=["state"],
            )
            connections.add_metric(["in_use"], pool.in_use)
            connections.add_metric(["idle"], pool.idle)
            yield connections

    def describe(self) -> Iterable[Any]:
        # Describing by collecting would call the callbacks at registration.
        return []


class PoolState:
    """The database pool, as the scrape sees it."""

    def __init__(self, max: int, in_use: int, idle: int) -> None:
        self.max = max
        self.in_use = in_use
        self.idle = idle


def tortoise_pool() -> PoolState | None:
    """The default connection's pool: asyncpg's on PostgreSQL, the one connection on SQLite."""
    try:
        client = connections.get("default")
    except Exception:  # not open (start-up, shutdown): nothing to report
        return None
    pool = getattr(client, "_pool", None)
    if pool is not None:
        size, idle = pool.get_size(), pool.get_idle_size()
        return PoolState(max=pool.get_max_size(), in_use=size - idle, idle=idle)
    if hasattr(client, "_connection"):
        # SQLite has one connection and no pool; whether it is busy is not exposed.
        return PoolState(max=1, in_use=0, idle=int(client._connection is not None))
    return None


class DeliveryCounts(Protocol):
    """What the delivery worker counts (app/events/delivery.py), as the collector reads it."""

    delivered: int
    failed_attempts: int
    given_up: int
    endpoints_gone: int
    attempt_seconds_total: float
    attempts_timed: int

    @property
    def in_flight(self) -> int: ...


class DeliveryCollector(Collector):
    """Events out: this node's delivery attempts, from the worker's counters."""

    def __init__(self, worker: DeliveryCounts) -> None:
        self._worker = worker

    def collect(self) -> Iterator[Any]:
        worker = self._worker
        attempts = CounterMetricFamily(
            "qari_event_delivery_attempts",
            "Attempts to deliver an event to a webhook endpoint, by outcome "
            "(delivered: a 2xx answer; failed: any other answer or none).",
            labels=["outcome"],
        )
        attempts.add_metric(["delivered"], worker.delivered)
        attempts.add_metric(["failed"], worker.failed_attempts)
        yield attempts
        yield CounterMetricFamily(
            "qari_event_deliveries_given_up",
            "Deliveries given up: every retry failed, or the endpoint answered 410.",
            value=worker.given_up,
        )
        yield CounterMetricFamily(
            "qari_event_endpoints_disabled",
            "Webhook endpoints disabled because they answered 410 Gone.",
            value=worker.endpoints_gone,
        )
        yield GaugeMetricFamily(
            "qari_event_delivery_attempts_in_flight",
            "Delivery attempts under way on this node.",
            value=worker.in_flight,
        )
        yield SummaryMetricFamily(
            "qari_event_delivery_duration_seconds",
            "Time from sending a delivery to its answer (or to giving up on one).",
            count_value=worker.attempts_timed,
            sum_value=worker.attempt_seconds_total,
        )
