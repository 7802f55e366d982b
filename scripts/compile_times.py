"""Cold compile time of each kernel path: a fresh process and an empty Numba cache per path.

    python scripts/compile_times.py                      # every path, one process each
    python scripts/compile_times.py --paths online blas  # some of them

Each path's first call is timed inside its own process (the clock starts after
``import fastbp``), and split into the time Numba held the LLVM lock (optimisation and
machine code) and the rest (typing and lowering, mostly). A path's figure includes
every kernel it compiles (an unrolled run compiles its generated kernel only).
docs/benchmarks.md ("First use") keeps the figures with the machine they came from.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent.parent / "asv_benchmarks")]

from benchmarks.workloads import COMPILE_PATHS, compile_probe  # noqa: E402


def measure(path: str) -> dict:
    """The path's cold first call, in a fresh process with an empty cache directory."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        done = subprocess.run([sys.executable, "-c", compile_probe(path)], capture_output=True, text=True, env=env,
                              check=True)  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="compile_times.py", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--paths", nargs="+", choices=list(COMPILE_PATHS), default=list(COMPILE_PATHS), help="the paths to time"
    )
    args = parser.parse_args(argv)
    print("| path | cold first call (s) | of which LLVM (s) |\n|---|---|---|")
    for path in args.paths:
        result = measure(path)
        print(f"| {path} | {result['total']:.2f} | {result['llvm']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
