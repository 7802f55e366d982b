"""Compiled kernels: the oracle's algorithm over flat float64 buffers.

Every kernel and every helper it calls lives in this one file, because Numba's
on-disk cache only notices changes to the file that defines a kernel. Kernels
read no module globals and take only arrays and scalars, always of the same
types (float64 and int64 C-contiguous arrays, float, int, bool), so each
compiles to exactly one specialisation whatever the network's architecture.

Buffer layout (see ``_layout.py``), for a network with layer widths ``sizes``:
  params[w_off[l] + j * sizes[l] + i]   weight W_l[j, i] (unit i below -> unit j above)
  params[b_off[l] + j]                  bias of unit j of layer l + 1
  out[u_off[l] + i], delta[u_off[l] + i] activations and deltas of unit i of layer l
``tied[l]`` is 1 when layer l + 1 shares one bias (stored repeated per unit).

Sums run in the same order as the oracle's loops, so that on the article's
network both engines give the same bits.
"""

import math

import numpy as np
from numba import njit


@njit(cache=True)
def _logistic(net):
    """out = 1 / (1 + e^-net), overflow-free for every finite net."""
    if net >= 0.0:
        return 1.0 / (1.0 + math.exp(-net))
    e = math.exp(net)
    return e / (1.0 + e)


@njit(cache=True)
def _forward(params, sizes, w_off, b_off, u_off, x, out):
    """Forward pass of one sample x: fills out[] for every layer, input first."""
    for i in range(sizes[0]):
        out[i] = x[i]
    for l in range(sizes.shape[0] - 1):
        n_in = sizes[l]
        below = u_off[l]
        above = u_off[l + 1]
        for j in range(sizes[l + 1]):
            row = w_off[l] + j * n_in
            net = 0.0
            for i in range(n_in):
                net += params[row + i] * out[below + i]
            out[above + j] = _logistic(net + params[b_off[l] + j])


@njit(cache=True)
def _output_delta(sizes, u_off, out, delta, y):
    """delta_o = -(target - out_o) * out_o (1 - out_o); returns E_total of the sample."""
    top = u_off[sizes.shape[0] - 1]
    E_total = 0.0
    for j in range(sizes[sizes.shape[0] - 1]):
        o = out[top + j]
        E_total += 0.5 * ((y[j] - o) * (y[j] - o))
        delta[top + j] = (-(y[j] - o)) * (o * (1.0 - o))
    return E_total


@njit(cache=True)
def _update(params, velocity, k, g, lr, momentum):
    """w+ = w - eta * g, or with momentum v = momentum * v - eta * g; w+ = w + v."""
    if momentum == 0.0:
        params[k] -= lr * g
    else:
        velocity[k] = momentum * velocity[k] - lr * g
        params[k] += velocity[k]


@njit(cache=True)
def _update_biases(params, velocity, b0, n, g_sum, scale, tied, lr, momentum):
    """Update the n biases at b0 with gradients g_sum[0:n] * scale (tied: their sum)."""
    if tied:
        g = 0.0
        for j in range(n):
            g += g_sum[j] / scale
        for j in range(n):
            _update(params, velocity, b0 + j, g, lr, momentum)
    else:
        for j in range(n):
            _update(params, velocity, b0 + j, g_sum[j] / scale, lr, momentum)


