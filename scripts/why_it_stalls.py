"""Why does a run stall? Two digits networks that train badly, each diagnosed, beside the same network done right.

    python scripts/why_it_stalls.py --plot docs/why_it_stalls.png

1. Raw pixels (0-16) into logistic units: nearly every hidden output sits on the flat
   spots of the logistic, its gradients vanish, and the network stops at about 80%
   accuracy; the same network on pixels scaled to [0, 1] reaches 97%.
2. ReLU units under Adam with too large a learning rate: in the first epochs more than
   half of them die (their net input stays <= 0 for every sample), and the network
   goes on with the rest.
Each run is trained with diagnose=True; the script prints history.diagnosis() for each
and draws the first run's statistics beside its error curve (needs "fastbp[plot]").
"""

import argparse

import fastbp
from fastbp import datasets
from fastbp.plot import plot_errors

EPOCHS = 50
# (label, hidden and output activations, input scale, train's options)
RUNS = [
    ("raw pixels 0-16, logistic units", ("logistic", "logistic"), 16.0, dict(lr=0.5)),
    ("pixels scaled to [0, 1], logistic units", ("logistic", "logistic"), 1.0, dict(lr=0.5)),
    ("ReLU, Adam with lr 0.05", ("relu", "softmax"), 1.0,
     dict(lr=0.05, optimizer="adam", loss="cross_entropy", batch_size=32)),
    ("ReLU, Adam with lr 0.001", ("relu", "softmax"), 1.0,
     dict(lr=0.001, optimizer="adam", loss="cross_entropy", batch_size=32)),
]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plot", help="draw the first run's error curve and statistics into this PNG")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help=f"epochs of each run (default {EPOCHS})")
    args = parser.parse_args()
    train, val = datasets.digits().split(0.2, seed=0)
    first = None
    for label, activations, scale, options in RUNS:
        net = fastbp.Network.random((64, 32, 10), seed=0, activations=activations)
        history = fastbp.train(net, train.X * scale, train.Y, epochs=args.epochs, shuffle=True, seed=0,
                               diagnose=True, **options)  # fmt: skip
        accuracy = datasets.accuracy(net.forward(val.X * scale), val.Y)
        print(f"{label}: validation accuracy {accuracy:.1%}\n  {history.diagnosis()}\n")
        first = first or (label, history)
    if args.plot:
        label, history = first
        plot_errors(args.plot, history.errors, title=f"digits, {label}", diagnostics=history.diagnostics)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
