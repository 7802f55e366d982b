"""fastbp.MLPClassifier/MLPRegressor against scikit-learn's: fit time and test score, side by side.

    python scripts/compare_sklearn.py                        # every case, 3 rounds of 5 fits each
    python scripts/compare_sklearn.py --markdown docs/benchmarks.md

The cases are asv_benchmarks/benchmarks/workloads.py's ESTIMATOR_CASES (the asv suite times the
same): the same parameters in both libraries, 100 epochs, convergence stopping off. Each
(case, library) fits in processes of its own with BLAS limited to one thread; the two libraries
take turns for --rounds rounds; the median fit time is reported with the test score
(accuracy, or R^2) and fastbp's time as a fraction of scikit-learn's.
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
import warnings
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "asv_benchmarks")]

from benchmarks.workloads import ESTIMATOR_CASES, estimator, estimator_data  # noqa: E402
from compare_peers import cpu_name, thread_env, write_section  # noqa: E402

LIBRARIES = ("fastbp", "sklearn")


def child(library: str, case: str, repeats: int) -> dict:
    """In a process of its own: one warm-up fit (compilation), then `repeats` timed fits."""
    X_train, X_test, y_train, y_test = estimator_data(ESTIMATOR_CASES[case][1])
    times = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator(library, case).fit(X_train[:50], y_train[:50])
        for _ in range(repeats):
            model = estimator(library, case)
            start = time.perf_counter()
            model.fit(X_train, y_train)
            times.append(time.perf_counter() - start)
    return {"times": times, "score": float(model.score(X_test, y_test))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", nargs="+", choices=list(ESTIMATOR_CASES), default=list(ESTIMATOR_CASES))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--markdown", metavar="FILE", help="also write the table into this markdown file")
    parser.add_argument("--child", nargs=2, metavar=("LIBRARY", "CASE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child, args.repeats)))
        return
    env = thread_env(1)
    rows = []
    for case in args.cases:
        results = {library: {"times": []} for library in LIBRARIES}
        for _ in range(args.rounds):
            for library in LIBRARIES:
                command = [sys.executable, __file__, "--child", library, case, "--repeats", str(args.repeats)]
                out = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
                result = json.loads(out.stdout.strip().splitlines()[-1])
                results[library]["times"] += result["times"]
                results[library]["score"] = result["score"]
        ours, theirs = (statistics.median(results[library]["times"]) for library in LIBRARIES)
        rows.append(f"| {case} | {ours * 1e3:.1f} ms | {theirs * 1e3:.1f} ms | **{ours / theirs:.2f}x** | "
                    f"{results['fastbp']['score']:.4f} | {results['sklearn']['score']:.4f} |")  # fmt: skip
    command = " ".join(["python scripts/compare_sklearn.py", *(a for a in sys.argv[1:] if a != args.markdown)])
    command = command.replace(" --markdown", "")
    lines = [
        f"Machine: {cpu_name()}, {os.cpu_count()} cores; one thread; Python {platform.python_version()}; "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"Command: `{command}`; medians of {args.rounds} x {args.repeats} fits, the libraries taking turns.",
        "",
        "| case | fastbp fit | scikit-learn fit | fastbp / scikit-learn | fastbp score | scikit-learn score |",
        "|---|---|---|---|---|---|",
        *rows,
    ]
    print("\n".join(lines))
    if args.markdown:
        write_section(Path(args.markdown), command, lines)


if __name__ == "__main__":
    main()
