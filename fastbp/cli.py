"""The ``fastbp`` command line."""

from __future__ import annotations

import argparse
import os
import sys

from . import __version__
from .article import LEARNING_RATE, article_data, article_network
from .trace import fmt, trace
from .training import ENGINES, UPDATES, train

# What the article itself prints after training, and which update order produced it.
ARTICLE_FIGURES = {
    "error after 1 round": "0.291027924",
    "error after 10,000 rounds": "0.000035085",
    "outputs after 10,000 rounds": "0.015912196, 0.984065734",
}


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fastbp",
        description="Train fully-connected logistic networks with backpropagation, fast.",
    )
    parser.add_argument("--version", action="version", version=f"fastbp {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    article = commands.add_parser(
        "article",
        help="the worked example of 'A Step by Step Backpropagation Example', every number, then training",
        description="Print the article's worked example step by step, then train it and compare with the article.",
    )
    article.add_argument("--rounds", type=_positive_int, default=10_000, help="training rounds (default 10000)")
    article.add_argument(
        "--update", choices=UPDATES, default="simultaneous", help="update order (default simultaneous)"
    )
    article.add_argument("--engine", choices=ENGINES, default="numba", help="numba (default) or the pure-Python oracle")
    return parser


def run_article(rounds: int, update: str, engine: str) -> None:
    """Print the walkthrough of one step, then train ``rounds`` steps and report."""
    net = article_network()
    X, Y = article_data()
    print(trace(net, X[0], Y[0], lr=LEARNING_RATE, update=update))
    print()
    history = train(net, X, Y, epochs=rounds, lr=LEARNING_RATE, train_biases=False, update=update, engine=engine)
    after_one = history.errors[1] if rounds > 1 else history.final_error
    out = net.forward(X[0])
    print(
        f"Training: {rounds:,} rounds of that step (eta = 0.5, biases frozen, update = '{update}', engine = {engine})"
    )
    rows = [
        ("error after 1 round", fmt(after_one)),
        (f"error after {rounds:,} rounds", f"{history.final_error:.13f}".rstrip("0")),
        ("out_o1, out_o2", f"{fmt(out[0])}, {fmt(out[1])}"),
        ("training time", f"{history.seconds * 1e3:.3f} ms"),
    ]
    width = max(len(label) for label, _ in rows) + 1
    for label, value in rows:
        print(f"  {label + ':':<{width}} {value}")
    print()
    print("The article prints: " + "; ".join(f"{k} {v}" for k, v in ARTICLE_FIGURES.items()) + ".")
    if update == "simultaneous":
        print("Those figures come from the 'layerwise' order: `fastbp article --update layerwise` reproduces them.")
    else:
        print("This 'layerwise' order reproduces them; the article's text (and fastbp's default) is 'simultaneous'.")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        if args.command == "article":
            run_article(args.rounds, args.update, args.engine)
    except BrokenPipeError:  # output piped into head, say: stop quietly
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - let the interpreter's final flush succeed
        return 0
    except (ValueError, TypeError, OSError) as exc:
        print(f"fastbp {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
