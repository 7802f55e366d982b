"""The ``fastbp`` command line."""

from __future__ import annotations

import argparse
import collections
import csv
import os
import sys
import time

import numpy as np

from . import __version__, _engine, _validate, catalogue, datasets
from ._options import ACTIVATIONS, BY_NAME, ENGINES, LOSSES, UPDATES
from .article import LEARNING_RATE, article_data, article_network
from .network import Network, load_with_input_bounds
from .trace import fmt, trace
from .training import train

DEFAULT_ACTIVATION = catalogue.ACTIVATIONS[0].name  # the article's logistic units, hidden and output
# Every optimiser's own settings, as its record lists them (momentum: with each command's own options).
OPTIMIZER_SETTINGS = list(dict.fromkeys(name for o in catalogue.OPTIMIZERS for name in o.options if name != "momentum"))

# What the article itself prints after training, and which update order produced it.
ARTICLE_FIGURES = {
    "error after 1 round": "0.291027924",
    "error after 10,000 rounds": "0.000035085",
    "outputs after 10,000 rounds": "0.015912196, 0.984065734",
}


def _whole_number(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"expected a number >= {low}, got {value}")
    return value


def _positive_int(text: str) -> int:
    return _whole_number(text, 1)


def _non_negative_int(text: str) -> int:
    return _whole_number(text, 0)


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
    article.add_argument(
        "--engine", choices=ENGINES, help=f"numba (the compiled kernels) or python (the oracle); default: the "
        f"oracle for at most {ORACLE_ROUNDS:,} rounds, which it finishes before the kernels would compile, numba beyond"
    )  # fmt: skip
    article.add_argument("--plot", metavar="PNG", help="draw the error of every round into this image")

    train = commands.add_parser(
        "train",
        help="train a network on a data file or a built-in data set",
        description="Train a network on DATA: a .csv, .npz or FANN .data file, or a built-in data set "
        f"({', '.join(datasets.BUILT_IN)}).",
    )
    train.add_argument("data", metavar="DATA", help="a data file, or xor, iris or digits")
    _data_options(train)
    train.add_argument("--hidden", type=_widths, default=(8,), help="hidden layer widths, like 32,16 (default 8)")
    for name in ("epochs", "lr", "batch_size", "momentum", "shuffle"):
        BY_NAME[name].add_to(train, default=100 if name == "epochs" else None)
    BY_NAME["seed"].add_to(train, default=0, help="seed of the weights, shuffle and split")
    train.add_argument("--freeze-biases", action="store_true", help="do not train biases (as in the article)")
    train.add_argument("--tied-biases", action="store_true", help="one shared bias per layer (as in the article)")
    for name in ("update", "engine"):
        BY_NAME[name].add_to(train)
    _model_options(train)
    BY_NAME["patience"].add_to(
        train, help="stop after this many epochs without a better validation error (needs --val)"
    )
    for name in ("min_delta", "target_error", "fast_math"):
        BY_NAME[name].add_to(train)
    BY_NAME["diagnose"].add_to(
        train,
        help="print a verdict on why the run stalls, if it does (with --plot: "
        "draw each layer's statistics beside the error curve)",
    )
    train.add_argument("--val", type=_fraction, metavar="FRACTION", help="hold out this fraction for validation")
    train.add_argument("--scale", action="store_true", help="min-max scale the inputs to [0, 1]")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("--out", metavar="MODEL", help="save the trained network to this .npz file")
    train.add_argument("--plot", metavar="PNG", help="draw the per-epoch error curve into this image")
    train.add_argument("--checkpoint", metavar="FILE", help="save the run's state here every --checkpoint-every epochs")
    train.add_argument("--checkpoint-every", type=_positive_int, default=100, metavar="N", help="(default 100)")
    train.add_argument("--resume", metavar="FILE", help="continue the run saved in this checkpoint")

    predict = commands.add_parser(
        "predict", help="write a saved network's outputs for DATA as CSV", description="Write predictions as CSV."
    )
    predict.add_argument("model", metavar="MODEL", help="a network saved by fastbp train --out")
    predict.add_argument("data", metavar="DATA", help="inputs (extra trailing columns, such as targets, are ignored)")
    predict.add_argument("--format", choices=datasets.FORMATS, help="the file format (default: from the extension)")
    predict.add_argument("--out", metavar="CSV", help="write here instead of standard output")

    sweep = commands.add_parser(
        "sweep",
        help="train a grid of configurations (hidden x lr x seed), locally or on a Dask cluster",
        description="Train every (hidden, lr, seed) configuration on DATA with train_many; with --scheduler, "
        "as tasks on a Dask cluster. Writes one CSV row per configuration and a heat map.",
    )
    sweep.add_argument("data", metavar="DATA", help="a data file, or xor, iris or digits")
    _data_options(sweep)
    sweep.add_argument(
        "--hidden", type=_widths, action="append", metavar="WIDTHS",
        help="hidden layer widths of one configuration, as in fastbp train (32,16: two layers); repeat the "
        "option for more configurations: --hidden 8 --hidden 16 --hidden 32,16 (default 8)",
    )  # fmt: skip
    sweep.add_argument("--lr", type=_rates, default=[0.5], help="learning rates, like 0.05,0.1,0.5")
    sweep.add_argument("--seeds", type=_positive_int, default=3, help="seeds per configuration (default 3)")
    for name in ("epochs", "batch_size", "momentum"):
        BY_NAME[name].add_to(sweep, default=100 if name == "epochs" else None)
    BY_NAME["shuffle"].add_to(sweep, help="a new sample order every epoch (the same for all)")
    _model_options(sweep)
    BY_NAME["fast_math"].add_to(sweep)
    BY_NAME["diagnose"].add_to(sweep, help="a verdict column: why each configuration's run stalls, if it does")
    sweep.add_argument("--val", type=_fraction, default=0.2, metavar="FRACTION", help="validation fraction (0.2)")
    sweep.add_argument("--scale", action="store_true", help="min-max scale the inputs to [0, 1]")
    sweep.add_argument("--scheduler", metavar="ADDRESS", help="a Dask scheduler, like tcp://host:8786")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    sweep.add_argument("--out", metavar="CSV", default="sweep.csv", help="results, one row per configuration")
    sweep.add_argument("--plot", metavar="PNG", help="heat map of the best validation error per (hidden, lr)")

    export = commands.add_parser(
        "export", help="write a saved network as an ONNX model or a PyTorch module",
        description="Write MODEL as ONNX (onnxruntime runs it) or as a pickled torch.nn.Sequential (torch.save). "
        "A min-max input scaling saved with the model is folded into the first layer, so the export takes raw inputs.",
    )  # fmt: skip
    export.add_argument("model", metavar="MODEL", help="a network saved by fastbp train --out")
    export.add_argument("--to", choices=("onnx", "torch"), required=True, help="the format")
    export.add_argument("--out", metavar="FILE", help="(default: MODEL with .onnx or .pt)")

    evaluate = commands.add_parser(
        "evaluate", help="print a saved network's error on DATA", description="Print the error (and accuracy)."
    )
    evaluate.add_argument("model", metavar="MODEL", help="a network saved by fastbp train --out")
    evaluate.add_argument("data", metavar="DATA", help="a data file or a built-in data set")
    _data_options(evaluate, targets=False)
    evaluate.add_argument("--loss", choices=LOSSES, help="the error to report (default: cross_entropy for a softmax "
                          "output, else squared)")  # fmt: skip
    BY_NAME["huber_delta"].add_to(evaluate)
    return parser


