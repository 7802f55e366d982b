"""The training options, as one table: name, kind, default, range and meaning.

``train``, ``train_many``, ``sweep`` and the command line all check their options
here (as scikit-learn's ``_param_validation`` does for its estimators), so an
option is added, documented and refused in one place. Messages name the argument
and say what was expected ("lr must be >= 0.0; got -1.0").
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any, NamedTuple

from . import _validate, catalogue

UPDATES = ("simultaneous", "layerwise")
ENGINES = ("numba", "python")
# The catalogue's names, in code order (a name's position is its code in the kernels).
ACTIVATIONS = catalogue.names(catalogue.ACTIVATIONS)
LOSSES = catalogue.names(catalogue.LOSSES)
OPTIMIZERS = catalogue.names(catalogue.OPTIMIZERS)
KERNELS = ("auto", "loops", "blas", "unrolled", "lanes")  # what each is: _dispatch


@dataclass(frozen=True)
class Option:
    """One training option: how it is checked, its default, and what it means."""

    name: str
    kind: str  # "int", "real", "flag", "choice", "seed" (None or int >= 0), "batch" (None or int >= 1),
    # "pair" (two reals, each in [low, high)), "count" (None or int >= low), "target" (None or real >= low)
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    high_open: bool = False
    low_open: bool = False
    choices: tuple[str, ...] = ()
    resumable: bool = True  # False: a checkpoint records it and resuming with another value is refused

    def check(self, value):
        """value checked and converted; ValueError/TypeError naming the option otherwise."""
        if self.kind == "int":
            return _validate.integer(self.name, value, low=self.low)
        if self.kind == "real":
            return _validate.real(
                self.name, value, low=self.low, high=self.high, high_open=self.high_open, low_open=self.low_open
            )
        if self.kind == "flag":
            return _validate.flag(self.name, value)
        if self.kind == "choice":
            return _validate.choice(self.name, value, self.choices)
        if self.kind == "seed":
            return _validate.seed(self.name, value)
        if self.kind == "batch":
            return None if value is None else _validate.integer(self.name, value, low=1)
        if self.kind == "count":
            return None if value is None else _validate.integer(self.name, value, low=self.low)
        if self.kind == "target":
            return None if value is None else _validate.real(self.name, value, low=self.low)
        if self.kind == "pair":
            return _validate.pair(self.name, value, low=self.low, high=self.high, high_open=self.high_open)
        raise AssertionError(f"option {self.name} has an unknown kind {self.kind!r}")

    def check_or_default(self, value):
        """check(value), at no cost when value is the default (of the same type: True is not 1)."""
        default = self.default
        if value is default or (type(value) is type(default) and value == default):
            return default
        return self.check(value)

    def parse(self, text: str):
        """A command-line word to a checked value (an argparse ``type``)."""
        try:
            if self.kind in ("int", "seed", "count") or (self.kind == "batch" and text != "full"):
                return self.check(int(text))
            if self.kind == "batch":
                return None
            if self.kind in ("real", "target"):
                return self.check(float(text))
            if self.kind == "pair":
                return self.check(tuple(float(part) for part in text.split(",")))
            return self.check(text)
        except ValueError as error:
            message = str(error)
            if message.startswith("invalid literal") or message.startswith("could not convert"):
                message = f"{self.name} must be a {'whole ' if self.kind != 'real' else ''}number; got {text!r}"
            raise argparse.ArgumentTypeError(message) from None

    def add_to(self, parser: argparse.ArgumentParser, default=None, help: str | None = None) -> None:
        """This option as --its-name on a command line parser (flags as store_true)."""
        flag = "--" + self.name.replace("_", "-")
        text = help or self.help
        if self.kind == "flag":
            parser.add_argument(flag, action="store_true", help=text)
        else:
            value = self.default if default is None else default
            choices = self.choices or None
            kind = None if choices else self.parse
            parser.add_argument(flag, type=kind, choices=choices, default=value, help=f"{text} (default {value})")


OPTIONS = (
    Option("epochs", "int", 1, "passes over the data", low=0),
    Option("lr", "real", 0.5, "learning rate eta", low=0.0, resumable=False),
    Option(
        "batch_size",
        "batch",
        1,
        "1 = online (the article), k = mean gradient of k samples, 'full' = all",
        resumable=False,
    ),  # fmt: skip
    Option(
        "momentum", "real", 0.0, "classical momentum in [0, 1)", low=0.0, high=1.0, high_open=True, resumable=False
    ),  # fmt: skip
    Option("shuffle", "flag", False, "a new sample order every epoch", resumable=False),
    Option("seed", "seed", None, "seed of the shuffle", resumable=False),
    Option("train_biases", "flag", True, "train the biases (False freezes them, as in the article)", resumable=False),
    Option("update", "choice", "simultaneous", "update order", choices=UPDATES, resumable=False),
    Option("engine", "choice", "numba", "numba (compiled kernels) or python (the oracle)", choices=ENGINES),
    Option("progress", "flag", False, "a progress bar on long runs"),
    Option("kernel", "choice", "auto", "force a kernel (for tests and benchmarks)", choices=KERNELS),
    Option(
        "loss",
        "choice",
        "squared",
        f"the error: {' or '.join(LOSSES)} (the first is the article's)",
        choices=LOSSES,
        resumable=False,
    ),  # fmt: skip
    Option(
        "huber_delta",
        "real",
        1.0,
        "the Huber loss's threshold: squared within it of the target, linear beyond (> 0)",
        low=0.0,
        low_open=True,
        resumable=False,
    ),  # fmt: skip
    Option(
        "optimizer",
        "choice",
        "sgd",
        ", ".join(f"{o.name} (lr, {', '.join(o.options)})" for o in catalogue.OPTIMIZERS),
        choices=OPTIMIZERS,
        resumable=False,
    ),  # fmt: skip
    Option("nesterov", "flag", False, "Nesterov's momentum (needs momentum > 0)", resumable=False),
    Option(
        "betas",
        "pair",
        (0.9, 0.999),
        "Adam's decay rates of its two moments, each in [0, 1)",
        low=0.0,
        high=1.0,
        high_open=True,
        resumable=False,
    ),  # fmt: skip
    Option("eps", "real", 1e-8, "Adam's term added to the denominator (> 0)", low=0.0, low_open=True, resumable=False),
    Option(
        "etas", "pair", (0.5, 1.2), "RPROP's step factors (shrink in (0, 1), grow > 1)", low=0.0, resumable=False
    ),  # fmt: skip
    Option("step_sizes", "pair", (1e-6, 50.0), "RPROP's smallest and largest step", low=0.0, resumable=False),
    Option(
        "weight_decay",
        "real",
        0.0,
        "L2 penalty on the weights (never biases): g += weight_decay * w",
        low=0.0,
        resumable=False,
    ),  # fmt: skip
    Option("patience", "count", None, "stop after this many epochs without a better validation error", low=1),
    Option("min_delta", "real", 0.0, "how much better the validation error must get to count", low=0.0),
    Option("restore_best", "flag", True, "with patience: end with the weights of the best epoch"),
    Option("target_error", "target", None, "stop after the first epoch whose mean error is at most this", low=0.0),
    Option(
        "fast_math",
        "flag",
        False,
        "online steps' logistic e^x from a table: faster, within 1e-12 of the default but not bit for bit",
        resumable=False,
    ),  # fmt: skip
    Option("diagnose", "flag", False, "record each layer's statistics and give a verdict (history.diagnosis())"),
)
# The options train_many takes: the same for every network (no early stopping: that needs one validation each).
MANY = tuple(name for name in (option.name for option in OPTIONS)
             if name not in ("patience", "min_delta", "restore_best", "target_error"))  # fmt: skip
BY_NAME = {option.name: option for option in OPTIONS}
# The settings each optimiser must leave at their defaults: the other optimisers' own.
_FOREIGN = {
    optimizer.name: sorted({name for other in catalogue.OPTIMIZERS for name in other.options} - set(optimizer.options))
    for optimizer in catalogue.OPTIMIZERS
}


class Options(NamedTuple):
    """Checked training options (batch_size a number of samples), plus the run loop's periods."""

    epochs: int
    lr: float
    batch_size: int
    momentum: float
    nesterov: bool
    shuffle: bool
    seed: int | None
    train_biases: bool
    update: str
    engine: str
    progress: bool
    kernel: str
    loss: str
    huber_delta: float
    optimizer: str
    betas: tuple[float, float]
    eps: float
    etas: tuple[float, float]
    step_sizes: tuple[float, float]
    weight_decay: float
    patience: int | None
    min_delta: float
    restore_best: bool
    target_error: float | None
    fast_math: bool
    diagnose: bool
    validating: bool = False  # a validation set was given
    callback_every: int = 0  # epochs between callbacks; 0: no callback
    checkpoint_every: int = 0  # epochs between checkpoints; 0: none

    @property
    def layerwise(self) -> bool:
        return self.update == "layerwise"


