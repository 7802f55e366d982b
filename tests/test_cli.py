"""The fastbp command, run as a user runs it: a real subprocess."""

import subprocess
import sys

import pytest


def fastbp(*args, check=True):
    return subprocess.run(
        [sys.executable, "-m", "fastbp", *args], capture_output=True, text=True, check=check, timeout=300
    )


@pytest.mark.slow
def test_article_prints_every_number_then_trains():
    out = fastbp("article").stdout
    for text in ["net_h1", "= 0.3775", "out_h1", "0.593269992", "E_total", "0.298371109", "dE_total/dw5",
                 "0.082167041", "delta_o1", "0.138498562", "w5+", "0.35891648", "w1+", "0.149780716",
                 "error after 1 round:       0.291027774", "error after 10,000 rounds: 0.0000351018778",
                 "0.01591362, 0.984064274", "--update layerwise"]:  # fmt: skip
        assert text in out, text
    assert "engine = python" in out  # (at most 20,000 rounds: the oracle, which finishes before a compile would)


def test_the_articles_default_and_the_oracles_runs_compile_nothing(tmp_path):
    """`fastbp article` (the oracle) and train(engine="python"), its validation and final errors included, leave
    an empty Numba cache empty: nothing was compiled."""
    import os

    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    subprocess.run([sys.executable, "-m", "fastbp", "article"], env=env, check=True, capture_output=True)
    code = ("import fastbp; net = fastbp.article_network(); X, Y = fastbp.article_data(); "
            "h = fastbp.train(net, X, Y, epochs=3, engine='python', validation=(X, Y), patience=2); "
            "print(h.final_error, h.val_errors[-1])")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True).stdout
    assert len(out.split()) == 2
    assert not list((tmp_path / "cache").rglob("*.nbi")), "a kernel was compiled"


@pytest.mark.slow
def test_article_layerwise_reproduces_published_figures():
    """The compiled kernel's run (the oracle's is the default for 10,000 rounds)."""
    out = fastbp("article", "--update", "layerwise", "--rounds", "10000", "--engine", "numba").stdout
    assert "engine = numba" in out
    assert "error after 1 round:       0.291027924" in out
    assert "0.015912196, 0.984065734" in out
    assert "error after 10,000 rounds: 0.0000350847863" in out


def test_article_python_engine_and_rounds():
    out = fastbp("article", "--rounds", "3", "--engine", "python").stdout
    assert "3 rounds" in out


def test_help_lists_commands():
    out = fastbp("--help").stdout
    assert "article" in out


@pytest.mark.parametrize("args", [["article", "--rounds", "0"], ["article", "--update", "both"], ["frobnicate"]])
def test_bad_options_exit_2_with_one_line(args):
    result = fastbp(*args, check=False)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("fastbp")


def fastbp_in(folder, *args, check=True):
    return subprocess.run(
        [sys.executable, "-m", "fastbp", *args], capture_output=True, text=True, check=check, timeout=300, cwd=folder
    )


def test_train_save_predict_evaluate_on_csv(tmp_path):
    from fastbp import datasets

    iris = datasets.iris()
    rows = ["sepal_length,sepal_width,petal_length,petal_width,species"]
    rows += [",".join(map(str, x)) + "," + iris.classes[y.argmax()] for x, y in zip(iris.X, iris.Y)]
    (tmp_path / "iris.csv").write_text("\n".join(rows) + "\n")
    out = fastbp_in(tmp_path, "train", "iris.csv", "--one-hot", "--hidden", "6", "--epochs", "150", "--val", "0.2",
                    "--scale", "--shuffle", "--seed", "3", "--out", "model.npz").stdout  # fmt: skip
    assert "120 samples for training, 30 for validation; network 4-6-3" in out
    assert "validation error" in out and "accuracy" in out
    assert (tmp_path / "model.npz").exists()
    evaluated = fastbp_in(tmp_path, "evaluate", "model.npz", "iris.csv", "--one-hot").stdout
    accuracy = float(evaluated.split("accuracy ")[1].rstrip("%\n"))
    assert accuracy > 90
    fastbp_in(tmp_path, "predict", "model.npz", "iris.csv", "--out", "pred.csv")
    lines = (tmp_path / "pred.csv").read_text().splitlines()
    assert lines[0] == "out1,out2,out3" and len(lines) == 151
    predicted = [max(range(3), key=lambda j: float(line.split(",")[j])) for line in lines[1:]]
    assert round(100 * sum(p == y.argmax() for p, y in zip(predicted, iris.Y)) / 150, 1) == accuracy
    stdout = fastbp_in(tmp_path, "predict", "model.npz", "iris.csv").stdout
    assert stdout.splitlines()[1] == lines[1]