def _data_options(parser, targets: bool = True) -> None:
    parser.add_argument("--format", choices=datasets.FORMATS, help="the file format (default: from the extension)")
    if targets:
        parser.add_argument("--targets", type=_non_negative_int, default=1, help="trailing CSV target columns")
    parser.add_argument("--target-columns", type=_names, help="CSV target columns by name, like label or y1,y2")
    parser.add_argument("--one-hot", action="store_true", help="the CSV target column holds class labels")


def _model_options(parser) -> None:
    """The activations, the loss and the optimiser, as in fastbp train."""
    parser.add_argument(
        "--activation",
        choices=catalogue.hidden_activations(),
        default=DEFAULT_ACTIVATION,
        help="hidden layers' activation",
    )
    parser.add_argument(
        "--output-activation", choices=ACTIVATIONS, default=DEFAULT_ACTIVATION, help="output layer's activation"
    )
    for name in ("loss", "huber_delta", "optimizer", *OPTIMIZER_SETTINGS, "weight_decay"):
        BY_NAME[name].add_to(parser)


def _widths(text: str) -> tuple[int, ...]:
    """Hidden layer widths, one spelling for every command: 32,16 is two hidden layers."""
    if "x" in text:
        raise argparse.ArgumentTypeError(
            f"expected widths like 32,16 (two hidden layers), got {text!r}; for several configurations "
            "repeat the option: --hidden 8 --hidden 32,16"
        )
    try:
        widths = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected widths like 32,16, got {text!r}") from None
    if not widths or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"expected positive widths like 32,16, got {text!r}")
    return widths


