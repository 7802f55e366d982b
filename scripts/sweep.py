"""A grid over learning rate x hidden width x seed, trained together with train_many.

    python scripts/sweep.py --data iris --hidden 2,4,8,16 --lr 0.05,0.1,0.5,1,2 --seeds 3 --epochs 200

Writes one CSV row per configuration (final training and validation error,
validation accuracy for one-hot targets) and a heat map of the mean validation
error over seeds for each (hidden, lr).
"""

import argparse
import csv
import itertools

import numpy as np

import fastbp
from fastbp import datasets


def floats(text: str) -> list[float]:
    return [float(part) for part in text.split(",")]


def ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="iris", help="built-in data set or data file (default iris)")
    parser.add_argument("--hidden", type=ints, default=[2, 4, 8, 16], help="hidden widths (default 2,4,8,16)")
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
    grid = list(itertools.product(args.hidden, args.lr, range(args.seeds)))
    n_in, n_out = data.X.shape[1], data.Y.shape[1]
    nets = [fastbp.Network.random((n_in, h, n_out), seed=seed) for h, _, seed in grid]
    histories = fastbp.train_many(
        nets, train_set.X, train_set.Y, epochs=args.epochs, lr=[lr for _, lr, _ in grid], shuffle=True, seed=0
    )
    rows = []
    for (hidden, lr, seed), net, history in zip(grid, nets, histories):
        row = {"hidden": hidden, "lr": lr, "seed": seed, "train_error": history.final_error,
               "val_error": net.error(val_set.X, val_set.Y)}  # fmt: skip
        if data.one_hot:
            row["val_accuracy"] = datasets.accuracy(net.forward(val_set.X), val_set.Y)
        rows.append(row)
    with open(args.out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    table = np.array([[np.mean([r["val_error"] for r in rows if r["hidden"] == h and r["lr"] == lr])
                       for lr in args.lr] for h in args.hidden])  # fmt: skip
    best = min(rows, key=lambda r: r["val_error"])
    print(f"{len(grid)} networks ({len(args.hidden)} widths x {len(args.lr)} rates x {args.seeds} seeds) "
          f"trained together in {histories[0].seconds:.2f} s on {data.name}")  # fmt: skip
    where = f"hidden {best['hidden']}, lr {best['lr']}, seed {best['seed']}"
    print(f"best: {where}: validation error {best['val_error']:.4f}")
    heat_map(args.plot, table, args)
    print(f"wrote {args.out} and {args.plot}")


def heat_map(path, table, args) -> None:
    from fastbp.plot import _pyplot

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    image = ax.imshow(np.log10(table), cmap="viridis_r", aspect="auto")
    ax.set_xticks(range(len(args.lr)), [f"{lr:g}" for lr in args.lr])
    ax.set_yticks(range(len(args.hidden)), [str(h) for h in args.hidden])
    ax.set_xlabel("learning rate")
    ax.set_ylabel("hidden units")
    logs = np.log10(table)
    middle = (logs.min() + logs.max()) / 2
    for i, j in np.ndindex(table.shape):
        color = "black" if logs[i, j] < middle else "white"  # dark text on the light (low-error) cells
        ax.text(j, i, f"{table[i, j]:.3f}", ha="center", va="center", color=color, fontsize=8)
    fig.colorbar(image, label="log10 mean validation E")
    ax.set_title(f"{args.data}: mean validation error over {args.seeds} seeds, {args.epochs} epochs")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    main()
