"""`python -m bench`: run every benchmark and print one table.

    python -m bench                     # everything (a few minutes)
    python -m bench --quick             # shorter runs, soak of 10 s
    python -m bench --only soak         # one benchmark (repeatable, or comma-separated)
    python -m bench --soak-seconds 120  # a longer soak

Benchmarks: actors (the actor runtime, `bench/actors_bench.py`), tokens,
gated (tokens of a gated room with a cached yes, `bench/gated_token_bench.py`),
webhooks (PostgreSQL and SQLite), events (how soon a change reaches the live
feed and a webhook endpoint under webhook load, `bench/events_bench.py`),
stall (held-seat tokens during a table lock, PostgreSQL, `bench/stall_bench.py`),
soak (PostgreSQL), cluster (two nodes against one, `bench/cluster_bench.py`).
Each row is a figure, its same-run baseline, the ratio, and the target where
there is one. The exit
status is 0 unless a benchmark crashed, or, with `--strict`, a target was missed.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

BENCHMARKS = (
    "actors",
    "tokens",
    "gated",
    "wallets",
    "webhooks",
    "events",
    "stall",
    "soak",
    "cluster",
)
# What each needs besides this checkout, for `--help`.
NEEDS: dict[str, str] = {
    "actors": "nothing (in-process)",
    "tokens": "PostgreSQL (its rows compare SQLite and PostgreSQL); ../shared/bench",
    "gated": "a chain: anvil, from npm (`make npm-install`)",
    "wallets": "nothing (SQLite)",
    "webhooks": "PostgreSQL (its rows compare PostgreSQL and SQLite); ../shared/bench",
    "events": "PostgreSQL (a live feed and a loopback endpoint under webhook load)",
    "stall": "PostgreSQL (it locks tables with LOCK TABLE)",
    "soak": "PostgreSQL",
    "cluster": "PostgreSQL and wrk (two nodes against one, 100 rooms)",
}
POSTGRES_HELP = (
    "PostgreSQL: the server of BENCH_DATABASE_URL, else TEST_DATABASE_URL (default"
    " postgres://postgres:postgres@127.0.0.1:5432/postgres), where each run makes and"
    " drops a throwaway database. A benchmark whose PostgreSQL or chain is missing is"
    " reported CRASHED and the others still run; `--only actors,wallets` needs neither."
    " The token and webhook rows' baselines are the bare apps in ../shared/bench"
    " (next to this checkout), each served in its own process."
)
# The actor bench states its own target in its docstring (memory < 5 KB per idle actor).
ACTOR_TARGETS: dict[str, tuple[str, str, float]] = {
    "memory per idle actor": ("value", "<", 5 * 1024),
}
OPS: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _actors(args: argparse.Namespace) -> list[dict[str, Any]]:
    from bench import actors_bench

    rows = actors_bench.run()
    for r in rows:
        r["name"] = f"actors: {r['name']}"
        for prefix, target in ACTOR_TARGETS.items():
            if r["name"].startswith(f"actors: {prefix}"):
                r["target"] = target
    return rows


def _tokens(args: argparse.Namespace) -> list[dict[str, Any]]:
    from bench import token_bench

    return token_bench.run(quick=args.quick)


def _gated(args: argparse.Namespace) -> list[dict[str, Any]]:
    from bench import gated_token_bench

    return gated_token_bench.run(quick=args.quick)


def _wallets(args: argparse.Namespace) -> list[dict[str, Any]]:
    from bench import wallet_bench

    return wallet_bench.run(quick=args.quick)


def _webhooks(args: argparse.Namespace) -> list[dict[str, Any]]:
    from bench import webhook_bench

    return webhook_bench.run(quick=args.quick)


def _events(args: argparse.Namespace) -> list[dict[str, Any]]:
    from bench import events_bench

    return events_bench.run(quick=args.quick)


def _stall(args: argparse.Namespace) -> list[dict[str, Any]]:
    from bench import stall_bench

    return stall_bench.run(quick=args.quick)


def _soak(args: argparse.Namespace) -> list[dict[str, Any]]:
    from bench import soak

    seconds = args.soak_seconds if args.soak_seconds is not None else (10 if args.quick else 60)
    return soak.run(quick=args.quick, seconds=seconds)


def _cluster(args: argparse.Namespace) -> list[dict[str, Any]]:
    from bench import cluster_bench

    return cluster_bench.run(quick=args.quick)


RUNNERS: dict[str, Callable[[argparse.Namespace], list[dict[str, Any]]]] = {
    "actors": _actors,
    "tokens": _tokens,
    "gated": _gated,
    "wallets": _wallets,
    "webhooks": _webhooks,
    "events": _events,
    "stall": _stall,
    "soak": _soak,
    "cluster": _cluster,
}


def verdict(r: dict[str, Any]) -> tuple[str, bool | None]:
    """The target as text, and whether it is met (None: no target)."""
    target = r.get("target")
    if not target:
        return "", None
    field, op, threshold = target
    text = f"{field} {op} {threshold:g}"
    actual = r[field]
    if actual is None or (isinstance(actual, float) and math.isnan(actual)):
        return text, False
    return text, OPS[op](actual, threshold)


def _number(value: Any, width: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"{'n/a':>{width}}"
    if abs(value) >= 100:
        return f"{value:>{width},.0f}"
    return f"{value:>{width},.1f}"


def print_table(rows: list[dict[str, Any]]) -> int:
    """Print the table; returns how many targets were missed."""
    name_width = max([len("figure"), *(len(r["name"]) for r in rows)])
    header = (
        f"{'figure':<{name_width}}  {'value':>10} {'unit':<6} {'baseline':>10} "
        f"{'ratio':>8}  {'target':<16} result"
    )
    print(header)
    print("-" * len(header))
    missed = 0
    for r in rows:
        if "error" in r:
            print(f"{r['name']:<{name_width}}  CRASHED: {r['error']}")
            missed += 1
            continue
        text, ok = verdict(r)
        result = "" if ok is None else ("pass" if ok else "FAIL")
        missed += ok is False
        ratio = r["ratio"]
        ratio_text = "n/a" if ratio is None or math.isnan(ratio) else f"{ratio:.3f}"
        print(
            f"{r['name']:<{name_width}}  {_number(r['value'], 10)} {r['unit']:<6} "
            f"{_number(r['baseline'], 10)} {ratio_text:>8}  {text:<16} {result}"
        )
    return missed


def main(argv: list[str] | None = None) -> int:
    needs = "\n".join(f"  {name:<9} {NEEDS[name]}" for name in BENCHMARKS)
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__.split("\n")[0],
        epilog=f"What each benchmark needs:\n{needs}\n\n{POSTGRES_HELP}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="shorter runs (soak of 10 s)")
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help=f"run only these benchmarks ({', '.join(BENCHMARKS)}); repeatable or comma-separated",
    )
    parser.add_argument(
        "--soak-seconds",
        type=float,
        default=None,
        help="soak duration (default 60, 10 with --quick)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    chosen = list(BENCHMARKS)
    if args.only:
        chosen = [name.strip() for item in args.only for name in item.split(",") if name.strip()]
        unknown = [name for name in chosen if name not in BENCHMARKS]
        if unknown:
            parser.error(f"unknown benchmark(s) {unknown}; choose from {', '.join(BENCHMARKS)}")

    rows: list[dict[str, Any]] = []
    crashed = False
    started = time.monotonic()
    for name in chosen:
        print(f"== {name}", flush=True)
        began = time.monotonic()
        try:
            rows += RUNNERS[name](args)
        except Exception as error:
            traceback.print_exc()
            rows.append({"name": name, "error": f"{type(error).__name__}: {error}"})
            crashed = True
        print(f"   ({time.monotonic() - began:.0f} s)", flush=True)

    print()
    missed = print_table(rows)
    print(
        f"\n{len(rows)} figures in {time.monotonic() - started:.0f} s; "
        f"{missed} target(s) missed. Baselines are measured in the same run; read the ratios."
    )
    if crashed:
        return 2
    return 1 if (args.strict and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
