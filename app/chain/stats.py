"""Counts of gating's work, kept plainly for the metrics endpoint to export."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class GatingStats:
    """Monotonic counters; read them, never reset them (Prometheus computes rates)."""

    # Token requests on gated rooms whose condition was checked, and how they went.
    checks: int = 0
    cache_hits: int = 0
    admitted: int = 0
    denied: int = 0
    unavailable: int = 0
    # JSON-RPC exchanges (one HTTP request each, a batch counting once) by outcome:
    # ok, timeout, unreachable, not_configured, bad_response, rpc_error. Every
    # exchange the service makes is counted here (gating, contract-wallet
    # sign-in, a room's creation): the ChainRPC reports them through observe_rpc.
    rpc_requests: Counter[str] = field(default_factory=Counter)
    # Seconds spent in exchanges that got an answer or failed (a latency sum and count).
    rpc_seconds_total: float = 0.0
    rpc_seconds_count: int = 0
    # Participants removed by the periodic re-check.
    recheck_removals: int = 0

    @property
    def rpc_errors(self) -> int:
        return sum(n for outcome, n in self.rpc_requests.items() if outcome != "ok")

    def observe_rpc(self, outcome: str, seconds: float) -> None:
        self.rpc_requests[outcome] += 1
        self.rpc_seconds_total += seconds
        self.rpc_seconds_count += 1