def _rates(text: str) -> list[float]:
    return [BY_NAME["lr"].parse(part) for part in text.split(",") if part.strip()]


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction like 0.2, got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1), got {value}")
    return value


def _check_destinations(args, *options: str) -> None:
    """Refuse, before any work, an output file that could not be written (an empty name, a folder, a missing
    folder): the work would be lost at the end."""
    for option in options:
        value = getattr(args, option, None)
        if value is not None:
            _validate.destination(f"--{option.replace('_', '-')}", value)


# fastbp article's default engine up to this many rounds: the oracle (35-70 us a round on the article's network)
# finishes them in well under a second, where the compiled kernels take 5-6 s to compile on first use.
ORACLE_ROUNDS = 20_000


def run_article(rounds: int, update: str, engine: str | None = None, plot: str | None = None) -> None:
    """Print the walkthrough of one step, then train ``rounds`` steps and report (engine None: the oracle for at
    most ORACLE_ROUNDS rounds, the compiled kernels beyond)."""
    if engine is None:
        engine = "python" if rounds <= ORACLE_ROUNDS else "numba"
    if plot is not None:
        _validate.destination("--plot", plot)
        from .plot import _pyplot

        _pyplot()  # fail before the work if matplotlib is missing
    net = article_network()
    X, Y = article_data()
    print(trace(net, X[0], Y[0], lr=LEARNING_RATE, update=update))
    print()
    history = train(net, X, Y, epochs=rounds, lr=LEARNING_RATE, train_biases=False, update=update, engine=engine)
    after_one = history.errors[1] if rounds > 1 else history.final_error
    # The outputs as the run's engine computes them (the oracle's run compiles nothing).
    if engine == "numba":
        out = net.forward(X[0])
    else:
        ((_, outs),) = _engine.oracle_passes(net, X[:1])
        out = np.array(outs[-1])
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
    if engine == "python":
        print("  (the pure-Python oracle; --engine numba trains in the compiled kernel, which compiles on first use)")
    print()
    print("The article prints: " + "; ".join(f"{k} {v}" for k, v in ARTICLE_FIGURES.items()) + ".")
    if update == "simultaneous":
        print("Those figures come from the 'layerwise' order: `fastbp article --update layerwise` reproduces them.")
    else:
        print("This 'layerwise' order reproduces them; the article's text (and fastbp's default) is 'simultaneous'.")
    if plot:
        from .plot import plot_errors

        errors = np.append(history.errors, history.final_error)[1:]  # the error after each round
        plot_errors(plot, errors, title=f"The article's network, update='{update}'", ylabel="E_total")
        print(f"Wrote the error curve to {plot}")


def _load(path: str, args, targets: int | None = None) -> datasets.Dataset:
    """A built-in data set by name, or a data file read with the command's options."""
    if path in datasets.BUILT_IN and not os.path.exists(path):
        return datasets.builtin(path)
    if not os.path.exists(path):
        raise datasets.DataError(f"{path}: no such file, nor a built-in data set ({', '.join(datasets.BUILT_IN)})")
    fmt = args.format or datasets.EXTENSIONS.get(os.path.splitext(path)[1].lower())
    if fmt != "csv":
        return datasets.load(path, format=fmt)
    columns = getattr(args, "target_columns", None)
    count = getattr(args, "targets", 1) if targets is None else targets
    return datasets.load(path, format="csv", targets=columns or count, one_hot=getattr(args, "one_hot", False))


def _warn_targets(data: datasets.Dataset, command: str) -> None:
    message = datasets.unreachable_targets(data.Y, data.name)
    if message:
        print(f"fastbp {command}: warning: {message}", file=sys.stderr)


