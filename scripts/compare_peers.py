"""Time the same training workloads in fastbp and in every peer that is installed.

    python scripts/compare_peers.py                      # every workload, every installed peer
    python scripts/compare_peers.py --workloads article-10k digits-online --repeats 7
    python scripts/compare_peers.py --markdown docs/benchmarks.md   # also write the table there

The workloads are asv_benchmarks/benchmarks/workloads.py (the asv suite times the
same ones); the peers are scripts/peers/run_<peer>.py. Each (workload, peer) runs
in processes of its own, with BLAS, OpenMP, PyTorch and Numba limited to --threads
threads. A process times --repeats runs after a warm-up (compilation excluded, then
runs for WARM_UP_SECONDS, so that no peer's first timed run pays for a core that
its compilation or loading left idle and clocked down);
the peers take turns, one process each per round, for --rounds rounds, so that a
slow spell of a shared machine falls on all of them alike; the median of all runs
is reported, and each peer's final mean error is compared with fastbp's so that a
fast but different computation shows. The result is a markdown table of times and
of each peer's time as a multiple of fastbp's, headed by the machine, the date and
the command; --markdown puts it in a file, replacing the table of the same command.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "asv_benchmarks")]

from benchmarks.workloads import WORKLOADS  # noqa: E402
from peers import PEERS, runner  # noqa: E402

# Untimed runs after the first (compiling) one: a core left idle while a peer loaded or compiled clocks
# down, and its first timed run came out up to 40% slower (the article's 10,000 steps: 0.72 against 0.50 ms).
WARM_UP_SECONDS = 0.2


def child(peer: str, name: str, repeats: int) -> dict:
    """In a process of its own: warm up, then time `repeats` runs of one peer on one workload."""
    try:
        train = runner(peer, WORKLOADS[name]())
        check = train()  # warm-up: compilation, caches
    except (ImportError, NotImplementedError) as exc:
        return {"skipped": str(exc).split("\n")[0]}
    start = time.perf_counter()
    while time.perf_counter() - start < WARM_UP_SECONDS:
        train()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        train()
        times.append(time.perf_counter() - start)
    return {"times": times, "errors": check}


def compare(name: str, args, env: dict) -> dict:
    """Every peer's results on one workload, the peers taking turns for args.rounds rounds."""
    results = {peer: {"times": []} for peer in args.peers}
    for _ in range(args.rounds):
        for peer in args.peers:
            if "skipped" in results[peer]:
                continue
            out = subprocess.run(
                [sys.executable, __file__, "--child", peer, name, "--repeats", str(args.repeats)],
                capture_output=True, text=True, env=env,
            )  # fmt: skip
            try:
                result = json.loads(out.stdout.strip().splitlines()[-1])
            except (IndexError, json.JSONDecodeError):
                result = {"skipped": "failed: " + (out.stderr.strip().splitlines() or ["?"])[-1][:80]}
            if "skipped" in result:
                results[peer] = result
            else:
                results[peer]["times"] += result["times"]
                results[peer]["errors"] = result["errors"]
    for result in results.values():
        if "times" in result:
            result["seconds"] = statistics.median(result["times"])
    return results


def rows(name: str, results: dict, rate: float | None = None) -> list[str]:
    """The table's rows for one workload: time, multiple of fastbp's time, final error and agreement, and
    with `rate` (the workload's multiply-adds per clock cycle per second of run time) the multiply-adds per
    cycle achieved and their fraction of the core's peak."""
    base = results.get("fastbp", {})
    lines = []
    for peer, result in results.items():
        if "skipped" in result:
            lines.append(f"| {name} | {peer} | - | - | {result['skipped']} | | | |")
            continue
        ratio = result["seconds"] / base["seconds"] if "seconds" in base else float("nan")
        mine, theirs = np.mean(result["errors"]), np.mean(base.get("errors", [np.nan]))
        agree = "n/a (other model)" if np.isnan(mine) else ("yes" if abs(mine / theirs - 1) < 1e-6 else
                                                           f"rel. diff {abs(mine / theirs - 1):.1e}")  # fmt: skip
        achieved = None if rate is None else rate / result["seconds"]
        per_cycle = "| - | -" if achieved is None else f"| {achieved:.2f} | {achieved / PEAK:.0%}"
        lines.append(f"| {name} | {peer} | {format_time(result['seconds'])} | {ratio:.2f} | {mine:.6g} ({theirs:.6g}) "
                     f"| {agree} {per_cycle} |")  # fmt: skip
    return lines


