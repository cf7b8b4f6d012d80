"""The composition root: what routes reach for, built once per app."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from quart import current_app

from actors.committer import Committer
from actors.room.actor import RoomActor, RoomActorDeps
from actors.room.admission import AdmissionStats
from actors.room.directory import RoomDirectory
from actors.room.errors import RoomUnavailableError
from actors.room.inbox import ParsedEvents
from actors.room.lobby_board import LobbyBoard
from actors.room.ownership import Ownership, SoleNode
from actors.room.postbox import RoomPostbox
from actors.room.protocol import RoomMessage
from actors.runtime import ActorRegistry
from actors.seat_writer import SeatWriter
from app.chain.cache import VerdictCache
from app.chain.checker import AccessChecker
from app.chain.rpc import ChainRPC
from app.chain.stats import GatingStats
from app.cluster.forwarding import Forwarder, forwarding_key
from app.cluster.leases import NodeLeases
from app.cluster.routing import HolderCache
from app.cluster.wakeups import RoomWaker
from app.events.service import Events, build_events
from app.http.database_budget import budget_left
from app.http.rate_limits import RateLimiter
from app.inbox_writer import InboxWriter
from app.livekit_gateway import LiveKitGateway
from app.metrics import Metrics
from app.metrics_collectors import tortoise_pool
from app.owner_locks import OwnerLocks
from app.settings import Settings
from app.wallet.sessions import WalletSessions
from app.wallet.siwe_login import SiweLogin
from models.db import Database


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Services:
    """Settings, the LiveKit gateway and the room registry of one app instance."""

    settings: Settings
    # The database's handle for its work: how long that work may take.
    database: Database
    gateway: LiveKitGateway
    rooms: ActorRegistry[str, RoomMessage]
    # What routes read of each loaded room (owner, access condition) without asking.
    directory: RoomDirectory
    # Every loaded room's lobby tickets, where polls wait without the mailbox.
    lobby_board: LobbyBoard
    # Webhook events the route parsed, remembered for their round (a memo).
    parsed: ParsedEvents
    # The one writer of webhook effects, for every room (for ops and tests).
    committer: Committer
    # Stores verified webhooks, concurrent deliveries in one insert.
    inbox: InboxWriter
    # Stores seats before their tokens are returned, many per statement.
    seat_writer: SeatWriter
    # Joins refused and removals made (for ops).
    admission: AdmissionStats
    # How many webhook deliveries are verified and stored at once (the rest queue).
    webhook_admission: asyncio.Semaphore
    # JSON-RPC reads on the configured chains (contract wallets, gating).
    chain: ChainRPC
    # Gated rooms: conditions checked on chain, cached, with their counters.
    access: AccessChecker
    # Prometheus metrics of this app instance (its own registry: tests run many apps).
    metrics: Metrics
    # Wallet sign-in: SIWE nonces and checks, and the sessions it starts.
    wallet_sessions: WalletSessions
    siwe: SiweLogin
    # One room creation at a time per wallet owner, so WALLET_MAX_ROOMS is exact.
    owner_locks: OwnerLocks
    # Per-node budgets of sign-in, room creation and token requests (DESIGN.md section 12).
    rate_limiter: RateLimiter
    # Which rooms this node serves (leases on PostgreSQL; every room on SQLite).
    ownership: Ownership
    # PostgreSQL's leases, renewed by the lifecycle (None on SQLite: one node).
    leases: NodeLeases | None
    # How room requests reach the room's owner (None on SQLite: nothing to forward).
    forwarder: Forwarder | None
    # Signs what a forward adds, so the owner can believe it (app/cluster/forwarding.py).
    forward_key: bytes
    holders: HolderCache
    # Wakes a room's owner when its webhook events are stored (here or by a notice).
    waker: RoomWaker
    # Events out: the outbox's sequencer, outbound webhooks, the live feed.
    events: Events
    # Injectable, so tests drive periodic work (the webhook sweep) exactly.
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    # The gating re-check's own sleep (None: `sleep`), so a test can drive it alone.
    gating_sleep: Callable[[float], Awaitable[None]] | None = None
    # Injectable wall clock (webhook retention counts days from it).
    now: Callable[[], dt.datetime] = utc_now
    # Set by the lifecycle: whether the database has been opened (for readiness).
    database_open: bool = field(default=False)


def build_services(
    settings: Settings,
    *,
    clock: Callable[[], float] = time.monotonic,
    now: Callable[[], dt.datetime] = utc_now,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    gating_sleep: Callable[[float], Awaitable[None]] | None = None,
    reconcile_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    expiry_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Services:
    database = Database(settings.database_timeout_seconds)
    node_id = settings.this_node_id
    ownership: Ownership
    leases: NodeLeases | None = None
    forwarder: Forwarder | None = None
    forward_key = forwarding_key(settings.livekit_api_secret.get_secret_value())
    if settings.is_sqlite:
        ownership = SoleNode(node_id)
    else:
        leases = NodeLeases(
            # Its own clock (CLOCK_BOOTTIME): lease trust must count suspended time,
            # whatever clock the rest of the app is given.
            node_id,
            settings.this_node_url,
            settings.lease_seconds,
            database,
        )
        database.fencing = leases  # every room write is fenced by this node's leases
        ownership = leases
        forwarder = Forwarder(
            node_id,
            forward_key,
            settings.forward_timeout_seconds,
            retry_after=math.ceil(settings.lease_seconds),
        )
    gateway = LiveKitGateway(settings)
    metrics = Metrics()
    events = build_events(database, settings, node_id, now)
    database.on_events = events.committed
    postbox = RoomPostbox()
    parsed = ParsedEvents()
    committer = Committer(
        database=database,
        max_attempts=settings.webhook_max_attempts,
        deliver=postbox.deliver,
        observer=metrics,
        parsed=parsed,
    )
    seat_writer = SeatWriter(database)
    admission = AdmissionStats()
    inbox = InboxWriter(now, database)
    directory = RoomDirectory()
    lobby_board = LobbyBoard()
    deps = RoomActorDeps(
        livekit=gateway,
        committer=committer,
        seat_hold_seconds=settings.seat_hold_seconds,
        webhook_max_attempts=settings.webhook_max_attempts,
        clock=clock,
        now=now,
        seat_writer=seat_writer,
        admission=admission,
        directory=directory,
        database=database,
        received_until=inbox.received_until,
        ownership=ownership,
        reconcile_seconds=settings.reconcile_seconds,
        # Every room's own timer: injected apart, so tests drive the rooms' periods alone.
        reconcile_sleep=reconcile_sleep,
        nudge=postbox.nudge,
        lobby_board=lobby_board,
        lobby_wait_seconds=settings.lobby_wait_seconds,
        expiry_sleep=expiry_sleep,
    )
    rooms: ActorRegistry[str, RoomMessage] = ActorRegistry(
        lambda name: RoomActor(name, deps),
        mailbox_size=settings.actor_mailbox_size,
        idle_timeout=settings.actor_idle_seconds,
        ask_timeout=settings.actor_ask_timeout_seconds,
        # A route's ask keeps within its request's database budget: a cold room
        # whose load stalls answers 503 within DATABASE_TIMEOUT_SECONDS of arrival.
        ask_budget=functools.partial(budget_left, database),
        clock=clock,
    )
    postbox.attach(rooms)
    if leases is not None:
        # A room whose lease is lost is stopped at once; what waits for it is 503.
        def stop_room(room: str) -> None:
            rooms.evict(room, RoomUnavailableError(room))

        leases.on_lost = stop_room
    # One count of chain exchanges for all who read (gating, sign-in, room creation).
    chain_stats = GatingStats()
    chain = ChainRPC(
        settings.rpc_urls, settings.chain_timeout_seconds, observe=chain_stats.observe_rpc
    )
    access = AccessChecker(
        chain,
        VerdictCache(clock, settings.gating_cache_seconds),
        chain_stats,
        call_gas=settings.chain_call_gas,
        registry=settings.delegate_registry_address,
        # Qari's wall clock: an Unlock key ends by it (DESIGN.md section 10).
        now=lambda: now().timestamp(),
    )
    metrics.watch(
        actors_alive=lambda: len(rooms),
        actor_restarts=lambda: rooms.total_restarts,
        pool=tortoise_pool,
    )
    metrics.watch_gating(access.stats)
    metrics.watch_deliveries(events.delivery)
    metrics.watch_reconciled(admission.reconciled)
    wallet_sessions = WalletSessions(now)
    holders = HolderCache(settings.lease_seconds / 3, clock)
    return Services(
        settings=settings,
        database=database,
        gateway=gateway,
        rooms=rooms,
        directory=directory,
        lobby_board=lobby_board,
        parsed=parsed,
        committer=committer,
        inbox=inbox,
        seat_writer=seat_writer,
        admission=admission,
        webhook_admission=asyncio.Semaphore(settings.webhook_concurrency),
        chain=chain,
        access=access,
        wallet_sessions=wallet_sessions,
        siwe=SiweLogin(settings, chain, wallet_sessions, now, clock),
        owner_locks=OwnerLocks(),
        rate_limiter=RateLimiter.from_settings(settings),
        sleep=sleep,
        gating_sleep=gating_sleep,
        metrics=metrics,
        now=now,
        ownership=ownership,
        leases=leases,
        forwarder=forwarder,
        forward_key=forward_key,
        holders=holders,
        waker=RoomWaker(rooms, ownership, holders, database),
        events=events,
    )


def services() -> Services:
    """The current app's services (inside a request)."""
    found: Services = current_app.extensions["qari"]
    return found