def _report(label: str, net: Network, data: datasets.Dataset, loss: str = "squared", huber_delta: float = 1.0) -> str:
    """The error, and the accuracy for classes (one-hot targets, or one 0/1 output classified at 0.5)."""
    name = "" if loss == BY_NAME["loss"].default else f" ({loss})"
    text = f"{label} error{name} {net.error(data.X, data.Y, loss=loss, huber_delta=huber_delta):.6g}"
    if data.one_hot or datasets.is_classification(data.Y):
        text += f", accuracy {100 * datasets.accuracy(net.forward(data.X), data.Y):.1f}%"
    return text


def run_train(args) -> None:
    """fastbp train: load, split, scale, train with a progress bar, report, save, plot."""
    _check_destinations(args, "out", "plot", "checkpoint")
    data = _load(args.data, args)
    _warn_targets(data, args.command)
    if args.plot is not None:
        from .plot import _pyplot

        _pyplot()  # fail before training if matplotlib is missing
    train_set, val_set = data.split(args.val, seed=args.seed) if args.val else (data, None)
    bounds = None
    if args.scale:
        _, bounds = datasets.minmax_scale(train_set.X)
        train_set = train_set.scaled(bounds)
        val_set = val_set.scaled(bounds) if val_set is not None else None
    sizes = (data.X.shape[1], *args.hidden, data.Y.shape[1])
    activations = (args.activation,) * len(args.hidden) + (args.output_activation,)
    net = Network.random(sizes, seed=args.seed, tied_biases=args.tied_biases, activations=activations)
    progress = not args.quiet and sys.stderr.isatty()
    if progress:
        try:
            import tqdm  # noqa: F401
        except ImportError:
            print("(no progress bar: pip install 'fastbp[progress]')", file=sys.stderr)
            progress = False
    batch = (
        "full batch"
        if args.batch_size is None
        else ("online" if args.batch_size == 1 else f"batches of {args.batch_size}")
    )
    held_out = f", {len(val_set)} for validation" if val_set is not None else ""
    model = "" if set(activations) == {"logistic"} else f" ({', '.join(activations)})"
    rule = f"lr {args.lr}" if args.optimizer == BY_NAME["optimizer"].default else f"{args.optimizer}, lr {args.lr}"
    print(f"{data.name}: {len(train_set)} samples for training{held_out}; network {'-'.join(map(str, sizes))}{model}, "
          f"{args.epochs} epochs, {rule}, {batch}, loss {args.loss}")  # fmt: skip
    try:
        history = train(
            net, train_set.X, train_set.Y, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
            momentum=args.momentum, shuffle=args.shuffle, seed=args.seed, train_biases=not args.freeze_biases,
            update=args.update, engine=args.engine, progress=progress, checkpoint=args.checkpoint,
            checkpoint_every=args.checkpoint_every, resume=args.resume, loss=args.loss, huber_delta=args.huber_delta,
            optimizer=args.optimizer,
            betas=args.betas, eps=args.eps, etas=args.etas, step_sizes=args.step_sizes,
            weight_decay=args.weight_decay, nesterov=args.nesterov,
            validation=(val_set.X, val_set.Y) if val_set is not None else None,
            patience=args.patience, min_delta=args.min_delta, target_error=args.target_error,
            fast_math=args.fast_math, diagnose=args.diagnose,
        )  # fmt: skip
    except KeyboardInterrupt as stop:
        done = len(stop.history.errors) if hasattr(stop, "history") else 0
        print(f"interrupted after {done} of {args.epochs} epochs", file=sys.stderr)
        if args.out is not None and hasattr(stop, "history"):
            net.save(args.out, input_bounds=bounds)
            print(f"saved the network as it was after epoch {done} to {args.out}", file=sys.stderr)
        raise
    rate = len(history.errors) * len(train_set) / max(history.seconds, 1e-9)
    print(f"trained in {history.seconds:.3g} s ({rate:,.0f} samples/s)")
    if history.stopped_early:
        why = (
            "the target error"
            if args.target_error is not None and history.errors[-1] <= args.target_error
            else (f"{args.patience} epochs without a better validation error")
        )
        print(f"stopped after epoch {len(history.errors)} of {args.epochs}: {why}")
    if history.best_epoch is not None and args.patience is not None:
        print(f"best validation error in epoch {history.best_epoch}: the network holds its weights")
    print(_report("training", net, train_set, args.loss, args.huber_delta))
    if val_set is not None:
        print(_report("validation", net, val_set, args.loss, args.huber_delta))
    if args.diagnose:
        print("diagnosis:", history.diagnosis())
    if args.out is not None:
        net.save(args.out, input_bounds=bounds)
        print(f"saved the network to {args.out}")
    if args.plot is not None:
        from .plot import plot_errors

        plot_errors(args.plot, history.errors, history.val_errors, title=f"fastbp train {args.data}",
                    diagnostics=history.diagnostics)  # fmt: skip
        drawn = "the error curve and each layer's statistics" if args.diagnose else "the error curve"
        print(f"wrote {drawn} to {args.plot}")


