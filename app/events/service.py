"""Events out, as one part of the app: the sequencer, the deliveries and the feed,
and the tasks the lifecycle runs for them."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from app.events.delivery import DeliveryWorker
from app.events.feed import FeedHub
from app.events.retention import EventRetention
from app.events.sequencer import Sequencer
from app.settings import Settings
from models.db import Database


@dataclass
class Events:
    sequencer: Sequencer
    delivery: DeliveryWorker
    feed: FeedHub
    retention: EventRetention

    def committed(self) -> None:
        """A change with events committed on this node: number them soon."""
        self.sequencer.nudge()

    def on_notice(self, payload: str) -> None:
        """A node numbered events (PostgreSQL's `qari_events` notice)."""
        self.sequencer.on_notice(payload)

    def tasks(self) -> list[Coroutine[Any, Any, None]]:
        """What runs while the app serves (cancelled at shutdown)."""
        return [
            self.sequencer.run_forever(),
            self.delivery.run_forever(),
            self.feed.run_forever(),
            self.retention.run_forever(),
        ]

    async def close(self, grace_seconds: float) -> None:
        """At shutdown, before the database closes: attempts in flight end."""
        await self.delivery.close(grace_seconds)


def build_events(
    database: Database, settings: Settings, node_id: str, now: Callable[[], dt.datetime]
) -> Events:
    delivery = DeliveryWorker(database, settings, node_id, now)
    feed = FeedHub(database)
    sequencer = Sequencer(database, on_numbered=[delivery.wake, feed.wake])
    retention = EventRetention(database, settings.events_retention_hours, now)
    return Events(sequencer=sequencer, delivery=delivery, feed=feed, retention=retention)


def start_tasks(events: Events) -> list[asyncio.Task[None]]:
    return [asyncio.create_task(work, name="qari-events") for work in events.tasks()]
