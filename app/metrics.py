"""The service's Prometheus metrics, one registry per app.

Names start with `qari_`. No label carries a room name or an identity: label
values come from small fixed sets (URL rules, methods, statuses, event types,
refusal codes), so a client cannot grow the series without bound. The one
exception to "fixed sets" is `qari_node_info{node=...}`: one series, naming
the node (NODE_ID) whose figures these are.

Counters are fed where things happen (the HTTP hooks, the token and webhook
routes, the webhook write path); what lives elsewhere
is read at scrape time (actors from the registry, the pool from Tortoise, the
webhook backlog from the inbox, the pending deliveries from the outbox, chain
reads from the gating checker's counters, delivery attempts from the worker's).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from app.chain.stats import GatingStats
from app.metrics_collectors import (
    DeliveryCollector,
    DeliveryCounts,
    GatingCollector,
    PoolState,
    ReconciledCollector,
    ScrapeTime,
)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Methods outside this set are counted as "other": the method is the client's choice.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# LiveKit's event types; anything else (a newer LiveKit) is counted as "other".
WEBHOOK_EVENTS = (
    "room_started",
    "room_finished",
    "participant_joined",
    "participant_left",
    "participant_connection_aborted",
    "track_published",
    "track_unpublished",
    "egress_started",
    "egress_updated",
    "egress_ended",
    "ingress_started",
    "ingress_ended",
)
_WEBHOOK_EVENTS = frozenset(WEBHOOK_EVENTS)

# Request durations: a token is served from memory (sub-millisecond), a create
# waits on LiveKit and the database (tens of milliseconds, seconds when slow).
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# From a webhook's acknowledgement to its effects being written.
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def event_label(event_type: str) -> str:
    return event_type if event_type in _WEBHOOK_EVENTS else "other"


def method_label(method: str) -> str:
    return method if method in KNOWN_METHODS else "other"


class Metrics:
    """Every metric the service exports, and the functions that feed them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.node_info = Gauge(
            "qari_node_info",
            "Always 1; its label names the node these figures are from (NODE_ID).",
            ["node"],
            registry=r,
        )
        self.http_requests = Counter(
            "qari_http_requests",
            "HTTP requests answered, by method, URL rule and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "qari_http_request_duration_seconds",
            "Time from a request's arrival to its response, by method and URL rule.",
            ["method", "route"],
            buckets=HTTP_BUCKETS,
            registry=r,
        )
        # (method label, route, status) -> its two series (observe_request).
        self._request_series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self.tokens_issued = Counter("qari_tokens_issued", "Join tokens issued.", registry=r)
        self.tokens_refused = Counter(
            "qari_tokens_refused",
            "Join token requests refused, by the error code answered.",
            ["reason"],
            registry=r,
        )
        self.rate_limited = Counter(
            "qari_rate_limited",
            "Requests refused with 429 rate_limited, by budget (signin, rooms, tokens).",
            ["budget"],
            registry=r,
        )
        self.webhooks_received = Counter(
            "qari_webhooks_received",
            "Webhook deliveries with a valid signature, by event type (retries included).",
            ["event"],
            registry=r,
        )
        # event label -> its series (observe_webhook_received).
        self._received_series: dict[str, Counter] = {}
        self.webhooks_applied = Counter(
            "qari_webhooks_applied", "Webhook events applied to their room.", registry=r
        )
        self.webhooks_failed = Counter(
            "qari_webhooks_failed",
            "Failed attempts to apply a webhook event, by event type.",
            ["event"],
            registry=r,
        )
        self.webhook_backlog = Gauge(
            "qari_webhook_backlog",
            "Webhook events stored and not yet applied (NaN when the count timed out).",
            registry=r,
        )
        self.event_deliveries_pending = Gauge(
            "qari_event_deliveries_pending",
            "Deliveries of events to webhook endpoints not yet made or still to retry, "
            "on every node (NaN when the count timed out).",
            registry=r,
        )
        self.webhook_apply_lag = Histogram(
            "qari_webhook_apply_lag_seconds",
            "Time from storing a webhook event to writing its effects.",
            buckets=LAG_BUCKETS,
            registry=r,
        )

    def watch(
        self,
        actors_alive: Callable[[], int],
        actor_restarts: Callable[[], int],
        pool: Callable[[], PoolState | None],
    ) -> None:
        """Register what is read at scrape time (called once, by the composition root)."""
        self.registry.register(ScrapeTime(actors_alive, actor_restarts, pool))

    def watch_reconciled(self, counts: Mapping[str, int]) -> None:
        """Export what reconciliations with LiveKit changed (kept by the rooms' rounds
        in AdmissionStats.reconciled, read at scrape time)."""
        self.registry.register(ReconciledCollector(counts))

    def watch_deliveries(self, worker: DeliveryCounts) -> None:
        """Export this node's delivery attempts (the worker's counters, read at scrape time)."""
        self.registry.register(DeliveryCollector(worker))

    def watch_gating(self, stats: GatingStats) -> None:
        """Export the gating checker's counters (kept plainly by it, read at scrape time)."""
        self.registry.register(GatingCollector(stats))

    def identify_node(self, node_id: str) -> None:
        """Name the node every figure here is from (`qari_node_info{node=...} 1`):
        the one series of its kind, so sums over nodes can be split by it."""
        self.node_info.clear()
        self.node_info.labels(node_id).set(1)

    # -- feeding -----------------------------------------------------------------

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """One answered request. `route` is a URL rule (or the one unmatched label).

        Every request comes here, so the two series of each (method, route,
        status) are looked up in prometheus_client once (its `labels()` checks
        and locks each time) and kept; the keys are labels, from small fixed
        sets, so the cache is as bounded as the series themselves.
        """
        method = method_label(method)
        series = self._request_series.get((method, route, status))
        if series is None:
            series = (
                self.http_requests.labels(method, route, str(status)),
                self.http_duration.labels(method, route),
            )
            self._request_series[(method, route, status)] = series
        series[0].inc()
        series[1].observe(seconds)

    def observe_token_issued(self) -> None:
        self.tokens_issued.inc()

    def observe_token_refused(self, reason: str) -> None:
        """`reason` is the error code answered (`room_full`, `room_not_found`, ...)."""
        self.tokens_refused.labels(reason).inc()

    def observe_rate_limited(self, budget: str) -> None:
        """`budget` is one of app/http/rate_limits.py's few names, never a client's value."""
        self.rate_limited.labels(budget).inc()

    def observe_webhook_received(self, event_type: str) -> None:
        label = event_label(event_type)
        series = self._received_series.get(label)
        if series is None:  # as observe_request: looked up once per label
            series = self._received_series[label] = self.webhooks_received.labels(label)
        series.inc()

    def observe_applied(self, lags_seconds: Sequence[float]) -> None:
        """Events applied in one commit; each lag is its processed time minus its received time."""
        self.webhooks_applied.inc(len(lags_seconds))
        for lag in lags_seconds:
            self.webhook_apply_lag.observe(max(0.0, lag))

    def observe_failed(self, event_type: str) -> None:
        """One failed attempt to apply an event (it stays pending, or is kept for ops)."""
        self.webhooks_failed.labels(event_label(event_type)).inc()

    def set_webhook_backlog(self, pending: int | None) -> None:
        self.webhook_backlog.set(math.nan if pending is None else pending)

    def set_deliveries_pending(self, pending: int | None) -> None:
        self.event_deliveries_pending.set(math.nan if pending is None else pending)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
