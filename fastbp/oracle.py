"""The pure-Python oracle: backpropagation exactly as the article tells it, and beyond it as PyTorch does.

This module is the reference every compiled kernel is tested against. It uses
plain lists and ``math`` only, one small function per step of "A Step by Step
Backpropagation Example", with the article's names:

    net    total net input of a unit:      net_j = sum_i w_ji * out_i + b_j
    out    its output (logistic):           out_j = 1 / (1 + e^(-net_j))
    E      the error of one sample:         E_total = sum_o 1/2 (target_o - out_o)^2
    delta  dE/dnet of a unit:               delta_o = -(target_o - out_o) * out_o (1 - out_o)
                                            delta_h = (sum_o delta_o * w_oh) * out_h (1 - out_h)
    eta    the learning rate:               w+ = w - eta * dE/dw,   dE/dw_ji = delta_j * out_i

Beyond the article, each formula is PyTorch's (float64): other activations (each
with its derivative dout/dnet, written with the unit's output), cross-entropy
computed from the net inputs, Adam and RPROP, L2 weight decay on the weights.
The defaults are the article's, bit for bit. Which formula an activation, a loss or
an optimiser uses is its record's business (fastbp/catalogue.py): the functions
below that run the algorithm take those records, never names.

Glossary: ``W[l][j][i]`` is the weight from unit i of layer l to unit j of layer
l + 1; ``b[l][j]`` the bias of that unit. Sums are taken left to right in plain
loops (never ``sum()``, whose float algorithm changed in Python 3.12) so that the
kernels can reproduce them bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Vector = list[float]
Matrix = list[list[float]]


# --- Activations: out = f(net), and dout/dnet written with out ----------------


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


def tanh(net: float) -> float:
    """out = tanh(net) = (e^net - e^-net) / (e^net + e^-net)."""
    return math.tanh(net)


def tanh_derivative(out: float) -> float:
    """dout/dnet of tanh: 1 - out^2."""
    return 1.0 - out * out


def relu(net: float) -> float:
    """out = max(0, net)."""
    return net if net > 0.0 else 0.0


def relu_derivative(out: float) -> float:
    """1 where the unit is active (net > 0, so out > 0), else 0 (torch.relu's choice at 0)."""
    return 1.0 if out > 0.0 else 0.0


LEAKY_SLOPE = 0.01  # torch.nn.functional.leaky_relu's default negative slope


def leaky_relu(net: float) -> float:
    """out = net for net > 0, else 0.01 net."""
    return net if net > 0.0 else LEAKY_SLOPE * net


def leaky_relu_derivative(out: float) -> float:
    """1 for net > 0 (so out > 0), else 0.01."""
    return 1.0 if out > 0.0 else LEAKY_SLOPE


def identity(net: float) -> float:
    """out = net (a linear unit, for regression outputs)."""
    return net


def identity_derivative(out: float) -> float:
    """dout/dnet = 1."""
    return 1.0


SOFTPLUS_THRESHOLD = 20.0  # torch.nn.Softplus's default: above it, out = net


def softplus(net: float) -> float:
    """out = log(1 + e^net), written as max(net, 0) + log(1 + e^-|net|) (no overflow); net itself where
    net > 20 (torch.nn.Softplus, beta 1, threshold 20)."""
    if net > SOFTPLUS_THRESHOLD:
        return net
    return max(net, 0.0) + math.log1p(math.exp(-abs(net)))


def softplus_derivative(out: float) -> float:
    """dout/dnet = 1 / (1 + e^-net) = 1 - e^-out; 1 where net > 20."""
    return 1.0 if out > SOFTPLUS_THRESHOLD else -math.expm1(-out)


def elu(net: float) -> float:
    """out = net for net > 0, else e^net - 1 (torch.nn.ELU, alpha 1)."""
    return net if net > 0.0 else math.expm1(net)


def elu_derivative(out: float) -> float:
    """1 for net > 0 (so out > 0), else e^net = out + 1."""
    return 1.0 if out > 0.0 else out + 1.0


SQRT_HALF = math.sqrt(0.5)  # torch's M_SQRT1_2
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)  # the standard normal density at 0


def gelu(net: float) -> float:
    """out = net Phi(net), Phi the standard normal CDF, as torch.nn.GELU() computes it:
    net * 0.5 * (1 + erf(net / sqrt 2))."""
    return net * 0.5 * (1.0 + math.erf(net * SQRT_HALF))