def check(n_samples: int, **values) -> Options:
    """Every option of the table checked (the table's default where not given); batch_size None -> n_samples.

    A call whose values (and their types, inside tuples too: True == 1) repeat an earlier accepted call's takes that
    call's result, a dictionary look-up instead of ~8 us of checks: train() in a loop of short runs.
    """
    given = tuple(values.values())
    inner = [type(x) for value in given if isinstance(value, tuple) for x in value]  # (a list: 0.5 us less)
    key = (n_samples, type(n_samples), tuple(values), given, tuple(map(type, given)), tuple(inner))
    try:
        accepted = _ACCEPTED.get(key)
    except TypeError:  # an unhashable value (a list or an array as a pair): checked every time
        key = accepted = None
    if accepted is None:
        accepted = _check(n_samples, values)
        if key is not None:
            if len(_ACCEPTED) >= _ACCEPTED_MAX:
                _ACCEPTED.clear()
            _ACCEPTED[key] = accepted
    return accepted


_ACCEPTED: dict = {}  # check's results by their calls' values
_ACCEPTED_MAX = 4096


def _check(n_samples: int, values: dict) -> Options:
    extra = ("validating", "callback_every", "checkpoint_every")
    unknown = set(values) - set(BY_NAME) - set(extra)
    if unknown:
        raise TypeError(f"unknown training option {sorted(unknown)[0]!r}; the options are {', '.join(BY_NAME)}")
    checked = {option.name: option.check_or_default(values.get(option.name, option.default)) for option in OPTIONS}
    checked["batch_size"] = min(n_samples if checked["batch_size"] is None else checked["batch_size"], n_samples)
    _check_together(checked, values.get("validating", False))
    if checked["progress"]:
        progress_bar_class()  # fail now, before training, if tqdm is missing
    return Options(**checked, **{key: values[key] for key in extra if key in values})


