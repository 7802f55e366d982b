"""The pure-Python oracle: backpropagation exactly as the article tells it.

This module is the reference every compiled kernel is tested against. It uses
plain lists and ``math`` only, one small function per step of "A Step by Step
Backpropagation Example", with the article's names:

    net    total net input of a unit:      net_j = sum_i w_ji * out_i + b_j
    out    its output (logistic):           out_j = 1 / (1 + e^(-net_j))
    E      the error of one sample:         E_total = sum_o 1/2 (target_o - out_o)^2
    delta  dE/dnet of a unit:               delta_o = -(target_o - out_o) * out_o (1 - out_o)
                                            delta_h = (sum_o delta_o * w_oh) * out_h (1 - out_h)
    eta    the learning rate:               w+ = w - eta * dE/dw,   dE/dw_ji = delta_j * out_i

Glossary: ``W[l][j][i]`` is the weight from unit i of layer l to unit j of layer
l + 1; ``b[l][j]`` the bias of that unit. Sums are taken left to right in plain
loops (never ``sum()``, whose float algorithm changed in Python 3.12) so that the
kernels can reproduce them bit for bit.
"""

from __future__ import annotations

import math

Vector = list[float]
Matrix = list[list[float]]


# --- The forward pass ---------------------------------------------------------


def logistic(net: float) -> float:
    """out = 1 / (1 + e^(-net)), written so that no finite net overflows."""
    if net >= 0.0:
        return 1.0 / (1.0 + math.exp(-net))
    # For net < 0, e^(-net) could overflow; e^net / (1 + e^net) is the same value.
    e = math.exp(net)
    return e / (1.0 + e)


def logistic_derivative(out: float) -> float:
    """dout/dnet of the logistic, written with its output: out * (1 - out)."""
    return out * (1.0 - out)


def net_input(w_row: Vector, out_below: Vector, b: float) -> float:
    """net_j = w_j1 * out_1 + w_j2 * out_2 + ... + b_j * 1."""
    net = 0.0
    for w, out in zip(w_row, out_below):
        net += w * out
    return net + b


def forward_layer(W: Matrix, b: Vector, out_below: Vector) -> tuple[Vector, Vector]:
    """One layer of the forward pass: (net, out) of every unit."""
    net = [net_input(W[j], out_below, b[j]) for j in range(len(W))]
    out = [logistic(n) for n in net]
    return net, out


def forward(W: list[Matrix], b: list[Vector], x: Vector) -> tuple[list[Vector], list[Vector]]:
    """The forward pass: net per layer above the input, out per layer (input first)."""
    nets: list[Vector] = []
    outs: list[Vector] = [list(x)]
    for W_l, b_l in zip(W, b):
        net, out = forward_layer(W_l, b_l, outs[-1])
        nets.append(net)
        outs.append(out)
    return nets, outs


# --- Calculating the total error ----------------------------------------------


def error(target: Vector, out: Vector) -> float:
    """E_total = sum_o 1/2 (target_o - out_o)^2."""
    E_total = 0.0
    for t, o in zip(target, out):
        E_total += 0.5 * ((t - o) * (t - o))
    return E_total


# --- The backwards pass -------------------------------------------------------


def delta_output(target: Vector, out: Vector) -> Vector:
    """1. Output deltas: delta_o = dE/dout_o * dout_o/dnet_o.

    dE/dout_o = -(target_o - out_o)  (the -1 comes from differentiating (target - out));
    dout_o/dnet_o = out_o * (1 - out_o)  (the logistic function's derivative).
    """
    return [(-(t - o)) * logistic_derivative(o) for t, o in zip(target, out)]


def delta_hidden(W_above: Matrix, delta_above: Vector, out: Vector) -> Vector:
    """2. Hidden deltas: delta_h = (sum_o delta_o * w_oh) * out_h * (1 - out_h).

    The sum is dE/dout_h: h feeds every unit above it, so its error is the sum of
    what it contributed to each (dE_o1/dout_h + dE_o2/dout_h + ...).
    """
    delta = []
    for h, out_h in enumerate(out):
        dE_dout_h = 0.0
        for o, delta_o in enumerate(delta_above):
            dE_dout_h += delta_o * W_above[o][h]
        delta.append(dE_dout_h * logistic_derivative(out_h))
    return delta


