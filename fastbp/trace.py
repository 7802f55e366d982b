"""trace(): one training step on one sample, every intermediate quantity kept and named."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import _options, _validate, catalogue, oracle
from ._options import LOSSES, UPDATES
from .network import Network

UPDATE_ORDER_NOTE = (
    "Why two update orders? The article's text computes the hidden deltas from the ORIGINAL\n"
    "output weights (update='simultaneous', fastbp's default). Its later figures (error 0.291027924\n"
    "after one round; 0.000035085 and outputs 0.015912196, 0.984065734 after 10,000 rounds) came\n"
    "from code that first updated the output weights and then computed the hidden deltas through\n"
    "the UPDATED weights (update='layerwise'). Both are gradient descent; only 'simultaneous'\n"
    "follows the exact gradient of E at the current weights."
)


@dataclass
class Trace:
    """Every quantity of one backpropagation step, as the article names them."""

    net_inputs: list[np.ndarray]  # per layer above the input: net_j
    outputs: list[np.ndarray]  # per layer, input first: out_j
    total_error: float  # E_total
    deltas: list[np.ndarray]  # per layer above the input: dE/dnet_j
    weight_gradients: list[np.ndarray]  # dE/dW per layer
    bias_gradients: list[np.ndarray]  # dE/db per unit, per layer
    updated_weights: list[np.ndarray]  # W+ per layer
    weights: list[np.ndarray]  # W before the step
    biases: list[np.ndarray]
    tied: tuple[bool, ...]
    targets: np.ndarray
    lr: float
    update: str
    activations: tuple[str, ...] = ()
    loss: str = "squared"
    loss_options: dict = field(default_factory=dict)  # the loss's option (huber_delta), when it has one

    def __str__(self) -> str:
        return "\n".join(_walkthrough(self))


def trace(net: Network, x, y, lr: float = 0.5, update: str = "simultaneous", loss: str = "squared",
          huber_delta: float = 1.0) -> Trace:  # fmt: skip
    """One online step of the oracle on sample (x, y), recorded; ``net`` is not changed.

    Biases are not updated (as in the article); their gradients are reported. The
    network's activations and the loss choose the formulas, which the printout shows.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a fastbp.Network; got {_validate._describe(net)}")
    X, Y = _validate.samples(x, y, net.sizes[0], net.sizes[-1])
    if X.shape[0] != 1:
        raise ValueError(f"x must be one sample (a 1-D array of {net.sizes[0]} values); got {X.shape[0]} rows")
    lr = _validate.real("lr", lr, low=0.0)
    update = _validate.choice("update", update, UPDATES)
    loss = _validate.choice("loss", loss, LOSSES)
    loss_options = _options.loss_options(loss, huber_delta=huber_delta)
    catalogue.check_output(net.activations, loss)  # refuses cross-entropy on other outputs than softmax and logistic
    activations = [catalogue.activation(name) for name in net.activations]
    rule = catalogue.loss(loss).bound(loss_options)
    W = [W_l.tolist() for W_l in net.weights]
    b = [b_l.tolist() for b_l in net.biases]
    x, y = X[0].tolist(), Y[0].tolist()

    nets, outs = oracle.forward(W, b, x, activations)
    E_total = oracle.sample_error(y, outs[-1], nets[-1], activations[-1], rule)
    n_layers = len(W)
    deltas = [None] * n_layers
    grads = [None] * n_layers
    W_new = [None] * n_layers
    deltas[-1] = oracle.delta_output(y, outs[-1], nets[-1], activations[-1], rule)
    for l in reversed(range(n_layers)):
        grads[l] = oracle.weight_gradient(deltas[l], outs[l])
        W_new[l] = [
            [oracle.update(w, g, lr, 0.0, 0.0)[0] for w, g in zip(row, g_row)] for row, g_row in zip(W[l], grads[l])
        ]
        if l > 0:
            W_used = W_new[l] if update == "layerwise" else W[l]
            deltas[l - 1] = oracle.delta_hidden(W_used, deltas[l], outs[l], activations[l - 1], nets[l - 1])
    arrays = lambda rows: [np.array(r) for r in rows]  # noqa: E731
    return Trace(
        net_inputs=arrays(nets),
        outputs=arrays(outs),
        total_error=E_total,
        deltas=arrays(deltas),
        weight_gradients=arrays(grads),
        bias_gradients=arrays(deltas),
        updated_weights=arrays(W_new),
        weights=net.weights,
        biases=net.biases,
        tied=net.tied_biases,
        targets=np.array(y),
        lr=lr,
        update=update,
        activations=net.activations,
        loss=loss,
        loss_options=loss_options,
    )