def gelu_derivative(net: float) -> float:
    """dout/dnet of GELU, from the net input (the output does not determine it): Phi(net) + net phi(net)."""
    return 0.5 * (1.0 + math.erf(net * SQRT_HALF)) + net * (math.exp(-0.5 * net * net) * INV_SQRT_2PI)


def silu(net: float) -> float:
    """out = net / (1 + e^-net) = net logistic(net) (torch.nn.SiLU), with no overflow for any finite net."""
    return net * logistic(net)


def silu_derivative(net: float) -> float:
    """dout/dnet of SiLU, from the net input: s (1 + net (1 - s)), s = logistic(net) (torch's)."""
    s = logistic(net)
    return s * (1.0 + net * (1.0 - s))


def slope(activation, net: float, out: float) -> float:
    """dout/dnet of a unit of an element-wise activation (a record): from its net input where the record's
    slope takes that (GELU, SiLU), else from its output (the article's out (1 - out))."""
    return activation.slope(net if activation.slope_from_net else out)


def exp(net: float) -> float:
    """out = e^net (scikit-learn's output for the Poisson loss: a positive mean); inf past the largest float."""
    try:
        return math.exp(net)
    except OverflowError:
        return math.inf


def exp_derivative(out: float) -> float:
    """dout/dnet of e^net: out itself."""
    return out


def softmax(nets: Vector) -> Vector:
    """out_j = e^net_j / sum_k e^net_k over the layer, computed as e^(net_j - max) / sum_k e^(net_k - max)."""
    top = nets[0]
    for n in nets:
        top = max(top, n)
    exps = [math.exp(n - top) for n in nets]
    total = 0.0
    for e in exps:
        total += e
    return [e / total for e in exps]


# --- The forward pass ---------------------------------------------------------


def net_input(w_row: Vector, out_below: Vector, b: float) -> float:
    """net_j = w_j1 * out_1 + w_j2 * out_2 + ... + b_j * 1."""
    net = 0.0
    for w, out in zip(w_row, out_below):
        net += w * out
    return net + b


def forward_layer(W: Matrix, b: Vector, out_below: Vector, activation) -> tuple[Vector, Vector]:
    """One layer of the forward pass: (net, out) of every unit; activation is a catalogue record."""
    net = [net_input(W[j], out_below, b[j]) for j in range(len(W))]
    if activation.whole_layer:
        return net, activation.forward(net)
    return net, [activation.forward(n) for n in net]


def forward(W: list[Matrix], b: list[Vector], x: Vector, activations) -> tuple[list[Vector], list[Vector]]:
    """The forward pass: net per layer above the input, out per layer (input first)."""
    nets: list[Vector] = []
    outs: list[Vector] = [list(x)]
    for W_l, b_l, activation in zip(W, b, activations):
        net, out = forward_layer(W_l, b_l, outs[-1], activation)
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


def cross_entropy_softmax(target: Vector, net: Vector) -> float:
    """E = -sum_k t_k log softmax(net)_k, with log softmax_k = net_k - (max + log sum_j e^(net_j - max))."""
    top = net[0]
    for n in net:
        top = max(top, n)
    total = 0.0
    for n in net:
        total += math.exp(n - top)
    log_sum = top + math.log(total)
    E = 0.0
    for t, n in zip(target, net):
        E -= t * (n - log_sum)
    return E


def cross_entropy_logistic(target: Vector, net: Vector) -> float:
    """E = -sum_k [t_k log out_k + (1 - t_k) log(1 - out_k)], as max(net, 0) - net t + log(1 + e^-|net|)."""
    E = 0.0
    for t, n in zip(target, net):
        E += max(n, 0.0) - n * t + math.log1p(math.exp(-abs(n)))
    return E


def squared_error(target: Vector, out: Vector, net: Vector, activation) -> float:
    """The article's E_total, whatever the output activation."""
    return error(target, out)


def cross_entropy(target: Vector, out: Vector, net: Vector, activation) -> float:
    """Cross-entropy from the net inputs: of the softmax distribution, or of each logistic unit."""
    if activation.whole_layer:
        return cross_entropy_softmax(target, net)
    return cross_entropy_logistic(target, net)


def poisson_term(target: float, out: float) -> float:
    """Half the Poisson deviance of one output, scikit-learn's: t log(t / out) - t + out (0 log 0 = 0)."""
    return (target * math.log(target / out) if target != 0.0 else 0.0) - target + out