def weight_gradient(delta: Vector, out_below: Vector) -> Matrix:
    """3. dE/dw_ji = dE/dnet_j * dnet_j/dw_ji = delta_j * out_i."""
    return [[delta_j * out_i for out_i in out_below] for delta_j in delta]


def update(w: float, grad: float, eta: float, momentum: float, velocity: float) -> tuple[float, float]:
    """4. Gradient descent: w+ = w - eta * dE/dw.

    With momentum (classical): v = momentum * v - eta * dE/dw; w+ = w + v.
    Returns (w+, v).
    """
    if momentum == 0.0:
        return w - eta * grad, velocity
    velocity = momentum * velocity - eta * grad
    return w + velocity, velocity


# --- One training step on a batch of samples ----------------------------------


def mean(values: Vector) -> float:
    """Mean of a batch's per-sample values, summed in sample order."""
    total = 0.0
    for v in values:
        total += v
    return total / len(values)


def step(W, b, tied, batch_x, batch_y, eta, momentum, vW, vb, train_biases, layerwise):
    """Train (W, b) in place on one batch; return the samples' E_total (before the update).

    The gradient is the mean over the batch of each sample's gradient; a batch of
    one sample is the article's online step. ``layerwise=False`` ("simultaneous",
    the article's text): every delta uses the weights from before this step.
    ``layerwise=True`` (the article's later figures): a layer is updated as soon as
    its deltas are known, and the layer below computes its deltas through the
    updated weights. A tied layer has one bias shared by its units; it trains on
    the sum of the units' bias gradients.
    """
    # The forward pass of every sample, before any weight changes.
    passes = [forward(W, b, x) for x in batch_x]
    E = [error(y, outs[-1]) for y, (_, outs) in zip(batch_y, passes)]
    deltas = [delta_output(y, outs[-1]) for y, (_, outs) in zip(batch_y, passes)]
    pending = []
    for l in reversed(range(len(W))):
        # Gradients of this layer, averaged over the batch.
        grads = [weight_gradient(d, outs[l]) for d, (_, outs) in zip(deltas, passes)]
        gW = [[mean([g[j][i] for g in grads]) for i in range(len(W[l][j]))] for j in range(len(W[l]))]
        gb = [mean([d[j] for d in deltas]) for j in range(len(b[l]))]
        if layerwise:
            apply_update(W[l], b[l], tied[l], gW, gb, eta, momentum, vW[l], vb[l], train_biases)
        else:
            pending.append((l, gW, gb))
        if l > 0:
            deltas = [delta_hidden(W[l], d, outs[l]) for d, (_, outs) in zip(deltas, passes)]
    for l, gW, gb in pending:
        apply_update(W[l], b[l], tied[l], gW, gb, eta, momentum, vW[l], vb[l], train_biases)
    return E


def apply_update(W_l, b_l, tied, gW, gb, eta, momentum, vW_l, vb_l, train_biases):
    """Apply one layer's update in place: every weight, then the biases if trained."""
    for j, row in enumerate(W_l):
        for i in range(len(row)):
            row[i], vW_l[j][i] = update(row[i], gW[j][i], eta, momentum, vW_l[j][i])
    if not train_biases:
        return
    if tied:
        # One bias shared by the layer: its gradient is the sum over the units.
        g = 0.0
        for g_j in gb:
            g += g_j
        gb = [g] * len(gb)
    for j in range(len(b_l)):
        b_l[j], vb_l[j] = update(b_l[j], gb[j], eta, momentum, vb_l[j])


def zeros_like(W, b):
    """Momentum velocities, one per weight and bias, starting at rest."""
    return [[[0.0] * len(row) for row in W_l] for W_l in W], [[0.0] * len(b_l) for b_l in b]


def train(W, b, tied, X, Y, orders, eta, batch_size, momentum, vW, vb, train_biases, layerwise):
    """Train in place, one epoch per entry of ``orders``; return each epoch's mean E_total.

    ``orders[e]`` is the sample order of epoch e (every sample once). The momentum
    velocities ``vW``, ``vb`` are updated in place so that training can go on later.
    Training stops after an epoch whose mean error is not finite (it diverged).
    """
    errors = []
    for order in orders:
        E_epoch = 0.0
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            E = step(
                W, b, tied, [X[s] for s in batch], [Y[s] for s in batch], eta, momentum, vW, vb, train_biases, layerwise
            )
            for E_s in E:
                E_epoch += E_s
        errors.append(E_epoch / len(order))
        if not math.isfinite(errors[-1]):
            break
    return errors