def multiply_adds(w: dict) -> int | None:
    """The multiply-adds of an online workload (None for minibatches): per sample and network, one per
    weight forward, one per weight updated, and one per weight above the first layer carrying the deltas down."""
    if w["batch"] != 1:
        return None
    total = 0
    for weights, _ in w["nets"]:
        sizes = [W.size for W in weights]
        total += 2 * sum(sizes) + sum(sizes[1:])
    return total * len(w["X"]) * w["epochs"]


def clock_hz() -> float:
    """The core's clock while busy, from a chain of dependent float additions (3 cycles each on AMD's Zen
    cores, 4 on Intel's), so that times convert to cycles (the nominal frequency says nothing of turbo)."""
    from numba import njit

    @njit
    def chain(n, x):
        s = x
        for _ in range(n):
            s = s + x
        return s

    chain(10, 1.0)
    n = 50_000_000
    best = min(timed(chain, n, 1e-9) for _ in range(5))
    return ADD_LATENCY * n / best


def timed(function, *args) -> float:
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def core_limits() -> tuple[int, int]:
    """(float64 multiply-adds per cycle at the core's peak, float add latency in cycles): two FMA units of the
    vector width the core executes (AMD's Zen: 256 bits, AVX-512 included; Intel: its widest ISA)."""
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
    except OSError:
        return 8, 4
    amd = "AuthenticAMD" in info
    flags = info.split("flags", 1)[1].split("\n", 1)[0] if "flags" in info else ""
    width = 4 if amd or "avx512f" not in flags else 8
    return 2 * width, 3 if amd else 4


PEAK, ADD_LATENCY = core_limits()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS))
    parser.add_argument("--peers", nargs="+", choices=PEERS, default=list(PEERS))
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per process")
    parser.add_argument("--rounds", type=int, default=3, help="processes per peer, taking turns")
    parser.add_argument("--threads", type=int, default=1, help="threads for every library (default 1)")
    parser.add_argument("--markdown", metavar="FILE", help="also write the table into this file (docs/benchmarks.md)")
    parser.add_argument("--child", nargs=2, metavar=("PEER", "WORKLOAD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child, args.repeats)))
        return
    env = thread_env(args.threads)
    hz = clock_hz()
    command = " ".join(["python scripts/compare_peers.py", *(a for a in sys.argv[1:] if a != args.markdown)])
    command = command.replace(" --markdown", "")
    lines = [
        f"Machine: {cpu_name()}, {os.cpu_count()} cores; {args.threads} thread(s) per library; "
        f"Python {platform.python_version()}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"Command: `{command}`; medians of {args.rounds} x {args.repeats} runs: {args.rounds} processes "
        "per peer, taking turns, each timing its runs after a warm-up.",
        "",
        f"MACs/cycle: the online workloads' multiply-adds (forward, update and the deltas carried down) per "
        f"clock cycle, the clock ({hz / 1e9:.2f} GHz) measured by a chain of dependent additions; peak: "
        f"{PEAK} per cycle per core (two FMA units, {PEAK // 2} doubles wide).",
        "",
        "| workload | implementation | time | x fastbp's time | final mean E (fastbp's) | agrees | MACs/cycle "
        "| of peak |",
        "|---|---|---:|---:|---|---|---:|---:|",
    ]
    print("\n".join(lines), flush=True)
    for name in args.workloads:
        macs = multiply_adds(WORKLOADS[name]())
        new = rows(name, compare(name, args, env), None if macs is None else macs / hz)
        print("\n".join(new), flush=True)
        lines += new
    if args.markdown:
        write_section(Path(args.markdown), command, lines)


def thread_env(threads: int) -> dict:
    """The environment for a child process whose libraries (BLAS, OpenMP, Numba, PyTorch, XLA) use `threads`."""
    env = dict(os.environ, PEERS_THREADS=str(threads), NUMBA_NUM_THREADS=str(threads))
    env.pop("XLA_FLAGS", None)
    env.update(OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    if threads == 1:
        env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    return env


def write_section(path: Path, command: str, lines: list[str]) -> None:
    """Put the table in path between markers naming the command, replacing an earlier table of the same command."""
    begin, end = f"<!-- compare_peers: {command} -->", "<!-- end compare_peers -->"
    block = "\n".join([begin, *lines, end])
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if begin in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


def format_time(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def cpu_name() -> str:
    """The CPU's model name and its widest vector instructions (the model name alone may say only "AMD EPYC")."""
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
    except OSError:
        return platform.processor() or platform.machine()
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    fields = {key.strip(): value.strip() for key, value in fields.items()}
    flags = fields.get("flags", "").split()
    vector = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    family = f"family {fields.get('cpu family', '?')} model {fields.get('model', '?')}"
    return f"{fields.get('model name', platform.machine())} ({family}, {vector})"


if __name__ == "__main__":
    main()
