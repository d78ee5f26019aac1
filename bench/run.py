"""Benchmarks, reported as ratios measured in one run (never asserted in tests).

- cold import of app.py (what every Lambda pays at cold start) against ``import boto3``;
- start-up time of the local stack against the same ``import boto3`` baseline.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 9


def cold_imports(*statements: str) -> list[float]:
    """Median wall time of a fresh interpreter running each statement, minus an empty interpreter.

    Runs are interleaved so that load on the machine falls on every statement alike.
    """
    def once(code: str) -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True,
                       env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1"})
        return time.perf_counter() - started
    samples: dict[str, list[float]] = {code: [] for code in ("pass", *statements)}
    for _ in range(RUNS):
        for code in samples:
            samples[code].append(once(code))
    empty = statistics.median(samples["pass"])
    return [statistics.median(samples[code]) - empty for code in statements]


def stack_start_up() -> float:
    """Seconds from ``LocalStack.start()`` to a seeded, serving stack (median of three)."""
    sys.path.insert(0, str(ROOT))
    from coursehub_local.stack import LocalStack, StackConfig

    times = []
    for _ in range(3):
        started = time.perf_counter()
        stack = LocalStack(StackConfig()).start()
        times.append(time.perf_counter() - started)
        stack.stop()
    return statistics.median(times)


def main() -> int:
    boto3_s, app_s = cold_imports("import boto3", "import app")
    stack_s = stack_start_up()
    print(f"cold import boto3:        {boto3_s * 1000:7.1f} ms (baseline)")
    print(f"cold import app.py:       {app_s * 1000:7.1f} ms  ratio {app_s / boto3_s:5.2f} x boto3")
    print(f"local stack start-up:     {stack_s * 1000:7.1f} ms  ratio {stack_s / boto3_s:5.2f} x boto3 import")
    return 0


if __name__ == "__main__":
    sys.exit(main())