@njit(cache=True)
def _online_step(params, velocity, sizes, w_off, b_off, u_off, tied, out, delta, lr, momentum, train_biases, layerwise):
    """The fused backward pass and update of one sample (out, output deltas already set).

    For each weight matrix, one pass both accumulates the layer below's
    dE/dout from the pre-update weight and updates that weight in place:
        dE/dout_i += w_ji * delta_j        (pre-update w_ji: "simultaneous")
        w_ji      -= eta * delta_j * out_i
    With ``layerwise`` the update comes first and the accumulation reads the
    updated weights (the order behind the article's later figures).
    """
    for l in range(sizes.shape[0] - 2, -1, -1):
        n_in = sizes[l]
        below = u_off[l]
        above = u_off[l + 1]
        fuse = l > 0 and not layerwise
        if l > 0:
            for i in range(n_in):
                delta[below + i] = 0.0
        for j in range(sizes[l + 1]):
            d = delta[above + j]
            row = w_off[l] + j * n_in
            if fuse and momentum == 0.0:
                for i in range(n_in):
                    delta[below + i] += params[row + i] * d
                    params[row + i] -= lr * (d * out[below + i])
            elif fuse:
                for i in range(n_in):
                    delta[below + i] += params[row + i] * d
                    velocity[row + i] = momentum * velocity[row + i] - lr * (d * out[below + i])
                    params[row + i] += velocity[row + i]
            elif momentum == 0.0:
                for i in range(n_in):
                    params[row + i] -= lr * (d * out[below + i])
            else:
                for i in range(n_in):
                    velocity[row + i] = momentum * velocity[row + i] - lr * (d * out[below + i])
                    params[row + i] += velocity[row + i]
        if train_biases:
            _update_biases(params, velocity, b_off[l], sizes[l + 1], delta[above:], 1.0, tied[l], lr, momentum)
        if l > 0 and layerwise:
            for j in range(sizes[l + 1]):
                d = delta[above + j]
                row = w_off[l] + j * n_in
                for i in range(n_in):
                    delta[below + i] += params[row + i] * d
        if l > 0:
            for i in range(n_in):
                o = out[below + i]
                delta[below + i] = delta[below + i] * (o * (1.0 - o))


@njit(cache=True)
def _backprop_block(params, velocity, grad, sizes, w_off, b_off, u_off, tied, outs, deltas, n, k, lr, momentum, train_biases, layerwise):
    """Backward pass of n samples (outs[r], output deltas set): add their gradients to grad.

    Layer by layer from the top: grad_l += delta_j * out_i of every sample, then
    the deltas of the layer below through W_l. With ``layerwise`` the layer is
    updated with the batch-mean gradient (grad / k) before the layer below
    computes its deltas; otherwise the caller updates once the batch is done.
    """
    for l in range(sizes.shape[0] - 2, -1, -1):
        n_in = sizes[l]
        n_out = sizes[l + 1]
        below = u_off[l]
        above = u_off[l + 1]
        for r in range(n):
            for j in range(n_out):
                d = deltas[r, above + j]
                row = w_off[l] + j * n_in
                for i in range(n_in):
                    grad[row + i] += d * outs[r, below + i]
                grad[b_off[l] + j] += d
        if layerwise:
            _update_layer(params, velocity, grad, sizes, w_off, b_off, tied, l, k, lr, momentum, train_biases)
        if l == 0:
            break
        for r in range(n):
            for i in range(n_in):
                deltas[r, below + i] = 0.0
            for j in range(n_out):
                d = deltas[r, above + j]
                row = w_off[l] + j * n_in
                for i in range(n_in):
                    deltas[r, below + i] += params[row + i] * d
            for i in range(n_in):
                o = outs[r, below + i]
                deltas[r, below + i] = deltas[r, below + i] * (o * (1.0 - o))


@njit(cache=True)
def _update_layer(params, velocity, grad, sizes, w_off, b_off, tied, l, k, lr, momentum, train_biases):
    """Gradient step on layer l with the batch-mean gradient grad / k."""
    start = w_off[l]
    for idx in range(start, start + sizes[l] * sizes[l + 1]):
        _update(params, velocity, idx, grad[idx] / k, lr, momentum)
    if train_biases:
        b0 = b_off[l]
        _update_biases(params, velocity, b0, sizes[l + 1], grad[b0:], float(k), tied[l], lr, momentum)


@njit(cache=True)
def _batch_step(params, velocity, grad, sizes, w_off, b_off, u_off, tied, X, Y, order, start, stop, outs, deltas, lr, momentum, train_biases, layerwise):
    """One minibatch order[start:stop]: mean gradient, then update. Returns its summed E_total.

    Samples go through in blocks of outs.shape[0]; with ``layerwise`` the block
    must hold the whole batch, since each layer's update precedes the next deltas.
    """
    k = stop - start
    grad[:] = 0.0
    E_sum = 0.0
    block = outs.shape[0]
    for first in range(start, stop, block):
        n = min(block, stop - first)
        for r in range(n):
            s = order[first + r]
            _forward(params, sizes, w_off, b_off, u_off, X[s], outs[r])
            E_sum += _output_delta(sizes, u_off, outs[r], deltas[r], Y[s])
        _backprop_block(params, velocity, grad, sizes, w_off, b_off, u_off, tied, outs, deltas, n, k, lr, momentum, train_biases, layerwise)
    if not layerwise:
        for l in range(sizes.shape[0] - 1):
            _update_layer(params, velocity, grad, sizes, w_off, b_off, tied, l, k, lr, momentum, train_biases)
    return E_sum