# --- the article-style walkthrough --------------------------------------------


def fmt(value: float) -> str:
    """A number as the article prints it: 9 decimals, trailing zeros dropped."""
    if value != 0.0 and not 1e-4 <= abs(value) < 1e6:
        return f"{value:.9g}"
    text = f"{value:.9f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _names(t: Trace):
    """Article names: units i1.., h1.. (h1_1.. with several hidden layers), o1..; w1.. in order."""
    sizes = [len(t.outputs[0])] + [len(n) for n in t.net_inputs]
    n_hidden = len(sizes) - 2
    units = [[f"i{i + 1}" for i in range(sizes[0])]]
    for k in range(1, n_hidden + 1):
        prefix = "h" if n_hidden == 1 else f"h{k}_"
        units.append([f"{prefix}{j + 1}" for j in range(sizes[k])])
    units.append([f"o{j + 1}" for j in range(sizes[-1])])
    weights, count = [], 0
    for l in range(len(sizes) - 1):
        layer = []
        for _ in range(sizes[l + 1]):
            layer.append([f"w{count + i + 1}" for i in range(sizes[l])])
            count += sizes[l]
        weights.append(layer)
    biases = [
        [f"b{l + 1}"] * sizes[l + 1] if t.tied[l] else [f"b_{u}" for u in units[l + 1]] for l in range(len(sizes) - 1)
    ]
    return units, weights, biases


def _as_inputs(units, l):
    """How layer l's units appear as inputs above: i1 for the input layer, out_h1 for the others."""
    return units[l] if l == 0 else [f"out_{u}" for u in units[l]]


def _walkthrough(t: Trace):
    units, wn, bn = _names(t)
    acts = t.activations or ("logistic",) * len(t.net_inputs)
    n_layers = len(t.net_inputs)
    sizes = "-".join(str(len(u)) for u in units)
    described = (
        ""
        if set(acts) == {"logistic"} and t.loss == "squared"
        else (f", activations {', '.join(acts)}, loss '{t.loss}'")
    )
    yield f"Backpropagation, step by step: a {sizes} network, eta = {fmt(t.lr)}, update = '{t.update}'{described}"
    yield ""
    yield "The forward pass"
    for l in range(n_layers):
        below = _as_inputs(units, l)
        for j, u in enumerate(units[l + 1]):
            terms = " + ".join(f"{wn[l][j][i]} * {v}" for i, v in enumerate(below))
            values = " + ".join(f"{fmt(t.weights[l][j, i])} * {fmt(t.outputs[l][i])}" for i in range(len(below)))
            bias = f"{bn[l][j]} * 1 = {values} + {fmt(t.biases[l][j])} * 1"
            yield f"  net_{u} = {terms} + {bias} = {fmt(t.net_inputs[l][j])}"
            every = " + ".join(f"e^(net_{a})" for a in units[l + 1])
            text = catalogue.activation(acts[l]).out_text.format(u=u, all=every)
            yield f"  out_{u} = {text} = {fmt(t.outputs[l + 1][j])}"
    yield ""
    yield "Calculating the total error"
    yield from _error_lines(t, units[-1], acts[-1])
    for l in reversed(range(n_layers)):
        yield ""
        if l == n_layers - 1:
            yield "The backwards pass: output layer"
            yield from _output_delta_lines(t, units[-1], acts[-1])
        else:
            yield f"The backwards pass: hidden layer {units[l + 1][0]}.."
            W_used = t.updated_weights[l + 1] if t.update == "layerwise" else t.weights[l + 1]
            mark = "+" if t.update == "layerwise" else ""
            for j, u in enumerate(units[l + 1]):
                parts, dE_dout = [], 0.0
                for k, a in enumerate(units[l + 2]):
                    parts.append(f"dE_{a}/dout_{u}")
                    value = t.deltas[l + 1][k] * W_used[k, j]
                    dE_dout += value
                    yield f"  dE_{a}/dout_{u} = delta_{a} * {wn[l + 1][k][j]}{mark} = {fmt(value)}"
                o = t.outputs[l + 1][j]
                yield f"  dE_total/dout_{u} = {' + '.join(parts)} = {fmt(dE_dout)}"
                record = catalogue.activation(acts[l])
                slope = oracle.slope(record, t.net_inputs[l][j], o)
                yield f"  dout_{u}/dnet_{u} = {record.slope_text.format(u=u)} = {fmt(slope)}"
                yield f"  delta_{u} = dE_total/dout_{u} * dout_{u}/dnet_{u} = {fmt(t.deltas[l][j])}"
        for j, u in enumerate(units[l + 1]):
            for i, v in enumerate(_as_inputs(units, l)):
                w, g, w_new = t.weights[l][j, i], t.weight_gradients[l][j, i], t.updated_weights[l][j, i]
                name = wn[l][j][i]
                yield f"  dE_total/d{name} = delta_{u} * {v} = {fmt(g)}"
                step = f"{fmt(w)} - {fmt(t.lr)} * {fmt(g)}"
                yield f"  {name}+ = {name} - eta * dE_total/d{name} = {step} = {fmt(w_new)}"
        if t.tied[l]:
            total = " + ".join(f"delta_{u}" for u in units[l + 1])
            value = fmt(float(np.sum(t.bias_gradients[l])))
            yield f"  dE_total/d{bn[l][0]} = {total} = {value}  ({bn[l][0]} is shared, so its gradient is the sum)"
        else:
            for j, u in enumerate(units[l + 1]):
                yield f"  dE_total/d{bn[l][j]} = delta_{u} = {fmt(t.bias_gradients[l][j])}"
    yield ""
    yield "Biases are not updated in this walkthrough, as in the article (train(..., train_biases=True) updates them)."
    if n_layers > 1:
        yield ""
        if t.update == "layerwise":
            yield "The hidden deltas used the UPDATED weights of the layer above (marked +): update='layerwise'."
        else:
            yield "The hidden deltas used the ORIGINAL weights of the layer above: update='simultaneous'."
        yield UPDATE_ORDER_NOTE


