"""`make bench`: every benchmark, one after the other, each in its own process."""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = ["bench_snapshot", "bench_views", "bench_plan", "bench_forecast", "bench_demo"]


def main() -> int:
    failed = 0
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        failed += subprocess.call([sys.executable, "-m", f"benchmarks.{name}"]) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
