"""Benchmark: `orchestrator demo` end to end, in an empty temporary folder (wall time, one run).

It starts its own Prefect server, sandbox and database, as a new user's first command does, so
one run is the figure; the load average says how busy the machine was.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as folder:
        env = {k: v for k, v in os.environ.items() if k not in ("ORCHESTRATOR_CONFIG", "ORCHESTRATOR_SANDBOX_URL")}
        began = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "orchestrator.cli", "demo"], cwd=folder, env=env, capture_output=True, text=True
        )
        wall = time.perf_counter() - began
    if done.returncode != 0:
        print(f"demo: failed (exit {done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
        return 1
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    own = re.search(r"done in (\d+) s", done.stdout)  # the demo's own clock: sandbox start to report
    print(
        f"demo: {wall:.0f} s wall in an empty folder, Python and Prefect start-up included "
        f"({own.group(1) if own else '?'} s by the demo's own count; {os.cpu_count()} cores, load {load:.1f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
