"""The catalogue: every activation, loss and optimiser, each introduced in exactly one record.

A record holds what fastbp knows of its element: its name (its position in its table
is its code in the compiled kernels), its oracle functions, where it may stand, how
the walkthrough writes it, its initial-weight factor, its PyTorch module and ONNX
operator, its hyper-parameters. The options table, the command line, sweep, the
estimators, export, trace, the oracle and the tests read these tables; no other
module lists the names. An unknown name is a ValueError that lists the known ones.

Adding an activation: its oracle function and derivative (oracle.py), its record
here, and its primitives in _kernels.py named after it (_<name>, _<name>_slope): the
kernels generate their choices from this table (docs/design.md, "The compiled side"),
and the tests take their cases from it. A loss or an optimiser still also needs its
code constant and its case in the kernels' chains (tests/test_catalogue.py checks the
codes against these tables' order).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from . import oracle


@dataclass(frozen=True)
class Activation:
    """A unit's activation: out = f(net)."""

    name: str
    forward: Callable  # oracle: out = f(net) (whole_layer: the layer's outs from its nets)
    slope: Callable | None  # oracle: dout/dnet from out, or from net with slope_from_net (None for a whole-layer
    # activation: the losses handle it)
    out_text: str  # the walkthrough's out_{u} = ... ({u}: the unit; {all}: the layer's terms)
    slope_text: str  # the walkthrough's dout_{u}/dnet_{u} = ...
    torch: tuple[str, dict]  # torch.nn module name and keyword arguments
    onnx: str | None  # ONNX operator after the layer's Gemm (None: no node; see onnx_slope)
    onnx_slope: float | None = None  # write as Max(x, slope x) with the slope a constant in the network's dtype
    onnx_attributes: dict = field(default_factory=dict)
    whole_layer: bool = False  # acts on the layer's net inputs together (softmax)
    hidden: bool = True  # may stand in a hidden layer
    min_units: int = 1  # the fewest units its layer may have
    loss: str = "squared"  # the loss an output layer of it is scored with unless one is named (the command line)
    init_factor: float = 6.0  # Glorot-uniform bound sqrt(factor / (fan_in + fan_out)), as scikit-learn draws
    # Diagnostics (fastbp.diagnostics): an output whose slope dout/dnet is below this is on a flat spot
    # (1% of the activation's largest slope; None: it has no flat spots worth counting) ...
    saturated_below: float | None = None
    # ... and a unit of it is dead when its net input is <= 0 for every sample (its slope is then 0 or nearly;
    # True only where out > 0 exactly when net > 0, which the kernels test on the outputs they keep).
    dies: bool = False
    # Its slope is computed from the net input (GELU, SiLU: the output does not determine it), so the kernels keep
    # its layers' net inputs (train_many's lanes and the BLAS kernel do not: such networks train in the loops).
    slope_from_net: bool = False
    onnx_gate: bool = False  # ONNX writes it as the net input times the operator's output (SiLU: x Sigmoid(x))
    onnx_opset: int | None = None  # the ONNX opset that introduced its operator, when export's default lacks it


@dataclass(frozen=True)
class Loss:
    """The per-sample error of the output layer."""

    name: str
    error: Callable  # oracle: E = error(target, out, net, output activation record[, its option])
    delta: Callable  # oracle: dE/dnet of the output units = delta(target, out, output activation record[, its option])
    outputs: tuple[str, ...] | None  # the output activations it takes (None: any)
    per_output_mean: bool  # scikit-learn reports it as a mean over outputs (its squared error), not a sum
    targets_low: float | None = None  # the smallest target it takes (None: any)
    # Its output deltas hold no slope of the output activation (out - target): the output's flat spots
    # do not stall it (diagnostics count saturated outputs as trouble only under the other losses).
    slope_free: bool = False
    # The walkthrough (fastbp.trace): one output's E_{u}, with {t}, {o} its target and output and {option} its
    # option's value (None: the layer's error is one term, softmax's cross-entropy) ...
    unit_text: str = ""
    # ... and, for a loss whose deltas hold the output's slope, its dE/dout_{u} and that value, gradient(t, o[, its
    # option]) (None: slope-free, its delta is out_{u} - target_{u}).
    gradient_text: str | None = None
    gradient: Callable | None = None
    # Its hyper-parameter: a name in _options.OPTIONS, passed to error, delta and gradient by keyword (the Huber loss's
    # huber_delta), and to the kernels as their loss record's parameter (at most one).
    option: str | None = None

    def option_value(self, options) -> float:
        """Its option's value read from options (a mapping or an Options); 0.0 for a loss without one."""
        if self.option is None:
            return 0.0
        return options[self.option] if isinstance(options, dict) else getattr(options, self.option)

    def bound(self, options) -> Loss:
        """The record with its option's value bound into its oracle functions: what oracle.step takes."""
        if self.option is None:
            return self
        keyword = {self.option: self.option_value(options)}
        bind = functools.partial(functools.partial, **keyword)
        gradient = None if self.gradient is None else bind(self.gradient)
        return replace(self, error=bind(self.error), delta=bind(self.delta), gradient=gradient)


