"""`python -m bench --help` says what each benchmark needs (PostgreSQL, a chain)."""

from __future__ import annotations

import pytest

from bench.__main__ import BENCHMARKS, NEEDS, main


def test_help_names_what_each_benchmark_needs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert set(NEEDS) == set(BENCHMARKS)
    lines = text.splitlines()
    for name in BENCHMARKS:
        [line] = [line for line in lines if line.startswith(f"  {name} ")]
        assert NEEDS[name] in line
    for needing in ("stall", "soak", "tokens", "webhooks"):
        assert "PostgreSQL" in NEEDS[needing]
    assert "anvil" in NEEDS["gated"]
    assert "TEST_DATABASE_URL" in text