@njit(cache=True, nogil=True)
def train_epochs(params, velocity, sizes, w_off, b_off, u_off, tied, X, Y, orders, n_epochs, lr, momentum, batch_size, block, train_biases, layerwise, errors):
    """Train for n_epochs epochs, epoch e visiting samples orders[e % len(orders)]; errors[e] = mean E.

    (One row of orders serves a whole unshuffled run.) Returns the number of
    epochs completed: training stops after the first epoch whose mean error is
    not finite.
    """
    n_units = u_off[sizes.shape[0] - 1] + sizes[sizes.shape[0] - 1]
    n_samples = orders.shape[1]
    online = batch_size == 1
    out = np.empty(n_units)
    delta = np.empty(n_units)
    grad = np.empty(0 if online else params.shape[0])
    outs = np.empty((0 if online else block, n_units))
    deltas = np.empty((0 if online else block, n_units))
    for e in range(n_epochs):
        order = orders[e % orders.shape[0]]
        E_epoch = 0.0
        if online:
            for r in range(n_samples):
                s = order[r]
                _forward(params, sizes, w_off, b_off, u_off, X[s], out)
                E_epoch += _output_delta(sizes, u_off, out, delta, Y[s])
                _online_step(params, velocity, sizes, w_off, b_off, u_off, tied, out, delta, lr, momentum, train_biases, layerwise)
        else:
            for start in range(0, n_samples, batch_size):
                stop = min(start + batch_size, n_samples)
                E_epoch += _batch_step(params, velocity, grad, sizes, w_off, b_off, u_off, tied, X, Y, order, start, stop, outs, deltas, lr, momentum, train_biases, layerwise)
        errors[e] = E_epoch / n_samples
        if not math.isfinite(errors[e]):
            return e + 1
    return n_epochs


@njit(cache=True, nogil=True)
def evaluate(params, sizes, w_off, b_off, u_off, X, Y, outputs):
    """Forward pass of every row of X into outputs; returns the summed E_total against Y.

    Y may have no rows, for a plain forward pass (the error is then 0).
    """
    n_units = u_off[sizes.shape[0] - 1] + sizes[sizes.shape[0] - 1]
    top = u_off[sizes.shape[0] - 1]
    out = np.empty(n_units)
    E_sum = 0.0
    for s in range(X.shape[0]):
        _forward(params, sizes, w_off, b_off, u_off, X[s], out)
        for j in range(outputs.shape[1]):
            outputs[s, j] = out[top + j]
        if Y.shape[0] > 0:
            for j in range(outputs.shape[1]):
                E_sum += 0.5 * ((Y[s, j] - out[top + j]) * (Y[s, j] - out[top + j]))
    return E_sum


@njit(cache=True, nogil=True)
def gradient_sum(params, grad, sizes, w_off, b_off, u_off, tied, X, Y, block):
    """grad = sum over samples of dE_total/dparams (per-unit biases); returns summed E."""
    n_units = u_off[sizes.shape[0] - 1] + sizes[sizes.shape[0] - 1]
    outs = np.empty((block, n_units))
    deltas = np.empty((block, n_units))
    grad[:] = 0.0
    E_sum = 0.0
    for first in range(0, X.shape[0], block):
        n = min(block, X.shape[0] - first)
        for r in range(n):
            _forward(params, sizes, w_off, b_off, u_off, X[first + r], outs[r])
            E_sum += _output_delta(sizes, u_off, outs[r], deltas[r], Y[first + r])
        _backprop_block(params, grad, grad, sizes, w_off, b_off, u_off, tied, outs, deltas, n, 1, 0.0, 0.0, False, False)
    return E_sum