def _error_lines(t: Trace, out_units, output: str):
    """The error of the sample, term by term, as the loss (its record's texts) and the output activation define it."""
    outs, nets = t.outputs[-1], t.net_inputs[-1]
    loss, activation = catalogue.loss(t.loss).bound(t.loss_options), catalogue.activation(output)
    option = loss.option_value(t.loss_options)
    if activation.whole_layer and loss.slope_free:  # softmax's cross-entropy: one term for the layer
        terms = " + ".join(f"target_{u} log out_{u}" for u in out_units)
        yield f"  E_total = -({terms}) (cross-entropy, from the net inputs) = {fmt(t.total_error)}"
        return
    for j, u in enumerate(out_units):
        E = loss.error([t.targets[j]], [outs[j]], [nets[j]], activation)
        text = loss.unit_text.format(u=u, t=fmt(t.targets[j]), o=fmt(outs[j]), option=fmt(option))
        yield f"  E_{u} = {text} = {fmt(E)}"
    yield f"  E_total = {' + '.join(f'E_{u}' for u in out_units)} = {fmt(t.total_error)}"


def _output_delta_lines(t: Trace, out_units, output: str):
    """dE/dnet of each output unit, in the form the loss (its record's texts) and the output activation give it."""
    outs, deltas = t.outputs[-1], t.deltas[-1]
    loss = catalogue.loss(t.loss).bound(t.loss_options)
    option = loss.option_value(t.loss_options)
    for j, u in enumerate(out_units):
        o = outs[j]
        if loss.slope_free:
            form = (
                f"out_{u} - target_{u}"
                if output != "softmax" or sum(t.targets) == 1
                else (f"out_{u} * sum_k target_k - target_{u}")
            )
            yield f"  delta_{u} = dE_total/dnet_{u} = {form} = {fmt(deltas[j])}"
            continue
        gradient = loss.gradient(t.targets[j], o)
        yield f"  dE_total/dout_{u} = {loss.gradient_text.format(u=u, option=fmt(option))} = {fmt(gradient)}"
        if output == "softmax":
            total = " + ".join(f"dE_total/dout_{a} out_{a}" for a in out_units)
            yield f"  delta_{u} = out_{u} (dE_total/dout_{u} - ({total})) = {fmt(deltas[j])}"
            continue
        record = catalogue.activation(output)
        slope = oracle.slope(record, t.net_inputs[-1][j], o)
        yield f"  dout_{u}/dnet_{u} = {record.slope_text.format(u=u)} = {fmt(slope)}"
        yield f"  delta_{u} = dE_total/dout_{u} * dout_{u}/dnet_{u} = {fmt(deltas[j])}"