@dataclass(frozen=True)
class Optimizer:
    """How a parameter moves, given its gradient."""

    name: str
    move: Callable  # oracle: w+ = move(w, grad, state, rule), state updated in place
    options: tuple[str, ...]  # its hyper-parameters: names in _options.OPTIONS (lr aside)
    layerwise: bool  # update="layerwise" applies
    per_batch: bool  # one update per batch of any size (scikit-learn's "stochastic": partial_fit)
    first_state_is_lr: bool = False  # its first state value starts at the learning rate (RPROP's step sizes)
    lanes: bool = False  # train_many's lanes and the unrolled kernels run it (gradient descent, with momentum)
    decoupled: bool = False  # weight_decay shrinks the weights before its step (AdamW), not L2 in the gradient
    moments: bool = False  # its state is Adam's two moments: the kernels' Adam loops update it (Adam, AdamW)


ACTIVATIONS = (
    Activation(
        "logistic", oracle.logistic, oracle.logistic_derivative, "1 / (1 + e^(-net_{u}))", "out_{u} (1 - out_{u})",
        ("Sigmoid", {}), "Sigmoid", init_factor=2.0, saturated_below=0.0025,
    ),
    Activation(
        "tanh", oracle.tanh, oracle.tanh_derivative, "tanh(net_{u})", "1 - out_{u}^2", ("Tanh", {}), "Tanh",
        saturated_below=0.01,
    ),
    Activation(
        "relu", oracle.relu, oracle.relu_derivative, "max(0, net_{u})", "1 if net_{u} > 0, else 0", ("ReLU", {}),
        "Relu", dies=True,
    ),
    # ONNX's LeakyRelu takes its slope as a float32 attribute (0.009999999776, 2e-8 off in float64):
    # Max(x, 0.01 x) with 0.01 in the network's dtype equals max(0, x) + 0.01 min(0, x) exactly.
    Activation(
        "leaky_relu", oracle.leaky_relu, oracle.leaky_relu_derivative, "net_{u} if net_{u} > 0, else 0.01 net_{u}",
        "1 if net_{u} > 0, else 0.01", ("LeakyReLU", {"negative_slope": oracle.LEAKY_SLOPE}), "Max",
        onnx_slope=oracle.LEAKY_SLOPE, dies=True,
    ),
    Activation("identity", oracle.identity, oracle.identity_derivative, "net_{u}", "1", ("Identity", {}), None),
    Activation(
        "softmax", oracle.softmax, None, "e^(net_{u}) / ({all})", "", ("Softmax", {"dim": -1}), "Softmax",
        onnx_attributes={"axis": -1}, whole_layer=True, hidden=False, min_units=2, loss="cross_entropy",
    ),
    Activation(
        "softplus", oracle.softplus, oracle.softplus_derivative, "log(1 + e^(net_{u}))", "1 - e^(-out_{u})",
        ("Softplus", {"beta": 1.0, "threshold": oracle.SOFTPLUS_THRESHOLD}), "Softplus",
    ),
    Activation(
        "elu", oracle.elu, oracle.elu_derivative, "net_{u} if net_{u} > 0, else e^(net_{u}) - 1",
        "1 if net_{u} > 0, else out_{u} + 1", ("ELU", {"alpha": 1.0}), "Elu",
    ),
    # torch.nn has no e^x module: fastbp.export.Exp is one (torch_module finds it).
    Activation("exp", oracle.exp, oracle.exp_derivative, "e^(net_{u})", "out_{u}", ("Exp", {}), "Exp"),
    Activation(
        "gelu", oracle.gelu, oracle.gelu_derivative, "net_{u} Phi(net_{u})", "Phi(net_{u}) + net_{u} phi(net_{u})",
        ("GELU", {"approximate": "none"}), "Gelu", slope_from_net=True, onnx_opset=20,
    ),
    Activation(
        "silu", oracle.silu, oracle.silu_derivative, "net_{u} / (1 + e^(-net_{u}))",
        "s (1 + net_{u} (1 - s)), s = 1 / (1 + e^(-net_{u}))", ("SiLU", {}), "Sigmoid", slope_from_net=True,
        onnx_gate=True,
    ),
)  # fmt: skip