def _check_together(opts: dict, validating: bool) -> None:
    """The rules between options: each refusal names the option that does not fit."""
    eta_minus, eta_plus = opts["etas"]
    if not 0.0 < eta_minus < 1.0 < eta_plus:
        raise ValueError(f"etas must be (eta_minus, eta_plus) with 0 < eta_minus < 1 < eta_plus; got {opts['etas']}")
    if not 0.0 < opts["step_sizes"][0] <= opts["step_sizes"][1]:
        raise ValueError(
            f"step_sizes must be (smallest, largest) with 0 < smallest <= largest; got {opts['step_sizes']}"
        )
    optimizer = catalogue.optimizer(opts["optimizer"])
    for name in _FOREIGN[optimizer.name]:  # (check_or_default returns a default itself: `is` settles most)
        if opts[name] is not BY_NAME[name].default and opts[name] != BY_NAME[name].default:
            users = [o.name for o in catalogue.OPTIMIZERS if name in o.options]
            raise ValueError(f"{name} applies to optimizer={' or '.join(map(repr, users))}, not "
                             f"optimizer={optimizer.name!r}; got {name}={opts[name]}")  # fmt: skip
    _check_loss_options(opts)
    if opts["nesterov"] and opts["momentum"] == 0.0:
        raise ValueError("nesterov=True needs momentum > 0 (it is a kind of momentum); got momentum=0.0")
    if not optimizer.layerwise and opts["update"] == "layerwise":
        takes = [o.name for o in catalogue.OPTIMIZERS if o.layerwise]
        raise ValueError(f"update='layerwise' applies to optimizer={' or '.join(map(repr, takes))} only; got "
                         f"optimizer={optimizer.name!r}")  # fmt: skip
    if opts["patience"] is not None and not validating:
        raise ValueError("patience needs validation=(X_val, Y_val): it counts epochs without a better validation error")


def _check_loss_options(opts: dict) -> None:
    """A loss's own option (the Huber loss's huber_delta) is left at its default under the other losses."""
    for other in catalogue.LOSSES:
        name = other.option
        if name is not None and other.name != opts["loss"] and opts[name] != BY_NAME[name].default:
            raise ValueError(
                f"{name} applies to loss={other.name!r}, not loss={opts['loss']!r}; got {name}={opts[name]}"
            )


def loss_options(loss: str, /, **values) -> dict:
    """The losses' options (huber_delta) checked for a checked loss name, as train() checks them: what
    Network.error and gradients take beside the loss."""
    names = [other.option for other in catalogue.LOSSES if other.option is not None]
    checked = {name: BY_NAME[name].check_or_default(values.get(name, BY_NAME[name].default)) for name in names}
    _check_loss_options({"loss": loss, **checked})
    return checked


def fingerprint(opts: Options, n_samples: int) -> dict:
    """What a checkpoint must agree on with the call that resumes it: every option that changes results."""
    recorded = {option.name: getattr(opts, option.name) for option in OPTIONS if not option.resumable}
    recorded = {name: list(value) if isinstance(value, tuple) else value for name, value in recorded.items()}
    return recorded | {"n_samples": int(n_samples)}


def progress_bar_class():
    """tqdm's bar, or a one-line ImportError saying how to install it."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        raise ImportError("progress=True needs tqdm: pip install 'fastbp[progress]'") from None
    return tqdm