def poisson(target: Vector, out: Vector, net: Vector, activation) -> float:
    """E = sum_k [t_k log(t_k / out_k) - t_k + out_k], the Poisson deviance over 2 (out_k > 0: e^net_k)."""
    E = 0.0
    for t, o in zip(target, out):
        E += poisson_term(t, o)
    return E


def huber_term(target: float, out: float, huber_delta: float) -> float:
    """One output's Huber loss, torch's: d^2 / 2 where |d| <= huber_delta, else huber_delta (|d| - huber_delta / 2),
    with d = target - out."""
    d = abs(target - out)
    return 0.5 * (d * d) if d <= huber_delta else huber_delta * (d - 0.5 * huber_delta)


def huber_gradient(target: float, out: float, huber_delta: float) -> float:
    """dE/dout of one output's Huber loss: -(target - out), clipped to [-huber_delta, huber_delta]."""
    return min(max(-(target - out), -huber_delta), huber_delta)


def huber(target: Vector, out: Vector, net: Vector, activation, huber_delta: float) -> float:
    """E = sum_k h(target_k - out_k): torch.nn.HuberLoss(delta=huber_delta), summed over the outputs."""
    E = 0.0
    for t, o in zip(target, out):
        E += huber_term(t, o, huber_delta)
    return E


def sample_error(target: Vector, out: Vector, net: Vector, activation, loss) -> float:
    """One sample's error under the loss (a catalogue record) for the output activation (a record)."""
    return loss.error(target, out, net, activation)


# --- The backwards pass -------------------------------------------------------


def delta_output(target: Vector, out: Vector, net: Vector, activation, loss) -> Vector:
    """1. Output deltas: delta_o = dE/dout_o * dout_o/dnet_o, as the loss (a record) gives them."""
    return loss.delta(target, out, net, activation)


def squared_delta(target: Vector, out: Vector, net: Vector, activation) -> Vector:
    """Output deltas of the squared error: delta_o = dE/dout_o * dout_o/dnet_o.

    dE/dout_o = -(target_o - out_o)  (the -1 comes from differentiating (target - out));
    dout_o/dnet_o = out_o * (1 - out_o)  (the logistic function's derivative, in the article).
    Through softmax, which couples the layer: delta_j = out_j (g_j - sum_k g_k out_k).
    """
    return through_output([squared_gradient(t, o) for t, o in zip(target, out)], out, net, activation)


def squared_gradient(target: float, out: float) -> float:
    """dE/dout of one output's squared error: -(target - out)."""
    return -(target - out)


def through_output(g: Vector, out: Vector, net: Vector, activation) -> Vector:
    """dE/dnet of the output units from g = dE/dout: g_o dout_o/dnet_o, or through softmax, which couples the
    layer, out_j (g_j - sum_k g_k out_k)."""
    if activation.whole_layer:
        dot = 0.0
        for g_k, o in zip(g, out):
            dot += g_k * o
        return [o * (g_j - dot) for g_j, o in zip(g, out)]
    return [g_o * slope(activation, n, o) for g_o, n, o in zip(g, net, out)]


def cross_entropy_delta(target: Vector, out: Vector, net: Vector, activation) -> Vector:
    """Output deltas of cross-entropy on its own output units, in the short form: out_o - target_o
    (logistic), out_o * sum_k target_k - target_o (softmax: dE/dnet through the whole layer)."""
    if activation.whole_layer:
        total = 0.0
        for t in target:
            total += t
        return [o * total - t for t, o in zip(target, out)]
    return [o - t for t, o in zip(target, out)]


def poisson_delta(target: Vector, out: Vector, net: Vector, activation) -> Vector:
    """Output deltas of the Poisson loss on e^net units: dE/dout (1 - t / out) times dout/dnet (out), so
    out_o - target_o."""
    return [o - t for t, o in zip(target, out)]


def huber_loss_delta(target: Vector, out: Vector, net: Vector, activation, huber_delta: float) -> Vector:
    """Output deltas of the Huber loss: the clipped dE/dout times dout/dnet (through softmax as squared_delta)."""
    return through_output([huber_gradient(t, o, huber_delta) for t, o in zip(target, out)], out, net, activation)