def run_sweep(args) -> None:
    """fastbp sweep: the grid through fastbp.sweep, a CSV of results, the best configuration, a heat map."""
    from .sweep import connect, sweep

    _check_destinations(args, "out", "plot")
    data = _load(args.data, args)
    _warn_targets(data, args.command)
    if args.plot is not None:
        from .plot import _pyplot

        _pyplot()
    client = connect(args.scheduler) if args.scheduler else None
    train_set, val_set = data.split(args.val, seed=0)
    if args.scale:
        _, bounds = datasets.minmax_scale(train_set.X)
        train_set, val_set = train_set.scaled(bounds), val_set.scaled(bounds)
    where = f"on the Dask cluster at {args.scheduler}" if client else "on this machine"
    hidden = args.hidden or [(8,)]
    n = len(hidden) * len(args.lr) * args.seeds
    grid = f"{len(hidden)} hidden x {len(args.lr)} lr x {args.seeds} seeds"
    model = [f"{args.epochs} epochs"]  # then what differs from the article's model
    if (args.activation, args.output_activation) != (DEFAULT_ACTIVATION, DEFAULT_ACTIVATION):
        model.append(f"{args.activation} hidden, {args.output_activation} output")
    model += [f"{name} {getattr(args, name)}" for name in ("optimizer", "loss")
              if getattr(args, name) != BY_NAME[name].default]  # fmt: skip
    print(f"{data.name}: {n} configurations ({grid}), {', '.join(model)}, "
          f"{len(train_set)} training and {len(val_set)} validation samples, {where}")  # fmt: skip
    start = time.perf_counter()
    try:
        result = sweep(
            train_set.X, train_set.Y, hidden=hidden, lr=args.lr, seeds=args.seeds, epochs=args.epochs,
            batch_size=args.batch_size, momentum=args.momentum, shuffle=args.shuffle,
            validation=(val_set.X, val_set.Y), client=client, progress=not args.quiet and sys.stderr.isatty(),
            activation=args.activation, output_activation=args.output_activation, loss=args.loss,
            huber_delta=args.huber_delta, optimizer=args.optimizer, betas=args.betas, eps=args.eps, etas=args.etas,
            step_sizes=args.step_sizes, weight_decay=args.weight_decay, fast_math=args.fast_math,
            nesterov=args.nesterov, diagnose=args.diagnose,
        )  # fmt: skip
    finally:
        if client is not None:
            client.close()
    seconds = time.perf_counter() - start
    result.to_csv(args.out)
    best = result.best("val_error")
    accuracy = f", accuracy {100 * best['val_accuracy']:.1f}%" if "val_accuracy" in best else ""
    print(f"trained in {seconds:.3g} s ({n / seconds:,.1f} configurations/s); wrote {args.out}")
    print(f"best: hidden {best['hidden']}, lr {best['lr']:g}, seed {best['seed']}: "
          f"validation error {best['val_error']:.6g}{accuracy}")  # fmt: skip
    if args.diagnose:
        counts = collections.Counter(record["verdict"] for record in result.records)
        print("verdicts: " + ", ".join(f"{n} {verdict}" for verdict, n in counts.most_common()) +
              f" (the verdict column of {args.out})")  # fmt: skip
    if args.plot is not None:
        from .plot import plot_heat_map, sweep_table

        table, rows, columns = sweep_table(result)
        plot_heat_map(args.plot, table, rows, columns, f"{data.name}: best validation error of {args.seeds} seeds",
                      "learning rate", "hidden units")  # fmt: skip
        print(f"wrote the heat map to {args.plot}")