def test_train_builtin_with_plot_and_npz(tmp_path):
    pytest.importorskip("matplotlib")
    out = fastbp_in(tmp_path, "train", "xor", "--hidden", "4", "--epochs", "2000", "--lr", "2", "--plot", "loss.png",
                    "--out", "xor.npz", "--quiet").stdout  # fmt: skip
    assert "network 2-4-1" in out and "wrote the error curve to loss.png" in out
    assert (tmp_path / "loss.png").read_bytes()[:4] == b"\x89PNG"
    import numpy as np

    np.savez(tmp_path / "xor_data.npz", X=[[0, 0], [0, 1], [1, 0], [1, 1]], Y=[[0], [1], [1], [0]])
    assert "error" in fastbp_in(tmp_path, "evaluate", "xor.npz", "xor_data.npz").stdout


def test_train_fann_file(tmp_path):
    (tmp_path / "xor.data").write_text("4 2 1\n0 0\n0\n0 1\n1\n1 0\n1\n1 1\n0\n")
    out = fastbp_in(tmp_path, "train", "xor.data", "--epochs", "10", "--batch-size", "full").stdout
    assert "4 samples for training" in out and "full batch" in out
    fast = fastbp_in(tmp_path, "train", "xor.data", "--epochs", "10", "--batch-size", "full", "--fast-math").stdout
    assert fast.splitlines()[0] == out.splitlines()[0]  # the same run, with fast_math's e^x


def test_one_output_of_zeros_and_ones_is_scored_as_classes(tmp_path):
    """FANN's parity and two-spiral sets have one 0/1 output: train and evaluate classify it at 0.5."""
    (tmp_path / "xor.data").write_text("4 2 1\n0 0\n0\n0 1\n1\n1 0\n1\n1 1\n0\n")
    out = fastbp_in(tmp_path, "train", "xor.data", "--hidden", "4", "--epochs", "3000", "--lr", "2", "--seed", "1",
                    "--out", "xor.npz", "--quiet").stdout  # fmt: skip
    assert "training error" in out and "accuracy 100.0%" in out
    assert "accuracy 100.0%" in fastbp_in(tmp_path, "evaluate", "xor.npz", "xor.data").stdout
    (tmp_path / "regression.data").write_text("2 1 1\n0\n0.25\n1\n0.75\n")  # targets that are not classes
    assert "accuracy" not in fastbp_in(tmp_path, "train", "regression.data", "--epochs", "2").stdout