def delta_hidden(W_above: Matrix, delta_above: Vector, out: Vector, activation, net: Vector) -> Vector:
    """2. Hidden deltas: delta_h = (sum_o delta_o * w_oh) * out_h * (1 - out_h).

    The sum is dE/dout_h: h feeds every unit above it, so its error is the sum of
    what it contributed to each (dE_o1/dout_h + dE_o2/dout_h + ...). The last factor
    is the activation's derivative dout_h/dnet_h (the logistic's for the article; from
    net_h for the activations whose output does not determine it).
    """
    delta = []
    for h, out_h in enumerate(out):
        dE_dout_h = 0.0
        for o, delta_o in enumerate(delta_above):
            dE_dout_h += delta_o * W_above[o][h]
        delta.append(dE_dout_h * slope(activation, net[h], out_h))
    return delta


def weight_gradient(delta: Vector, out_below: Vector) -> Matrix:
    """3. dE/dw_ji = dE/dnet_j * dnet_j/dw_ji = delta_j * out_i."""
    return [[delta_j * out_i for out_i in out_below] for delta_j in delta]


def update(w: float, grad: float, eta: float, momentum: float, velocity: float, nesterov: bool = False):
    """4. Gradient descent: w+ = w - eta * dE/dw.

    With momentum (classical): v = momentum * v - eta * dE/dw; w+ = w + v. Nesterov's momentum
    (torch.optim.SGD's nesterov=True, whose buffer is -v / eta): w+ = w + momentum * v - eta * dE/dw.
    Returns (w+, v).
    """
    if momentum == 0.0:
        return w - eta * grad, velocity
    velocity = momentum * velocity - eta * grad
    if nesterov:
        return w + (momentum * velocity - eta * grad), velocity
    return w + velocity, velocity


def adam_update(w, grad, m, v, step, eta, betas, eps) -> tuple[float, float, float]:
    """4. Adam (torch.optim.Adam): moments m, v of the gradient, bias-corrected at step t (from 1).

    m = m + (1 - beta1) (g - m);  v = beta2 v + (1 - beta2) g^2;
    w+ = w - eta / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps).  Returns (w+, m, v).
    """
    beta1, beta2 = betas
    m = m + (1.0 - beta1) * (grad - m)
    v = beta2 * v + (1.0 - beta2) * (grad * grad)
    step_size = eta / (1.0 - beta1**step)
    denom = math.sqrt(v) / math.sqrt(1.0 - beta2**step) + eps
    return w - step_size * (m / denom), m, v


def rprop_update(w, grad, step_size, previous, etas, step_sizes) -> tuple[float, float, float]:
    """4. RPROP (torch.optim.Rprop): only the gradient's sign counts, each weight with its own step.

    Same sign as the previous gradient: step * eta_plus; opposite: step * eta_minus and this
    gradient is taken as 0 (no move now, no sign next time); the step kept within step_sizes.
    w+ = w - sign(g) step.  Returns (w+, step, the gradient to remember).
    """
    eta_minus, eta_plus = etas
    product = grad * previous
    factor = eta_plus if product > 0.0 else (eta_minus if product < 0.0 else 1.0)
    step_size = min(max(step_size * factor, step_sizes[0]), step_sizes[1])
    if product < 0.0:
        grad = 0.0
    sign = 1.0 if grad > 0.0 else (-1.0 if grad < 0.0 else 0.0)
    return w - sign * step_size, step_size, grad


def sgd_move(w: float, grad: float, state: list, rule) -> float:
    """Gradient descent (with momentum when rule.momentum > 0); state[0] is the velocity."""
    w, state[0] = update(w, grad, rule.eta, rule.momentum, state[0], rule.nesterov)
    return w


def adam_move(w: float, grad: float, state: list, rule) -> float:
    """Adam; state holds the moments m and v."""
    w, state[0], state[1] = adam_update(w, grad, state[0], state[1], rule.step, rule.eta, rule.betas, rule.eps)
    return w


def rprop_move(w: float, grad: float, state: list, rule) -> float:
    """RPROP; state holds the step size and the previous gradient."""
    w, state[0], state[1] = rprop_update(w, grad, state[0], state[1], rule.etas, rule.step_sizes)
    return w


@dataclass
class Rule:
    """How each parameter moves, given its gradient: the optimiser (a catalogue record) and its settings."""

    optimizer: object
    eta: float = 0.5
    momentum: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    etas: tuple[float, float] = (0.5, 1.2)
    step_sizes: tuple[float, float] = (1e-6, 50.0)
    weight_decay: float = 0.0
    step: int = 0  # updates done so far (Adam's t is step after the increment)
    nesterov: bool = False  # sgd's momentum as Nesterov's


