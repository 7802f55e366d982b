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


@pytest.mark.slow
def test_article_layerwise_reproduces_published_figures():
    out = fastbp("article", "--update", "layerwise", "--rounds", "10000").stdout
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