def test_article_plot(tmp_path):
    pytest.importorskip("matplotlib")
    fastbp_in(tmp_path, "article", "--rounds", "100", "--plot", "errors.png")
    assert (tmp_path / "errors.png").stat().st_size > 1000


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "missing.csv"], "missing.csv: no such file"),
        (["train", "bad.csv"], "bad.csv, line 3, column 2 (b): not a number: 'oops'"),
        (["train", "short.csv"], "short.csv, line 2: expected 3 columns, got 2"),
        (["train", "bad.csv", "--hidden", "0"], "--hidden"),
        (["train", "bad.csv", "--momentum", "1.5"], "--momentum: momentum must be in [0.0, 1.0); got 1.5"),
        (["train", "bad.csv", "--lr", "fast"], "--lr: lr must be a number; got 'fast'"),
        (["sweep", "bad.csv", "--hidden", "16x8"], "expected widths like 32,16 (two hidden layers)"),
        (["train", "wine"], "no such file"),
        (["predict", "nomodel.npz", "bad.csv"], "nomodel.npz: no such file"),
        (["evaluate", "bad.csv", "bad.csv"], "bad.csv: not a readable fastbp network file"),
        (["train", "bad.csv", "--frobnicate"], "unrecognized arguments: --frobnicate"),
    ],
)
def test_command_line_errors_are_one_line(tmp_path, args, message):
    (tmp_path / "bad.csv").write_text("a,b,y\n1,2,0\n3,oops,1\n")
    (tmp_path / "short.csv").write_text("1,2,3\n4,5\n")
    result = fastbp_in(tmp_path, *args, check=False)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert message in last, last


def test_progress_bar_in_a_terminal_only(tmp_path):
    """A terminal gets a tqdm bar with the error and samples per second; a pipe gets none."""
    pytest.importorskip("tqdm")
    import fcntl
    import os
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a 120-column terminal
    args = [sys.executable, "-m", "fastbp", "train", "xor", "--epochs", "3000", "--lr", "2"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=follower, cwd=tmp_path)
    os.close(follower)
    screen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        screen += chunk
    process.wait(timeout=120)
    os.close(leader)
    text = screen.decode(errors="replace")
    assert "3000/3000" in text and "samples/s=" in text and "error=" in text
    piped = fastbp_in(tmp_path, "train", "xor", "--epochs", "3000")
    assert "3000/3000" not in piped.stderr


def test_ctrl_c_saves_the_network_when_asked(tmp_path):
    import signal
    import time

    rng = __import__("numpy").random.default_rng(0)
    rows = "\n".join(",".join(f"{v:.4f}" for v in row) for row in rng.uniform(size=(300, 12)))
    (tmp_path / "big.csv").write_text(rows + "\n")
    args = [sys.executable, "-m", "fastbp", "train", "big.csv", "--targets", "2", "--hidden", "40",
            "--epochs", "10000000", "--out", "partial.npz"]  # fmt: skip
    process = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert "samples for training" in process.stdout.readline()
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "interrupted after" in err and "saved the network as it was after epoch" in err
    assert "Traceback" not in err
    import fastbp

    assert fastbp.load(tmp_path / "partial.npz").sizes == (10, 40, 2)


def test_train_checkpoint_and_resume_on_the_command_line(tmp_path):
    fastbp_in(tmp_path, "train", "xor", "--epochs", "40", "--checkpoint", "run.ckpt", "--checkpoint-every", "20",
              "--out", "whole.npz", "--shuffle", "--momentum", "0.5")  # fmt: skip
    fastbp_in(tmp_path, "train", "xor", "--epochs", "80", "--resume", "run.ckpt", "--out", "resumed.npz",
              "--shuffle", "--momentum", "0.5")  # fmt: skip
    fastbp_in(tmp_path, "train", "xor", "--epochs", "80", "--out", "straight.npz", "--shuffle", "--momentum", "0.5")
    import fastbp

    assert fastbp.load(tmp_path / "resumed.npz") == fastbp.load(tmp_path / "straight.npz")


def test_targets_outside_the_unit_interval_get_a_one_line_warning(tmp_path):
    (tmp_path / "t.csv").write_text("1,2,5\n3,4,7\n")
    result = fastbp_in(tmp_path, "train", "t.csv", "--epochs", "2")
    assert result.stderr.strip() == (
        "fastbp train: warning: t.csv: targets range over [5, 7], but logistic outputs lie in (0, 1); "
        "scale the targets into [0, 1] or the error cannot go to zero"
    )