def move(w: float, grad: float, state: list, rule: Rule) -> float:
    """One parameter's update under the rule; state holds its two optimiser values, updated in place."""
    return rule.optimizer.move(w, grad, state, rule)


# --- One training step on a batch of samples ----------------------------------


def mean(values: Vector) -> float:
    """Mean of a batch's per-sample values, summed in sample order."""
    total = 0.0
    for v in values:
        total += v
    return total / len(values)


def step(W, b, tied, batch_x, batch_y, rule, sW, sb, train_biases, layerwise, activations, loss, notes=None):
    """Train (W, b) in place on one batch; return the samples' errors (before the update).

    The gradient is the mean over the batch of each sample's gradient (plus
    weight_decay * w for the weights); a batch of one sample is the article's online
    step. ``layerwise=False`` ("simultaneous", the article's text): every delta uses
    the weights from before this step. ``layerwise=True`` (the article's later
    figures): a layer is updated as soon as its deltas are known, and the layer below
    computes its deltas through the updated weights. A tied layer has one bias shared
    by its units; it trains on the sum of the units' bias gradients. ``sW``, ``sb``
    hold each parameter's optimiser state ([velocity, 0] for sgd, [m, v] for Adam,
    [step, previous gradient] for RPROP). ``activations`` (one per layer) and ``loss``
    are catalogue records. ``notes`` (a Notes, or None) records the step for the diagnostics.
    """
    rule.step += 1
    # The forward pass of every sample, before any weight changes.
    passes = [forward(W, b, x, activations) for x in batch_x]
    E = [sample_error(y, outs[-1], nets[-1], activations[-1], loss) for y, (nets, outs) in zip(batch_y, passes)]
    deltas = [delta_output(y, outs[-1], nets[-1], activations[-1], loss) for y, (nets, outs) in zip(batch_y, passes)]
    if notes is not None:
        notes.forward_passes(passes)
    pending = []
    for l in reversed(range(len(W))):
        # Gradients of this layer, averaged over the batch.
        grads = [weight_gradient(d, outs[l]) for d, (_, outs) in zip(deltas, passes)]
        gW = [[mean([g[j][i] for g in grads]) for i in range(len(W[l][j]))] for j in range(len(W[l]))]
        gb = [mean([d[j] for d in deltas]) for j in range(len(b[l]))]
        if notes is not None:
            notes.gradient(l, gW)
        if rule.weight_decay != 0.0 and not rule.optimizer.decoupled:  # L2 on the weights only: g_W += wd * W
            gW = [[g + rule.weight_decay * w for g, w in zip(g_row, w_row)] for g_row, w_row in zip(gW, W[l])]
        if layerwise:
            apply_update(W[l], b[l], tied[l], gW, gb, rule, sW[l], sb[l], train_biases)
        else:
            pending.append((l, gW, gb))
        if l > 0:
            deltas = [delta_hidden(W[l], d, outs[l], activations[l - 1], nets[l - 1])
                      for d, (nets, outs) in zip(deltas, passes)]  # fmt: skip
    for l, gW, gb in pending:
        apply_update(W[l], b[l], tied[l], gW, gb, rule, sW[l], sb[l], train_biases)
    return E


def apply_update(W_l, b_l, tied, gW, gb, rule, sW_l, sb_l, train_biases):
    """Apply one layer's update in place: every weight, then the biases if trained."""
    shrink = 1.0 - rule.eta * rule.weight_decay if rule.optimizer.decoupled else 1.0
    for j, row in enumerate(W_l):
        for i in range(len(row)):
            # AdamW's decoupled decay: the weight shrinks by eta * weight_decay before the step (never a bias).
            row[i] = move(row[i] * shrink if rule.optimizer.decoupled else row[i], gW[j][i], sW_l[j][i], rule)
    if not train_biases:
        return
    if tied:
        # One bias shared by the layer: its gradient is the sum over the units.
        g = 0.0
        for g_j in gb:
            g += g_j
        gb = [g] * len(gb)
    for j in range(len(b_l)):
        b_l[j] = move(b_l[j], gb[j], sb_l[j], rule)


def initial_state(W, b, rule: Rule):
    """Each parameter's optimiser state at the start: zeros, and RPROP's steps at eta."""
    first = rule.eta if rule.optimizer.first_state_is_lr else 0.0
    return [[[[first, 0.0] for _ in row] for row in W_l] for W_l in W], [[[first, 0.0] for _ in b_l] for b_l in b]


