"""Train a digits classifier: validation split, accuracy, saved model and loss plot.

    python scripts/train_digits.py --epochs 30 --out digits.npz --plot digits.png

Needs scikit-learn for the data (pip install "fastbp[all]").
"""

import argparse

import fastbp
from fastbp import datasets
from fastbp.plot import plot_errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hidden", type=int, default=32, help="hidden units (default 32)")
    parser.add_argument("--epochs", type=int, default=30, help="passes over the training data (default 30)")
    parser.add_argument("--lr", type=float, default=0.1, help="learning rate (default 0.1)")
    parser.add_argument("--val", type=float, default=0.2, help="fraction held out for validation (default 0.2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split, the weights and the shuffle")
    parser.add_argument("--out", default="digits.npz", help="where to save the network (default digits.npz)")
    parser.add_argument("--plot", default="digits.png", help="where to draw the loss curves (default digits.png)")
    args = parser.parse_args()

    train_set, val_set = datasets.digits().split(args.val, seed=args.seed)
    net = fastbp.Network.random((64, args.hidden, 10), seed=args.seed)
    val_errors = []
    history = fastbp.train(
        net, train_set.X, train_set.Y, epochs=args.epochs, lr=args.lr, shuffle=True, seed=args.seed,
        callback=lambda epoch, n: val_errors.append(n.error(val_set.X, val_set.Y)),
    )  # fmt: skip
    for name, part in (("training", train_set), ("validation", val_set)):
        acc = datasets.accuracy(net.forward(part.X), part.Y)
        print(f"{name:>10}: {len(part):4d} images, error {net.error(part.X, part.Y):.4f}, accuracy {100 * acc:.1f}%")
    print(f"trained 64-{args.hidden}-10 for {args.epochs} epochs in {history.seconds:.2f} s")
    net.save(args.out)
    plot_errors(args.plot, history.errors, val_errors, title=f"digits, 64-{args.hidden}-10, lr {args.lr}")
    print(f"saved the network to {args.out} and the loss curves to {args.plot}")


if __name__ == "__main__":
    main()