def run_predict(args) -> None:
    """fastbp predict: the network's outputs for every row of DATA, as CSV."""
    _check_destinations(args, "out")
    net, bounds = load_with_input_bounds(args.model)
    data = _load_inputs(args.data, args, net.sizes[0])
    X = datasets.minmax_scale(data.X, bounds)[0] if bounds is not None else data.X
    outputs = net.forward(X)
    header = ",".join(f"out{j + 1}" for j in range(outputs.shape[1]))
    lines = [header] + [",".join(f"{v:.10g}" for v in row) for row in outputs]
    text = "\n".join(lines) + "\n"
    if args.out is not None:
        with open(args.out, "w") as f:
            f.write(text)
        print(f"wrote {len(outputs)} predictions to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)


def _load_inputs(path: str, args, n_in: int) -> datasets.Dataset:
    """Inputs for a network of n_in inputs: a CSV's first n_in columns, a data set's X."""
    fmt = args.format or datasets.EXTENSIONS.get(os.path.splitext(path)[1].lower())
    if fmt == "csv" and not (path in datasets.BUILT_IN and not os.path.exists(path)):
        with open(path, newline="") as f:
            first = next((row for row in csv.reader(f) if any(row)), [])
        data = datasets.load(path, format="csv", targets=max(len(first) - n_in, 0), read_targets=False)
    else:
        data = _load(path, args)
    if data.X.shape[1] != n_in:
        raise datasets.DataError(f"{path}: the network takes {n_in} inputs; the data has {data.X.shape[1]} columns")
    return data


def run_export(args) -> None:
    """fastbp export: the network (its input scaling folded in) as an ONNX file or a saved torch module."""
    out = args.out
    if out is None:
        out = os.path.splitext(args.model)[0] + (".onnx" if args.to == "onnx" else ".pt")
    _validate.destination("--out", out)
    net, bounds = load_with_input_bounds(args.model)
    if bounds is not None:  # x' = (x - low) / span, so W x' + b = (W / span) x + (b - (W / span) low)
        low, high = bounds
        span = np.where(high > low, high - low, 1.0)
        weights, biases = net.weights, net.biases
        weights[0] = weights[0] / span
        biases[0] = biases[0] - weights[0] @ low
        net = Network.from_arrays(weights, biases, dtype=net.dtype, activations=net.activations)
    if args.to == "onnx":
        net.to_onnx(out)
    else:
        module = net.to_torch()  # first: without torch, its message names the extra to install
        import torch

        torch.save(module, out)
    print(f"wrote {out}", file=sys.stderr)


def run_evaluate(args) -> None:
    """fastbp evaluate: the network's error on DATA, and its accuracy for one-hot targets."""
    net, bounds = load_with_input_bounds(args.model)
    data = _load(args.data, args, targets=1 if args.one_hot else net.sizes[-1])
    if data.X.shape[1] != net.sizes[0] or data.Y.shape[1] != net.sizes[-1]:
        raise datasets.DataError(
            f"{args.data}: the network maps {net.sizes[0]} inputs to {net.sizes[-1]} outputs; "
            f"the data has {data.X.shape[1]} inputs and {data.Y.shape[1]} targets"
        )
    if bounds is not None:
        data = data.scaled(bounds)
    print(f"{data.name}: {len(data)} samples; network {'-'.join(map(str, net.sizes))}")
    loss = args.loss or catalogue.activation(net.activations[-1]).loss
    print(_report("", net, data, loss, args.huber_delta).strip())


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        if args.command == "article":
            run_article(args.rounds, args.update, args.engine, args.plot)
        elif args.command == "train":
            run_train(args)
        elif args.command == "sweep":
            run_sweep(args)
        elif args.command == "predict":
            run_predict(args)
        elif args.command == "evaluate":
            run_evaluate(args)
        elif args.command == "export":
            run_export(args)
    except KeyboardInterrupt:
        print(f"fastbp {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into head, say: stop quietly
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - let the interpreter's final flush succeed
        return 0
    except (ValueError, TypeError, OSError, ImportError, FloatingPointError) as exc:
        print(f"fastbp {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