LOSSES = (
    Loss("squared", oracle.squared_error, oracle.squared_delta, outputs=None, per_output_mean=True,
         unit_text="1/2 (target_{u} - out_{u})^2 = 1/2 ({t} - {o})^2", gradient_text="-(target_{u} - out_{u})",
         gradient=oracle.squared_gradient),
    Loss("cross_entropy", oracle.cross_entropy, oracle.cross_entropy_delta, outputs=("softmax", "logistic"),
         per_output_mean=False, slope_free=True,
         unit_text="-(target_{u} log out_{u} + (1 - target_{u}) log(1 - out_{u}))"),
    # scikit-learn's MLPRegressor(loss="poisson"): half the Poisson deviance of e^net outputs.
    Loss("poisson", oracle.poisson, oracle.poisson_delta, outputs=("exp",), per_output_mean=False, targets_low=0.0,
         slope_free=True, unit_text="target_{u} log(target_{u} / out_{u}) - target_{u} + out_{u}"),
    # torch.nn.HuberLoss(delta=huber_delta), summed over the outputs: squared near the target, linear beyond.
    Loss("huber", oracle.huber, oracle.huber_loss_delta, outputs=None, per_output_mean=False, option="huber_delta",
         unit_text="h(target_{u} - out_{u}) = h({t} - {o}), h(d) = d^2/2 where |d| <= {option}, else {option} (|d| - "
         "{option}/2)",
         gradient_text="-(target_{u} - out_{u}) clipped to [-{option}, {option}]", gradient=oracle.huber_gradient),
)  # fmt: skip

OPTIMIZERS = (
    Optimizer("sgd", oracle.sgd_move, ("momentum", "nesterov"), layerwise=True, per_batch=True, lanes=True),
    Optimizer("adam", oracle.adam_move, ("betas", "eps"), layerwise=False, per_batch=True, moments=True),
    Optimizer("rprop", oracle.rprop_move, ("etas", "step_sizes"), layerwise=False, per_batch=False,
              first_state_is_lr=True),
    Optimizer("adamw", oracle.adam_move, ("betas", "eps"), layerwise=False, per_batch=True, decoupled=True,
              moments=True),
)  # fmt: skip


def names(table) -> tuple[str, ...]:
    """The names of a table's records, in code order."""
    return tuple(record.name for record in table)


def code(table, name: str) -> int:
    """A record's code: its position in its table (a dict look-up: train() asks for two per call)."""
    return _CODES[id(table)][name]


_CODES = {id(table): {record.name: k for k, record in enumerate(table)} for table in (ACTIVATIONS, LOSSES, OPTIMIZERS)}
# Each kind's records by name (what activation(), loss() and optimizer() read).
BY_NAME = {kind: {record.name: record for record in table}
           for kind, table in (("activation", ACTIVATIONS), ("loss", LOSSES), ("optimizer", OPTIMIZERS))}  # fmt: skip


def _find(kind: str, name: str):
    """The record of that name; ValueError naming the known ones otherwise (nothing falls back)."""
    records = BY_NAME[kind]
    try:
        return records[name]
    except (KeyError, TypeError):  # (TypeError: an unhashable name)
        raise ValueError(f"unknown {kind} {name!r}; the known ones are {', '.join(records)}") from None


def activation(name: str) -> Activation:
    return _find("activation", name)


def loss(name: str) -> Loss:
    return _find("loss", name)


def optimizer(name: str) -> Optimizer:
    return _find("optimizer", name)


def hidden_activations() -> tuple[str, ...]:
    """The activations that may stand in hidden layers."""
    return tuple(record.name for record in ACTIVATIONS if record.hidden)


def check_targets(loss_name: str, Y, name: str = "Y") -> None:
    """A loss that takes only targets from some value up (the Poisson loss: counts or rates, >= 0) refuses
    the others before any work."""
    low = loss(loss_name).targets_low
    if low is not None and len(Y) and not (Y >= low).all():
        raise ValueError(f"loss={loss_name!r} takes targets >= {low:g} (counts or rates); {name} has smaller ones")


def check_output(activations: tuple[str, ...], loss_name: str) -> None:
    """A loss that takes only some output activations refuses the others, naming what it takes."""
    takes = loss(loss_name).outputs
    if takes is not None and activations[-1] not in takes:
        raise ValueError(
            f"loss={loss_name!r} needs an output layer of {' or '.join(map(repr, takes))} units; this network's output "
            f"activation is {activations[-1]!r} (use loss='squared', or build the network with another output)"
        )
