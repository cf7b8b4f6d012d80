"""The collector's serving settings: on while the app serves, the process's own after."""

from __future__ import annotations

import gc

from app.collector import SERVING_THRESHOLDS
from app.settings import Settings
from tests.conftest import app_running


async def test_serving_sets_the_thresholds_and_freezes_start_up_then_gives_them_back(
    settings: Settings,
) -> None:
    before = gc.get_threshold()
    assert before != SERVING_THRESHOLDS  # else this test would show nothing
    async with app_running(settings) as running:
        assert gc.get_threshold() == SERVING_THRESHOLDS
        assert gc.get_freeze_count() > 0
        response = await running.client().get("/v1/health")
        assert response.status_code == 200
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
