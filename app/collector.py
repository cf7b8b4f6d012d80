"""The garbage collector's settings while the service serves.

CPython's cyclic collector runs by allocation counts: a young collection
every 700 net allocations, an older one every 10 of those. Under load a
request's objects (its task, futures, contexts: thousands at 64 senders) are
alive at most of those moments, so they are promoted, and the full
collections that follow scan every room's state (a seat, a grant and a
connection per participant): pauses of 20-90 ms that showed in the webhook
ack-to-applied lag p99 (measured with bench/webhook_bench.py's paced load on
PostgreSQL: p99 190-280 ms with the defaults, 19-107 ms with these; the
figure moves a lot from run to run).

What start-up built (modules, schemas, the app) lives as long as the process:
frozen, no collection scans it again. Actors start after, so no room's state
is frozen with it.
"""

from __future__ import annotations

import gc

# Young collections every 5,000 allocations (each still a few ms at most), the
# middle one every 20 of those, the full one after 100 middle ones and, as
# CPython also requires, once a quarter of the old objects are new since the
# last. Cyclic garbage is rare here (most objects are freed by their count),
# so collecting it later costs little memory.
SERVING_THRESHOLDS = (5000, 20, 100)


class ServingCollector:
    """Applies the serving settings at start-up, and gives the process back its own."""

    def __init__(self) -> None:
        self._before: tuple[int, int, int] | None = None

    def start(self) -> None:
        if self._before is not None:
            return
        self._before = gc.get_threshold()
        gc.freeze()
        gc.set_threshold(*SERVING_THRESHOLDS)

    def stop(self) -> None:
        """Collectable again, with the thresholds from before (tests start many apps
        in one process)."""
        if self._before is None:
            return
        gc.set_threshold(*self._before)
        gc.unfreeze()
        self._before = None
