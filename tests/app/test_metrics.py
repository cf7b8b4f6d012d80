"""`/metrics` after real traffic, read with prometheus_client's own parser; request ids."""

from __future__ import annotations

import json
import logging
import math

from prometheus_client.parser import text_string_to_metric_families

from app.http.access_log import ACCESS_FORMAT, AccessLine
from app.logs import JsonFormatter, RedactingFormatter
from app.metrics import Metrics
from app.metrics_collectors import CHAIN_OUTCOMES
from models import WebhookInbox
from tests.conftest import Client, Running, app_running
from tests.support.applied import apply_pending
from tests.support.clock import EPOCH, FakeClock
from tests.support.settings import AUTH, make_settings
from tests.support.wallets import SIWE_DOMAIN, sign_in
from tests.support.webhooks import event, participant, room_info, serialise, signed

ROOM = "metered"
IDENTITY = "metered-identity"


async def scrape(client: Client) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every sample: name -> {sorted labels: value}."""
    response = await client.get("/metrics", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(await response.get_data(as_text=True)):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[labels] = sample.value
    return samples


async def test_metrics_after_traffic_count_requests_tokens_webhooks_and_actors(
    running: Running,
) -> None:
    client = running.client()
    assert (await client.post("/v1/rooms", json={"name": ROOM}, headers=AUTH)).status_code == 201
    token = await client.post(f"/v1/rooms/{ROOM}/token", json={"identity": IDENTITY}, headers=AUTH)
    assert token.status_code == 200
    missing = await client.post(
        "/v1/rooms/no-such-room/token", json={"identity": "x"}, headers=AUTH
    )
    assert missing.status_code == 404
    assert (await client.get(f"/v1/rooms/{ROOM}", headers=AUTH)).status_code == 200
    assert (await client.get("/v1/rooms")).status_code == 401
    assert (await client.get("/nowhere/at/all")).status_code == 404
    body, headers = signed(event("room_started", room_info(ROOM, "RM_metered")))
    assert (await client.post("/v1/livekit/webhook", data=body, headers=headers)).status_code == 200

    samples = await scrape(client)

    requests = samples["qari_http_requests_total"]
    assert requests[(("method", "POST"), ("route", "/v1/rooms"), ("status", "201"))] == 1
    token_route = "/v1/rooms/<string:name>/token"
    assert requests[(("method", "POST"), ("route", token_route), ("status", "200"))] == 1
    assert requests[(("method", "POST"), ("route", token_route), ("status", "404"))] == 1
    # The URL rule, not the path: one series for every room.
    assert requests[(("method", "GET"), ("route", "/v1/rooms/<string:name>"), ("status", "200"))]
    assert requests[(("method", "GET"), ("route", "/v1/rooms"), ("status", "401"))] == 1
    assert requests[(("method", "GET"), ("route", "unmatched"), ("status", "404"))] == 1
    durations = samples["qari_http_request_duration_seconds_count"]
    assert durations[(("method", "POST"), ("route", "/v1/rooms"))] == 1

    assert samples["qari_tokens_issued_total"][()] == 1
    assert samples["qari_tokens_refused_total"][(("reason", "room_not_found"),)] == 1
    assert samples["qari_webhooks_received_total"][(("event", "room_started"),)] == 1
    assert samples["qari_actors_alive"][()] >= 1
    assert samples["qari_actor_restarts_total"][()] == 0
    assert samples["qari_db_pool_max"][()] >= 1
    assert set(samples["qari_chain_requests_total"]) == {
        (("outcome", outcome),) for outcome in CHAIN_OUTCOMES
    }
    assert samples["qari_gating_checks_total"][(("result", "admitted"),)] == 0
    assert "qari_webhook_apply_lag_seconds_count" in samples
    assert "qari_webhooks_applied_total" in samples
    assert not math.isnan(samples["qari_webhook_backlog"][()])

    # Every name is ours, and no label carries a room or an identity.
    for name, series in samples.items():
        assert name.startswith("qari_"), name
        for labels in series:
            for _, value in labels:
                assert ROOM not in value
                assert IDENTITY not in value
                assert "no-such-room" not in value


async def test_the_node_is_named_by_one_info_series(database_url: str, clock: FakeClock) -> None:
    settings = make_settings(database_url, node_id="node-a7")
    async with app_running(settings, clock) as running:
        client = running.client()
        assert running.services.ownership.node_id == settings.this_node_id == "node-a7"
        created = await client.post("/v1/rooms", json={"name": ROOM}, headers=AUTH)
        assert created.status_code == 201
        samples = await scrape(client)
        # One series, naming the node alone: no room, nothing else.
        assert samples["qari_node_info"] == {(("node", "node-a7"),): 1}


def test_naming_the_node_again_keeps_one_series() -> None:
    metrics = Metrics()
    metrics.identify_node("first")
    metrics.identify_node("second")
    families = list(text_string_to_metric_families(metrics.render().decode()))
    (info,) = [family for family in families if family.name == "qari_node_info"]
    assert [(sample.labels, sample.value) for sample in info.samples] == [({"node": "second"}, 1)]


async def test_a_room_full_refusal_is_counted_by_its_code(running: Running) -> None:
    client = running.client()
    created = await client.post(
        "/v1/rooms", json={"name": ROOM, "max_participants": 1}, headers=AUTH
    )
    assert created.status_code == 201
    for identity, status in (("one", 200), ("two", 409)):
        response = await client.post(
            f"/v1/rooms/{ROOM}/token", json={"identity": identity}, headers=AUTH
        )
        assert response.status_code == status
    samples = await scrape(client)
    assert samples["qari_tokens_refused_total"][(("reason", "room_full"),)] == 1


async def test_a_host_refused_to_a_wallet_not_the_owner_is_counted_as_forbidden(
    database_url: str, clock: FakeClock
) -> None:
    """The 403 the client gets and the reason counted come from one table entry."""
    settings = make_settings(database_url, siwe_domain=SIWE_DOMAIN)
    async with app_running(settings, clock) as running:
        client = running.client()
        owner, other = await sign_in(client, clock.now()), await sign_in(client, clock.now())
        created = await client.post("/v1/rooms", json={"name": ROOM}, headers=owner.auth)
        assert created.status_code == 201
        refused = await client.post(
            f"/v1/rooms/{ROOM}/token", json={"role": "host"}, headers=other.auth
        )
        assert refused.status_code == 403
        assert (await refused.get_json())["code"] == "forbidden"
        refused_total = (await scrape(client))["qari_tokens_refused_total"]
        assert refused_total == {(("reason", "forbidden"),): 1}


async def test_the_webhook_backlog_counts_stored_events_not_yet_applied(running: Running) -> None:
    client = running.client()
    for n in range(3):
        await WebhookInbox.create(
            event_id=f"EV_backlog_{n}", event_type="room_started", room_name=ROOM, payload="{}"
        )
    samples = await scrape(client)
    assert samples["qari_webhook_backlog"][()] == 3


async def test_metrics_need_the_api_key(client: Client) -> None:
    assert (await client.get("/metrics")).status_code == 401
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer wrong"})
    assert wrong.status_code == 401


def test_committer_hooks_feed_applied_failed_and_lag() -> None:
    """What the webhook committer calls; the lag histogram takes one lag per event."""
    metrics = Metrics()
    metrics.observe_applied([0.01, 0.2, 3.0])
    metrics.observe_failed("participant_joined")
    metrics.observe_failed("something_new")
    registry = metrics.registry
    assert registry.get_sample_value("qari_webhooks_applied_total") == 3
    assert registry.get_sample_value("qari_webhook_apply_lag_seconds_count") == 3
    assert registry.get_sample_value("qari_webhook_apply_lag_seconds_bucket", {"le": "0.25"}) == 2
    failed = "qari_webhooks_failed_total"
    assert registry.get_sample_value(failed, {"event": "participant_joined"}) == 1
    assert registry.get_sample_value(failed, {"event": "other"}) == 1


async def test_a_request_id_is_echoed_when_sane_and_made_otherwise(client: Client) -> None:
    echoed = await client.get("/v1/health", headers={"X-Request-ID": "trace-42.a:b"})
    assert echoed.headers["X-Request-ID"] == "trace-42.a:b"
    made = await client.get("/v1/health")
    forged = await client.get(
        "/v1/health", headers={"X-Request-ID": "bad id INFO forged=" + "x" * 200}
    )
    for response in (made, forged):
        assert len(response.headers["X-Request-ID"]) == 32
    assert made.headers["X-Request-ID"] != forged.headers["X-Request-ID"]
    # Errors carry it too.
    refused = await client.get("/v1/rooms", headers={"X-Request-ID": "refused-1"})
    assert refused.status_code == 401
    assert refused.headers["X-Request-ID"] == "refused-1"


async def test_the_write_path_feeds_applied_failed_and_lag(running: Running) -> None:
    client = running.client()
    started = event("room_started", room_info(ROOM, "RM_fed"))
    who = participant(IDENTITY, "PA_f")
    joined = event("participant_joined", room_info(ROOM, "RM_fed"), who=who)
    for message in (started, joined):
        body, headers = signed(message)
        response = await client.post("/v1/livekit/webhook", data=body, headers=headers)
        assert response.status_code == 200
    await apply_pending(running.services.rooms, ROOM)
    # A stored payload that no longer parses: its apply fails, and is counted.
    bad = event("room_finished", room_info(ROOM, "RM_fed"))
    await WebhookInbox.create(
        event_id=bad.id,
        event_type=bad.event,
        room_name=ROOM,
        room_sid="RM_fed",
        livekit_created_at=bad.created_at,
        payload=serialise(bad).decode().replace("{", "[", 1),
        received_at=EPOCH,  # by the app's (fake) clock
    )
    await apply_pending(running.services.rooms, ROOM)

    samples = await scrape(client)

    assert samples["qari_webhooks_applied_total"][()] == 2
    assert samples["qari_webhook_apply_lag_seconds_count"][()] == 2
    assert samples["qari_webhooks_failed_total"][(("event", "room_finished"),)] == 1


def test_the_access_record_is_the_one_logger_info_makes() -> None:
    """AccessLine makes its record without Logger.info: the same attributes, message
    and fields, so every formatter writes the same line (the caller aside)."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("qari.test.access")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(Keep())
    args = ("POST", "/v1/rooms/a/token", 200, 1.25, "/v1/rooms/<string:name>/token")
    extra = {"method": "POST", "path": "/v1/rooms/a/token", "route": args[4], "status": 200}
    extra["duration_ms"] = 1.25

    AccessLine(logger).emit(args, extra)
    logger.info(ACCESS_FORMAT, *args, extra=extra)

    ours, theirs = records
    assert set(vars(ours)) == set(vars(theirs))
    message = "POST /v1/rooms/a/token 200 1.2ms route=/v1/rooms/<string:name>/token"
    assert ours.getMessage() == theirs.getMessage() == message
    same = ["name", "levelno", "levelname", "thread", "threadName", "process", "processName"]
    for key in [*same, *extra, "exc_info", "exc_text", "stack_info"]:
        assert getattr(ours, key) == getattr(theirs, key), key
    assert abs(ours.created - theirs.created) < 5
    assert abs(ours.relativeCreated - theirs.relativeCreated) < 5000
    lines = [json.loads(JsonFormatter([]).format(record)) for record in records]
    for line in lines:
        del line["time"]
    assert lines[0] == lines[1]
    text = RedactingFormatter([], fmt="%(levelname)s %(name)s %(message)s")
    assert text.format(ours) == text.format(theirs)


def test_no_access_record_is_made_when_info_is_off() -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("qari.test.access-off")
    logger.propagate = False
    logger.setLevel(logging.WARNING)
    logger.addHandler(Keep())
    line = AccessLine(logger)
    assert not line.enabled()
    logger.setLevel(logging.INFO)
    assert line.enabled()
