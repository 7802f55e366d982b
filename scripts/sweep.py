"""A grid over learning rate x hidden width x seed, trained together with fastbp.sweep (train_many).

    python scripts/sweep.py --data iris --hidden 2 --hidden 4 --hidden 8,4 --lr 0.05,0.1,0.5,1,2 --seeds 3

Writes one CSV row per configuration (final training and validation error,
validation accuracy for one-hot targets) and a heat map of the best validation
error over seeds for each (hidden, lr). The same as `fastbp sweep`, as a script
to copy and change.
"""

import argparse

import fastbp
from fastbp import datasets
from fastbp.plot import plot_heat_map, sweep_table


def floats(text: str) -> list[float]:
    return [float(part) for part in text.split(",")]


def widths(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(","))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="iris", help="built-in data set or data file (default iris)")
    parser.add_argument("--hidden", type=widths, action="append",
                        help="hidden layer widths of one configuration, as in fastbp train (8,4: two layers); "
                        "repeat for more (default: 2, 4, 8 and 16 units in one layer)")  # fmt: skip
    parser.add_argument("--lr", type=floats, default=[0.05, 0.1, 0.5, 1.0, 2.0], help="learning rates")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per configuration (default 3)")
    parser.add_argument("--epochs", type=int, default=200, help="epochs (default 200)")
    parser.add_argument("--val", type=float, default=0.2, help="validation fraction (default 0.2)")
    parser.add_argument("--out", default="sweep.csv", help="CSV of results (default sweep.csv)")
    parser.add_argument("--plot", default="sweep.png", help="heat map (default sweep.png)")
    args = parser.parse_args()

    data = datasets.builtin(args.data) if args.data in datasets.BUILT_IN else datasets.load(args.data)
    _, bounds = datasets.minmax_scale(data.X)
    train_set, val_set = data.scaled(bounds).split(args.val, seed=0)
    hidden = args.hidden or [(2,), (4,), (8,), (16,)]
    result = fastbp.sweep(train_set.X, train_set.Y, hidden=hidden, lr=args.lr, seeds=args.seeds,
                          epochs=args.epochs, shuffle=True, validation=(val_set.X, val_set.Y))  # fmt: skip
    result.to_csv(args.out)
    best = result.best("val_error")
    seconds = result.records[-1]["seconds"]
    print(f"{len(result)} networks ({len(hidden)} widths x {len(args.lr)} rates x {args.seeds} seeds) "
          f"trained together in {seconds:.2f} s on {data.name}")  # fmt: skip
    print(
        f"best: hidden {best['hidden']}, lr {best['lr']}, seed {best['seed']}: validation error {best['val_error']:.4f}"
    )
    table, rows, columns = sweep_table(result)
    plot_heat_map(args.plot, table, rows, columns, f"{args.data}: best validation error of {args.seeds} seeds",
                  "learning rate", "hidden units")  # fmt: skip
    print(f"wrote {args.out} and {args.plot}")


if __name__ == "__main__":
    main()
