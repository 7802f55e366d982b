"""How many random starts solve XOR? Train N seeds at once and count.

    python scripts/xor_seeds.py --hidden 2 --lr 0.5 --seeds 500 --plot xor_seeds.png

A reader of the article asks why their XOR network stalls with outputs near
0.5. The answer is the starting point: some initial weights lead gradient
descent into a flat region or a local minimum (typically one input pattern
stays wrong, E per sample near 1/8 = 0.125), and a small hidden layer makes
that common. This script trains one network per seed with train_many, counts
how many solve XOR (every output on the right side of 0.5), and plots every
run's error curve, solved runs in blue and stuck ones in red.
"""

import argparse

import numpy as np

import fastbp
from fastbp import datasets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hidden", type=int, default=2, help="hidden units (default 2, the hardest case)")
    parser.add_argument("--lr", type=float, default=0.5, help="learning rate (default 0.5)")
    parser.add_argument("--seeds", type=int, default=500, help="networks, one per seed (default 500)")
    parser.add_argument("--epochs", type=int, default=5000, help="online epochs of the 4 samples (default 5000)")
    parser.add_argument("--init", choices=["glorot", "uniform1"], default="uniform1",
                        help="initial weights: U(-1, 1) as most tutorials (default) or fastbp's Glorot")  # fmt: skip
    parser.add_argument("--plot", default="xor_seeds.png", help="where to draw the error curves")
    args = parser.parse_args()

    xor = datasets.xor()
    nets = [make_network(args.hidden, seed, args.init) for seed in range(args.seeds)]
    histories = fastbp.train_many(nets, xor.X, xor.Y, epochs=args.epochs, lr=args.lr)
    wrong = np.array([np.sum((net.forward(xor.X) > 0.5) != (xor.Y > 0.5)) for net in nets])
    solved = wrong == 0
    final = np.array([h.final_error for h in histories])
    setting = f"lr {args.lr}, {args.epochs} online epochs, {args.init} initial weights"
    print(f"XOR with 2-{args.hidden}-1 networks, {setting}")
    print(f"solved: {solved.sum()} of {args.seeds} seeds ({100 * solved.mean():.1f}%)")
    for k in range(1, 5):
        if (wrong == k).any():
            stuck = final[wrong == k]
            print(f"stuck with {k} of 4 patterns wrong: {len(stuck)} seeds, final mean E about {np.median(stuck):.3f}")
    print(f"training all {args.seeds} networks took {histories[0].seconds:.2f} s")
    plot(args.plot, histories, solved, args)
    print(f"wrote the error curves to {args.plot}")


def make_network(hidden: int, seed: int, init: str) -> fastbp.Network:
    if init == "glorot":
        return fastbp.Network.random((2, hidden, 1), seed=seed)
    rng = np.random.default_rng(seed)
    weights = [rng.uniform(-1, 1, (hidden, 2)), rng.uniform(-1, 1, (1, hidden))]
    return fastbp.Network.from_arrays(weights, [rng.uniform(-1, 1, hidden), rng.uniform(-1, 1, 1)])


def plot(path, histories, solved, args) -> None:
    from fastbp.plot import _pyplot

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    epochs = np.arange(1, args.epochs + 1)
    for history, ok in sorted(zip(histories, solved), key=lambda pair: pair[1]):
        ax.plot(epochs, history.errors, color="tab:blue" if ok else "tab:red", alpha=0.15, lw=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean E")
    ax.set_title(f"XOR, 2-{args.hidden}-1, lr {args.lr}: {solved.sum()} of {len(solved)} seeds solve it (blue)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    main()
