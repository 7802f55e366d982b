"""The batch scripts in scripts/, run as a user runs them on small settings (those that only time kernels with
the test session's marks)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
SCRIPTS = TESTS.parent / "scripts"
# A script run with the test session's networks (reference.every_activation_marked, as conftest.py runs the
# in-process tests): its kernels are the specialisations the other tests compile, loaded from the shared cache,
# instead of one compile per activation set (test_model_ratios: 32 s -> a few). The same bits as users' own
# (tests/test_pinned_bits.py); the scripts that users' networks matter to run as users run them.
WITH_THE_SESSIONS_MARKS = (
    f"import runpy, sys; sys.path.insert(0, {str(TESTS)!r}); from reference import every_activation_marked; "
    "every_activation_marked().start(); del sys.argv[0]; runpy.run_path(sys.argv[0], run_name='__main__')"
)


def run(folder, script, *args, marked=False):
    command = [sys.executable, *(["-c", WITH_THE_SESSIONS_MARKS] if marked else []), str(SCRIPTS / script), *args]
    return subprocess.run(command, capture_output=True, text=True, check=True, cwd=folder, timeout=300)


SCRIPT_NAMES = [
    "train_digits.py",
    "xor_seeds.py",
    "sweep.py",
    "compare_peers.py",
    "compare_sklearn.py",
    "model_ratios.py",
    "compile_times.py",
    "compile_floor.py",
]


@pytest.mark.parametrize("script", SCRIPT_NAMES)
def test_help(tmp_path, script):
    """--help names the script and every option the script defines (but those it hides)."""
    text = run(tmp_path, script, "--help").stdout
    shown = [line for line in (SCRIPTS / script).read_text().splitlines() if "SUPPRESS" not in line]
    flags = re.findall(r"add_argument\(\s*\"(--[\w-]+)\"", "\n".join(shown))
    assert text.startswith(f"usage: {script}") and flags
    assert [flag for flag in flags if flag not in text] == []


def test_compile_floor_prints_a_row_per_run(tmp_path):
    """The hand-written kernels compile and run in a fresh process; each run is a row of three figures."""
    lines = run(tmp_path, "compile_floor.py", "--runs", "1").stdout.splitlines()
    assert lines[0].startswith("| run | Numba's set-up") and len(lines) == 3
    assert re.fullmatch(r"\| 1 \| \d+\.\d\d \| \d+\.\d\d \| \d+\.\d\d \|", lines[2])


def test_xor_seeds(tmp_path):
    pytest.importorskip("matplotlib")
    out = run(tmp_path, "xor_seeds.py", "--seeds", "40", "--epochs", "2000", "--hidden", "3").stdout
    solved = int(out.split("solved: ")[1].split()[0])
    assert 0 < solved <= 40
    assert (tmp_path / "xor_seeds.png").exists()


def test_sweep(tmp_path):
    pytest.importorskip("matplotlib")
    args = ["--hidden", "2", "--hidden", "4", "--lr", "0.1,1", "--seeds", "2", "--epochs", "30"]
    out = run(tmp_path, "sweep.py", *args).stdout
    assert "8 networks (2 widths x 2 rates x 2 seeds)" in out
    lines = (tmp_path / "sweep.csv").read_text().splitlines()
    assert lines[0] == "hidden,lr,seed,train_error,val_error,val_accuracy,seconds" and len(lines) == 9
    assert (tmp_path / "sweep.png").exists()


def test_train_digits(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    out = run(tmp_path, "train_digits.py", "--epochs", "5").stdout
    accuracy = float(out.split("validation:")[1].split("accuracy ")[1].split("%")[0])
    assert accuracy > 85
    assert (tmp_path / "digits.npz").exists() and (tmp_path / "digits.png").exists()


def test_compare_peers(tmp_path):
    out = run(tmp_path, "compare_peers.py", "--workloads", "article-10k", "--peers", "fastbp", "oracle", "numpy",
              "--repeats", "1", "--rounds", "2").stdout  # fmt: skip
    assert "medians of 2 x 1 runs" in out
    rows = {line.split(" | ")[1]: line.split(" | ") for line in out.splitlines() if line.startswith("| article-10k")}
    assert set(rows) == {"fastbp", "oracle", "numpy"}
    assert rows["fastbp"][3] == "1.00"
    assert all(row[5].startswith("yes") for row in rows.values())  # the same final error everywhere


def test_compare_sklearn_writes_its_table(tmp_path):
    pytest.importorskip("sklearn")
    (tmp_path / "bench.md").write_text("# Benchmarks\n")
    out = run(tmp_path, "compare_sklearn.py", "--cases", "friedman-adam-tanh-32-16", "--rounds", "1", "--repeats", "1",
              "--markdown", "bench.md").stdout  # fmt: skip
    (row,) = [line.split(" | ") for line in out.splitlines() if line.startswith("| friedman")]
    assert row[3].startswith("**") and float(row[4]) > 0.5 and abs(float(row[4]) - float(row[5].rstrip(" |"))) < 0.05
    assert "<!-- compare_peers: python scripts/compare_sklearn.py --cases" in (tmp_path / "bench.md").read_text()


def test_model_ratios(tmp_path):
    out = run(tmp_path, "model_ratios.py", "--repeats", "1", marked=True).stdout
    assert "online adam / online logistic" in out and "xor tanh / xor logistic" in out