def train(W, b, tied, X, Y, orders, batch_size, rule, sW, sb, train_biases, layerwise, activations, loss,
          target=None, diagnostics=None):  # fmt: skip
    """Train in place, one epoch per entry of ``orders``; return each epoch's mean error.

    ``orders[e]`` is the sample order of epoch e (every sample once). The optimiser
    state ``sW``, ``sb`` and ``rule.step`` are updated in place so that training can go
    on later. Training stops after an epoch whose mean error is not finite (it diverged)
    or, with a target, at most the target (FANN's desired error). ``diagnostics``, a list
    or None, receives each epoch's Notes.statistics().
    """
    errors = []
    for order in orders:
        E_epoch = 0.0
        notes = None if diagnostics is None else Notes(W, activations)
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            E = step(W, b, tied, [X[s] for s in batch], [Y[s] for s in batch], rule, sW, sb, train_biases, layerwise,
                     activations, loss, notes)  # fmt: skip
            for E_s in E:
                E_epoch += E_s
        if notes is not None:
            diagnostics.append(notes.statistics(W))
        errors.append(E_epoch / len(order))
        if not math.isfinite(errors[-1]) or (target is not None and errors[-1] <= target):
            break
    return errors


# --- Diagnostics: why a run stalls ---------------------------------------------


def squared_norm(M: Matrix) -> float:
    """||M||^2, the squared Frobenius norm: every entry squared and summed, row by row."""
    total = 0.0
    for row in M:
        for m in row:
            total += m * m
    return total


def difference(A: Matrix, B: Matrix) -> Matrix:
    """A - B entry by entry."""
    return [[a - b_ for a, b_ in zip(row_a, row_b)] for row_a, row_b in zip(A, B)]


def is_saturated(out: float, activation) -> bool:
    """An output on a flat spot of its activation: its slope dout/dnet below the record's saturated_below."""
    return activation.slope(out) < activation.saturated_below


class Notes:
    """One epoch's diagnostics of each weight layer, recorded as the epoch's steps run (see fastbp.diagnostics)."""

    def __init__(self, W: list[Matrix], activations):
        self.start = [[list(row) for row in W_l] for W_l in W]  # the weights as the epoch starts
        self.activations = activations
        self.gradient_sq = [0.0 for _ in W]  # the sum over the updates of ||G_l||^2
        self.updates = [0 for _ in W]
        self.saturated = [0 for _ in W]  # outputs on a flat spot, over every forward pass
        self.outputs = [0 for _ in W]
        self.alive = [[False for _ in W_l] for W_l in W]  # a unit whose net input was > 0 for some sample

    def forward_passes(self, passes) -> None:
        """The (nets, outs) of a step's forward passes: outputs on flat spots, units alive."""
        for nets, outs in passes:
            for l, activation in enumerate(self.activations):
                self.outputs[l] += len(outs[l + 1])
                if activation.saturated_below is not None:
                    for out in outs[l + 1]:
                        if is_saturated(out, activation):
                            self.saturated[l] += 1
                for j, net in enumerate(nets[l]):
                    if net > 0.0:
                        self.alive[l][j] = True

    def gradient(self, l: int, gW: Matrix) -> None:
        """G_l, the gradient of the batch's mean loss with respect to W_l, that an update takes."""
        self.gradient_sq[l] += squared_norm(gW)
        self.updates[l] += 1

    def statistics(self, W: list[Matrix]) -> tuple[Vector, Vector, Vector, Vector]:
        """(gradient_norm, update_ratio, saturated, dead), one value per weight layer, at the epoch's end."""
        gradient_norm, update_ratio, saturated, dead = [], [], [], []
        for l, activation in enumerate(self.activations):
            gradient_norm.append(math.sqrt(self.gradient_sq[l] / self.updates[l]) if self.updates[l] else math.nan)
            before = squared_norm(self.start[l])
            change = squared_norm(difference(W[l], self.start[l]))
            update_ratio.append(math.sqrt(change) / math.sqrt(before) if before > 0.0 else math.nan)
            counted = activation.saturated_below is not None
            saturated.append(self.saturated[l] / self.outputs[l] if counted else math.nan)
            dead_units = 0
            for alive in self.alive[l]:
                if not alive:
                    dead_units += 1
            dead.append(dead_units / len(self.alive[l]) if activation.dies else math.nan)
        return gradient_norm, update_ratio, saturated, dead
