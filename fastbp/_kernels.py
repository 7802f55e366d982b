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

Sums run in the same order as the oracle's loops. The one difference from the
oracle's arithmetic is e^x: libm's exp is an opaque call that no loop can
vectorise, so the kernels compute it with a polynomial of their own
(_exp_nonpositive: within 1 ulp of libm, equal to it nine times in ten). With
that exp in the oracle, both engines give the same bits; with math.exp they agree
to about 1e-15 relative. Being plain arithmetic, it gives the same bits in scalar
and vectorised loops (train_many's lanes), and on every libm.

Indices into the buffers are computed as uint64: Numba wraps negative signed
indices around (``a[-1]``), and that check on every access, which LLVM cannot
remove for offsets loaded from memory, blocks vectorisation and more than
halves the speed of the inner loops.
"""

import math

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

# One set of compile options for every kernel: cached on disk; no GIL held; float
# division by zero gives inf/nan as in NumPy instead of a checked Python exception
# (which costs a branch per division); no fastmath, so results match the oracle.
kernel = njit(cache=True, nogil=True, error_model="numpy")
# Helpers are inlined into the kernels at Numba IR level: a call between compiled
# functions passes every array as a struct and reference-counts it, which costs
# more than a small network's whole step.
helper = njit(inline="always", error_model="numpy")
# Scalar helpers (no arrays to reference-count) are left for LLVM to inline: Numba-level
# inlining would copy them into every call site before typing, which made compiling
# train_epochs 50% slower (15 s against 10 s here) for the same machine code.
scalar_helper = njit(error_model="numpy")
# train_many's kernel: the same, with prange spreading networks over Numba's threads.
parallel_kernel = njit(cache=True, nogil=True, error_model="numpy", parallel=True)


@intrinsic
def _bits_of(typingctx, x):
    """The 64 bits of a float64, as an int64 (a register move, which vectorises)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def _float_of(typingctx, bits):
    """The float64 whose bits are the given int64."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@intrinsic
def _fma(typingctx, a, b, c):
    """a * b + c with one rounding (llvm.fma: the CPU's FMA instruction)."""

    def codegen(context, builder, signature, args):
        return builder.fma(*args)

    return types.float64(types.float64, types.float64, types.float64), codegen


@scalar_helper
def _exp_nonpositive(x):
    """e^x for x <= 0 (or NaN), within 1 ulp of libm, in straight-line code that vectorises.

    Every operation is exactly rounded (FMA included), so the bits are the same
    on every machine, vectorised or not.
    """
    if x < -746.0:  # below every subnormal; a NaN stays NaN
        x = -746.0
    # x = n ln2 + r, |r| <= ln2 / 2: n rounded to nearest by the 1.5 * 2^52 shifter, ln2 in two parts.
    t = x * 1.4426950408889634 + 6755399441055744.0
    m = t - 6755399441055744.0
    n = _bits_of(t) - 0x4338000000000000
    r = _fma(-m, 1.90821492927058770002e-10, _fma(-m, 6.93147180369123816490e-01, x))
    # e^r = 1 + r + r^2 (1/2! + r/3! + ... + r^11/13!) (Taylor: 4e-18 short at |r| = ln2 / 2), in
    # Estrin's scheme for a short dependency chain, with fused multiply-adds.
    r2 = r * r
    r4 = r2 * r2
    q0 = _fma(r2, _fma(r, 1 / 120, 1 / 24), _fma(r, 1 / 6, 1 / 2))
    q1 = _fma(r2, _fma(r, 1 / 362880, 1 / 40320), _fma(r, 1 / 5040, 1 / 720))
    q2 = _fma(r2, _fma(r, 1 / 6227020800, 1 / 479001600), _fma(r, 1 / 39916800, 1 / 3628800))
    p = 1.0 + _fma(r2, _fma(r4 * r4, q2, _fma(r4, q1, q0)), r)
    # times 2^n: one multiplication while 2^n is a normal number; below, as 2^(n + 54) 2^-54
    # (both normal down to n = -1076). Either way the exact p 2^n rounded once: the same bits,
    # but the common case is one multiplication shorter (train's chain of logistics is latency-bound).
    small = (p * _float_of((n + 1077) << 52)) * 5.551115123125783e-17
    return p * _float_of((n + 1023) << 52) if n >= -1022 else small


@scalar_helper
def _logistic(net):
    """out = 1 / (1 + e^-net), overflow-free for every finite net, without branches."""
    e = _exp_nonpositive(-abs(net))
    return (1.0 if net >= 0.0 else e) / (1.0 + e)


@helper
def _forward(params, sizes, w_off, b_off, u_off, X, s, out, base, zero):
    """Forward pass of sample X[s]: fills out[base + u_off[l] + j] for every layer.

    ``zero`` is 0 in the parameters' dtype: sums start from it so that float32
    networks add in float32 (a 0.0 literal would make every sum float64).
    """
    s = np.uint64(s)
    base = np.uint64(base)
    for i in range(np.uint64(sizes[0])):
        out[base + i] = X[s, i]
    for l in range(sizes.shape[0] - 1):
        n_in = np.uint64(sizes[l])
        n_out = np.uint64(sizes[l + 1])
        below = base + np.uint64(u_off[l])
        above = base + np.uint64(u_off[l + 1])
        w = np.uint64(w_off[l])
        b = np.uint64(b_off[l])
        j = np.uint64(0)
        # Four units at a time: four independent sums hide the latency of the
        # additions, while each unit's sum still runs over i in order, as in
        # the oracle (so the bits are those of a one-unit loop).
        while n_out - j >= np.uint64(4):
            r0 = w + j * n_in
            r1 = r0 + n_in
            r2 = r1 + n_in
            r3 = r2 + n_in
            net0 = zero
            net1 = zero
            net2 = zero
            net3 = zero
            for i in range(n_in):
                x = out[below + i]
                net0 += params[r0 + i] * x
                net1 += params[r1 + i] * x
                net2 += params[r2 + i] * x
                net3 += params[r3 + i] * x
            out[above + j] = net0 + params[b + j]
            out[above + j + np.uint64(1)] = net1 + params[b + j + np.uint64(1)]
            out[above + j + np.uint64(2)] = net2 + params[b + j + np.uint64(2)]
            out[above + j + np.uint64(3)] = net3 + params[b + j + np.uint64(3)]
            j += np.uint64(4)
        while j < n_out:
            row = w + j * n_in
            net = zero
            for i in range(n_in):
                net += params[row + i] * out[below + i]
            out[above + j] = net + params[b + j]
            j += np.uint64(1)
        # The logistic of the whole layer in one loop, which vectorises.
        for j in range(above, above + n_out):
            out[j] = _logistic(out[j])


@helper
def _output_delta(sizes, u_off, out, delta, base, Y, s):
    """delta_o = -(target - out_o) * out_o (1 - out_o) for sample Y[s]; returns its E_total."""
    s = np.uint64(s)
    top = np.uint64(base) + np.uint64(u_off[sizes.shape[0] - 1])
    E_total = 0.0
    for j in range(np.uint64(sizes[sizes.shape[0] - 1])):
        o = out[top + j]
        t = Y[s, j]
        E_total += 0.5 * ((t - o) * (t - o))
        delta[top + j] = (-(t - o)) * (o * (1.0 - o))
    return E_total


@helper
def _online_backward(
    params, velocity, sizes, w_off, b_off, u_off, tied, out, delta, lr, momentum, train_biases, layerwise
):
    """The online step's backward pass: update every layer, top first (output deltas set).

    The fused loop: one pass over each row both accumulates the layer below's
    dE/dout from the pre-update weight and updates that weight in place:
        dE/dout_i += w_ji * delta_j        (pre-update w_ji: "simultaneous")
        w_ji      -= eta * delta_j * out_i
    With ``layerwise`` the update comes first and the accumulation then reads
    the updated weights (the order behind the article's later figures).
    (One function with no helper calls: an inlined helper that takes arrays
    costs two atomic reference-count operations per array per call.)
    """
    for l in range(sizes.shape[0] - 2, -1, -1):
        n_in = np.uint64(sizes[l])
        n_out = np.uint64(sizes[l + 1])
        below = np.uint64(u_off[l])
        above = np.uint64(u_off[l + 1])
        w = np.uint64(w_off[l])
        b = np.uint64(b_off[l])
        fuse = l > 0 and not layerwise
        if fuse and momentum != 0.0:
            for i in range(n_in):
                delta[below + i] = 0.0
        for j in range(n_out):
            d = delta[above + j]
            row = w + j * n_in
            # Without momentum the first row starts the sums dE/dout_i (= rather than
            # zeroing, then +=: the zeroing loop becomes a memset call, 10-15% of the
            # article's step).
            if momentum == 0.0:
                if fuse and j == 0:
                    for i in range(n_in):
                        delta[below + i] = params[row + i] * d
                        params[row + i] -= lr * (d * out[below + i])
                elif fuse:
                    for i in range(n_in):
                        delta[below + i] += params[row + i] * d
                        params[row + i] -= lr * (d * out[below + i])
                else:
                    for i in range(n_in):
                        params[row + i] -= lr * (d * out[below + i])
            else:
                if fuse:
                    for i in range(n_in):
                        delta[below + i] += params[row + i] * d
                        velocity[row + i] = momentum * velocity[row + i] - lr * (d * out[below + i])
                        params[row + i] += velocity[row + i]
                else:
                    for i in range(n_in):
                        velocity[row + i] = momentum * velocity[row + i] - lr * (d * out[below + i])
                        params[row + i] += velocity[row + i]
        if train_biases:
            # dE/db_j = delta_j; a tied bias trains on the sum of its layer's deltas.
            g_tied = 0.0
            for j in range(n_out):
                g_tied += delta[above + j]
            for j in range(n_out):
                g = g_tied if tied[l] else delta[above + j]
                if momentum == 0.0:
                    params[b + j] -= lr * g
                else:
                    velocity[b + j] = momentum * velocity[b + j] - lr * g
                    params[b + j] += velocity[b + j]
        if l > 0:
            if not fuse:  # layerwise: dE/dout through the weights just updated
                for j in range(n_out):
                    d = delta[above + j]
                    row = w + j * n_in
                    if j == 0:
                        for i in range(n_in):
                            delta[below + i] = params[row + i] * d
                    else:
                        for i in range(n_in):
                            delta[below + i] += params[row + i] * d
            for i in range(below, below + n_in):
                o = out[i]
                delta[i] = delta[i] * (o * (1.0 - o))


@helper
def _accumulate_layer(grad, sizes, w_off, b_off, u_off, l, outs, deltas, n):
    """grad_l += dE/dW_l and dE/db_l of n samples (sample r's units start at r * n_units)."""
    n_units = np.uint64(u_off[sizes.shape[0] - 1] + sizes[sizes.shape[0] - 1])
    n_in = np.uint64(sizes[l])
    w = np.uint64(w_off[l])
    b = np.uint64(b_off[l])
    for r in range(np.uint64(n)):
        below = r * n_units + np.uint64(u_off[l])
        above = r * n_units + np.uint64(u_off[l + 1])
        for j in range(np.uint64(sizes[l + 1])):
            d = deltas[above + j]
            row = w + j * n_in
            for i in range(n_in):
                grad[row + i] += d * outs[below + i]
            grad[b + j] += d


@helper
def _hidden_deltas(params, sizes, w_off, u_off, l, outs, deltas, n):
    """delta_h = (sum_o delta_o * w_oh) * out_h (1 - out_h) below weight matrix l, for n samples."""
    n_units = np.uint64(u_off[sizes.shape[0] - 1] + sizes[sizes.shape[0] - 1])
    n_in = np.uint64(sizes[l])
    w = np.uint64(w_off[l])
    for r in range(np.uint64(n)):
        below = r * n_units + np.uint64(u_off[l])
        above = r * n_units + np.uint64(u_off[l + 1])
        for i in range(n_in):
            deltas[below + i] = 0.0
        for j in range(np.uint64(sizes[l + 1])):
            d = deltas[above + j]
            row = w + j * n_in
            for i in range(n_in):
                deltas[below + i] += params[row + i] * d
        for i in range(below, below + n_in):
            o = outs[i]
            deltas[i] = deltas[i] * (o * (1.0 - o))


@helper
def _update_layer(params, velocity, grad, sizes, w_off, b_off, tied, l, k, lr, momentum, train_biases):
    """Gradient step on weight matrix l and its biases with the batch-mean gradient grad / k."""
    w = np.uint64(w_off[l])
    b = np.uint64(b_off[l])
    n_out = np.uint64(sizes[l + 1])
    for idx in range(w, b):
        g = grad[idx] if k == 1 else grad[idx] / k  # k == 1: grad already holds the mean (and x / 1 == x)
        if momentum == 0.0:
            params[idx] -= lr * g
        else:
            velocity[idx] = momentum * velocity[idx] - lr * g
            params[idx] += velocity[idx]
    if train_biases:
        g_tied = 0.0
        for j in range(n_out):
            g_tied += grad[b + j] / k
        for j in range(n_out):
            g = g_tied if tied[l] else grad[b + j] / k
            if momentum == 0.0:
                params[b + j] -= lr * g
            else:
                velocity[b + j] = momentum * velocity[b + j] - lr * g
                params[b + j] += velocity[b + j]


@helper
def _batch_step(
    params,
    velocity,
    grad,
    sizes,
    w_off,
    b_off,
    u_off,
    tied,
    X,
    Y,
    orders,
    e,
    start,
    stop,
    outs,
    deltas,
    block,
    lr,
    momentum,
    train_biases,
    layerwise,
    zero,
):
    """One minibatch, samples orders[e, start:stop]: mean gradient, then update. Returns its summed E.

    Samples go through in blocks of ``block``, layer by layer from the top:
    gradients of layer l, then the deltas of the layer below. With
    ``layerwise`` each layer is updated before the layer below computes its
    deltas, so the block must hold the whole batch; otherwise every layer is
    updated once the whole batch has been seen.
    """
    n_units = u_off[sizes.shape[0] - 1] + sizes[sizes.shape[0] - 1]
    n_layers = sizes.shape[0] - 1
    k = stop - start
    grad[:] = 0.0
    E_sum = 0.0
    for first in range(start, stop, block):
        n = min(block, stop - first)
        for r in range(n):
            s = orders[e, first + r]
            _forward(params, sizes, w_off, b_off, u_off, X, s, outs, r * n_units, zero)
            E_sum += _output_delta(sizes, u_off, outs, deltas, r * n_units, Y, s)
        for l in range(n_layers - 1, -1, -1):
            _accumulate_layer(grad, sizes, w_off, b_off, u_off, l, outs, deltas, n)
            if layerwise:
                _update_layer(params, velocity, grad, sizes, w_off, b_off, tied, l, k, lr, momentum, train_biases)
            if l > 0:
                _hidden_deltas(params, sizes, w_off, u_off, l, outs, deltas, n)
    if not layerwise:
        for l in range(n_layers):
            _update_layer(params, velocity, grad, sizes, w_off, b_off, tied, l, k, lr, momentum, train_biases)
    return E_sum


@kernel
def train_epochs(
    params, velocity, sizes, w_off, b_off, u_off, tied, X, Y, orders, n_epochs, lr, momentum, batch_size, block,
    train_biases, layerwise, errors,
):  # fmt: skip
    """Train for n_epochs epochs; errors[e] = epoch e's mean E over its samples.

    Epoch e visits the samples orders[e], or orders[0] in every epoch when
    orders has one row (an unshuffled run). Batches of one sample take the fused
    online path; larger batches the mean-gradient path. Returns the number of
    epochs whose mean error was finite: training stops after the first epoch
    whose mean error is not (which then reads errors[returned value]).
    """
    n_layers = sizes.shape[0] - 1
    n_units = u_off[n_layers] + sizes[n_layers]
    n_samples = orders.shape[1]
    online = batch_size == 1
    zero = np.zeros(1, params.dtype)[0]
    out = np.empty(n_units, params.dtype)
    delta = np.empty(n_units, params.dtype)
    grad = np.empty(0 if online else params.shape[0], params.dtype)
    outs = np.empty(0 if online else block * n_units, params.dtype)
    deltas = np.empty(0 if online else block * n_units, params.dtype)
    for e in range(n_epochs):
        row = min(e, orders.shape[0] - 1)
        E_epoch = 0.0
        if online:
            for r in range(n_samples):
                s = orders[row, r]
                _forward(params, sizes, w_off, b_off, u_off, X, s, out, 0, zero)
                E_epoch += _output_delta(sizes, u_off, out, delta, 0, Y, s)
                _online_backward(
                    params,
                    velocity,
                    sizes,
                    w_off,
                    b_off,
                    u_off,
                    tied,
                    out,
                    delta,
                    lr,
                    momentum,
                    train_biases,
                    layerwise,
                )
        else:
            for start in range(0, n_samples, batch_size):
                stop = min(start + batch_size, n_samples)
                E_epoch += _batch_step(
                    params,
                    velocity,
                    grad,
                    sizes,
                    w_off,
                    b_off,
                    u_off,
                    tied,
                    X,
                    Y,
                    orders,
                    row,
                    start,
                    stop,
                    outs,
                    deltas,
                    block,
                    lr,
                    momentum,
                    train_biases,
                    layerwise,
                    zero,
                )
        errors[e] = E_epoch / n_samples
        if not math.isfinite(errors[e]):
            return e
    return n_epochs


@parallel_kernel
def train_many_epochs(
    params,
    velocity,
    param_ptr,
    unit_ptr,
    layer_ptr,
    sizes,
    w_off,
    b_off,
    u_off,
    tied,
    X,
    Y,
    orders,
    n_epochs,
    lrs,
    momentum,
    batch_size,
    block,
    train_biases,
    layerwise,
    errors,
    done,
):
    """Train networks k = 0, 1, ... in parallel over the CPU's threads, each exactly as train_epochs would.

    Network k owns params[param_ptr[k]:param_ptr[k + 1]] (and the same slice of
    velocity), the layer widths and unit offsets sizes/u_off[unit_ptr[k]:unit_ptr[k + 1]],
    and the per-layer offsets w_off/b_off/tied[layer_ptr[k]:layer_ptr[k + 1]], all
    relative to its own slice. errors[k] and done[k] receive its results. Each
    thread calls the same compiled train_epochs as fastbp.train, on data no other
    thread writes, so each result is bit-identical to training alone. (Calling it,
    rather than inlining its body into the prange loop, keeps the parallel
    kernel's compile time small.)
    """  # fmt: skip
    for k in prange(lrs.shape[0]):
        p0, p1 = param_ptr[k], param_ptr[k + 1]
        u0, u1 = unit_ptr[k], unit_ptr[k + 1]
        l0, l1 = layer_ptr[k], layer_ptr[k + 1]
        done[k] = train_epochs(
            params[p0:p1], velocity[p0:p1], sizes[u0:u1], w_off[l0:l1], b_off[l0:l1], u_off[u0:u1], tied[l0:l1],
            X, Y, orders, n_epochs, lrs[k], momentum, batch_size, block, train_biases, layerwise, errors[k],
        )  # fmt: skip


@kernel
def train_lane_block(
    params,
    velocity,
    sizes,
    w_off,
    b_off,
    u_off,
    tied,
    X,
    Y,
    orders,
    n_epochs,
    lrs,
    momentum,
    train_biases,
    layerwise,
    errors,
    final,
    k0,
    k1,
):
    """Online training of networks k0..k1-1 of one architecture, stored lane by lane.

    params[p, k] is parameter p of network k (likewise velocity). Every step is
    the one of train_epochs (forward, output deltas, the fused backward pass and
    update), written with an innermost loop over networks, which vectorises: so
    each network's result is bit-identical to training it alone; errors[e, k]
    receives network k's mean error in epoch e. Returns the number of epochs
    after which every network's mean error was finite. If
    ``final`` has entries and every epoch was finite, one more forward pass over
    the samples in order puts each network's summed E_total in final[k], the sum
    evaluate() would return (the final error without a call per network).
    """  # fmt: skip
    k0 = np.uint64(k0)
    n = np.uint64(k1) - k0
    n_layers = sizes.shape[0] - 1
    n_units = np.uint64(u_off[n_layers] + sizes[n_layers])
    n_samples = orders.shape[1]
    out = np.empty((n_units, n), params.dtype)
    delta = np.empty((n_units, n), params.dtype)
    acc = np.empty(n, params.dtype)
    E_sample = np.empty(n)
    E_epoch = np.empty(n)
    g_tied = np.empty(n)
    for e in range(n_epochs + (1 if final.shape[0] > 0 else 0)):
        evaluating = e == n_epochs  # the extra pass for the final error: forward only
        row = min(e, orders.shape[0] - 1)
        E_epoch[:] = 0.0
        for r in range(n_samples):
            s = np.uint64(r) if evaluating else np.uint64(orders[row, r])
            for i in range(np.uint64(sizes[0])):
                x = X[s, i]
                for k in range(n):
                    out[i, k] = x
            # The forward pass: net_j = sum_i w_ji out_i (in order) + b_j, for every network.
            for l in range(n_layers):
                n_in = np.uint64(sizes[l])
                below = np.uint64(u_off[l])
                above = np.uint64(u_off[l + 1])
                last = n_in - np.uint64(1)
                for j in range(np.uint64(sizes[l + 1])):
                    weights = np.uint64(w_off[l]) + j * n_in
                    bias = np.uint64(b_off[l]) + j
                    # The first product starts the sum (0 + w x is w x, up to the sign of a zero,
                    # which the logistic ignores) and the last is added with the bias and the
                    # logistic: a pass over the networks fewer each, in the same order.
                    if n_in == 1:
                        for k in range(n):
                            net = params[weights, k0 + k] * out[below, k]
                            out[above + j, k] = _logistic(net + params[bias, k0 + k])
                        continue
                    for k in range(n):
                        acc[k] = params[weights, k0 + k] * out[below, k]
                    for i in range(np.uint64(1), last):
                        for k in range(n):
                            acc[k] += params[weights + i, k0 + k] * out[below + i, k]
                    for k in range(n):
                        net = acc[k] + params[weights + last, k0 + k] * out[below + last, k]
                        out[above + j, k] = _logistic(net + params[bias, k0 + k])
            # Output deltas and E_total.
            top = np.uint64(u_off[n_layers])
            for j in range(np.uint64(sizes[n_layers])):
                t = Y[s, j]
                for k in range(n):
                    o = out[top + j, k]
                    E_j = 0.5 * ((t - o) * (t - o))  # >= 0: 0 + E_j is E_j
                    E_sample[k] = E_j if j == 0 else E_sample[k] + E_j
                    delta[top + j, k] = (-(t - o)) * (o * (1.0 - o))
            for k in range(n):
                E_epoch[k] += E_sample[k]
            if evaluating:
                continue
            # The backward pass and update, as in _online_backward.
            for l in range(n_layers - 1, -1, -1):
                n_in = np.uint64(sizes[l])
                n_out = np.uint64(sizes[l + 1])
                below = np.uint64(u_off[l])
                above = np.uint64(u_off[l + 1])
                w = np.uint64(w_off[l])
                b = np.uint64(b_off[l])
                fuse = l > 0 and not layerwise
                if fuse and momentum != 0.0:
                    for i in range(n_in):
                        for k in range(n):
                            delta[below + i, k] = 0.0
                for j in range(n_out):
                    row_w = w + j * n_in
                    for i in range(n_in):
                        p = row_w + i
                        if momentum == 0.0:
                            if fuse:
                                # The first row starts the sums dE/dout_i, the last finishes them
                                # into the deltas below (times out_i (1 - out_i)).
                                first = j == 0
                                final_row = j == n_out - np.uint64(1)
                                for k in range(n):
                                    d = delta[above + j, k]
                                    o = out[below + i, k]
                                    w_d = params[p, k0 + k] * d
                                    below_d = w_d if first else delta[below + i, k] + w_d
                                    delta[below + i, k] = below_d * (o * (1.0 - o)) if final_row else below_d
                                    params[p, k0 + k] -= lrs[k0 + k] * (d * o)
                            else:
                                for k in range(n):
                                    d = delta[above + j, k]
                                    params[p, k0 + k] -= lrs[k0 + k] * (d * out[below + i, k])
                        else:
                            for k in range(n):
                                d = delta[above + j, k]
                                if fuse:
                                    delta[below + i, k] += params[p, k0 + k] * d
                                step = lrs[k0 + k] * (d * out[below + i, k])
                                velocity[p, k0 + k] = momentum * velocity[p, k0 + k] - step
                                params[p, k0 + k] += velocity[p, k0 + k]
                if train_biases and tied[l]:
                    g_tied[:] = 0.0
                    for j in range(n_out):
                        for k in range(n):
                            g_tied[k] += delta[above + j, k]
                if train_biases:
                    for j in range(n_out):
                        for k in range(n):
                            g = g_tied[k] if tied[l] else delta[above + j, k]
                            if momentum == 0.0:
                                params[b + j, k0 + k] -= lrs[k0 + k] * g
                            else:
                                velocity[b + j, k0 + k] = momentum * velocity[b + j, k0 + k] - lrs[k0 + k] * g
                                params[b + j, k0 + k] += velocity[b + j, k0 + k]
                if l > 0:
                    if not fuse:
                        for j in range(n_out):
                            row_w = w + j * n_in
                            for i in range(n_in):
                                for k in range(n):
                                    if j == 0:
                                        delta[below + i, k] = params[row_w + i, k0 + k] * delta[above + j, k]
                                    else:
                                        delta[below + i, k] += params[row_w + i, k0 + k] * delta[above + j, k]
                    if not (fuse and momentum == 0.0):  # (there the last row did it)
                        for i in range(n_in):
                            for k in range(n):
                                o = out[below + i, k]
                                delta[below + i, k] = delta[below + i, k] * (o * (1.0 - o))
        if evaluating:
            for k in range(n):
                final[k0 + k] = E_epoch[k]
            break
        finite = True
        for k in range(n):
            errors[e, k0 + k] = E_epoch[k] / n_samples
            finite = finite and math.isfinite(errors[e, k0 + k])
        if not finite:
            return e
    return n_epochs


@parallel_kernel
def train_lanes_epochs(
    params,
    velocity,
    sizes,
    w_off,
    b_off,
    u_off,
    tied,
    X,
    Y,
    orders,
    n_epochs,
    lrs,
    momentum,
    train_biases,
    layerwise,
    errors,
    final,
    lane_block,
):
    """train_lane_block over blocks of lane_block networks, the blocks spread over Numba's threads.

    Returns, per block, the epochs after which all its networks were finite.
    """  # fmt: skip
    n_blocks = (params.shape[1] + lane_block - 1) // lane_block
    done = np.empty(n_blocks, np.int64)
    for block in prange(n_blocks):
        k0 = block * lane_block
        k1 = min(params.shape[1], k0 + lane_block)
        done[block] = train_lane_block(
            params, velocity, sizes, w_off, b_off, u_off, tied, X, Y, orders, n_epochs, lrs, momentum,
            train_biases, layerwise, errors, final, k0, k1,
        )  # fmt: skip
    return done


@kernel
def train_epochs_blas(
    params, velocity, sizes, w_off, b_off, u_off, tied, X, Y, orders, n_epochs, lr, momentum, batch_size, block,
    train_biases, layerwise, errors,
):  # fmt: skip
    """train_epochs for minibatches of wide layers: each layer's products as BLAS matrix products.

    Per batch of k samples: A_{l+1} = logistic(A_l W_l^T + b_l); output deltas;
    then from the top, grad_W = D^T A_l and D_below = (D W_l) * A (1 - A), with the
    same update rules and order as train_epochs. The sums inside the products run
    in BLAS's order rather than the oracle's, so results agree with the oracle to
    rounding (about 1e-15 relative per step), not bit for bit. np.dot inside Numba
    needs SciPy's BLAS: Python picks this kernel only when SciPy is importable.
    (u_off and block are unused; the signature matches train_epochs.)
    """  # fmt: skip
    n_layers = sizes.shape[0] - 1
    n_samples = orders.shape[1]
    grad = np.empty(params.shape[0], params.dtype)
    # The gathered inputs of a whole batch, reused: a fresh buffer this large would
    # come from the kernel as new, zero-filled pages on every batch.
    inputs = np.empty((batch_size, sizes[0]), params.dtype)
    for e in range(n_epochs):
        row = min(e, orders.shape[0] - 1)
        E_epoch = 0.0
        for start in range(0, n_samples, batch_size):
            k = min(batch_size, n_samples - start)
            first = orders[row, start]
            consecutive = True
            for r in range(k):
                consecutive = consecutive and orders[row, start + r] == first + r
            if consecutive:  # unshuffled: the batch is rows of X as they are (no copy)
                A = X[first : first + k]
            else:
                A = inputs if k == batch_size else np.empty((k, sizes[0]), params.dtype)
                for r in range(k):
                    A[r] = X[orders[row, start + r]]
            acts = [A]
            for l in range(n_layers):
                W = params[w_off[l] : b_off[l]].reshape((sizes[l + 1], sizes[l]))
                Z = np.dot(acts[l], W.T)
                for r in range(k):
                    for j in range(sizes[l + 1]):
                        Z[r, j] = _logistic(Z[r, j] + params[b_off[l] + j])
                acts.append(Z)
            out = acts[n_layers]
            D = np.empty((k, sizes[n_layers]), params.dtype)
            for r in range(k):
                s = orders[row, start + r]
                for j in range(sizes[n_layers]):
                    o = out[r, j]
                    t = Y[s, j]
                    E_epoch += 0.5 * ((t - o) * (t - o))
                    # Deltas divided by k here make every product below a batch mean at once
                    # (no division per weight in the update).
                    D[r, j] = (-(t - o)) * (o * (1.0 - o)) / k
            for l in range(n_layers - 1, -1, -1):
                np.dot(D.T, acts[l], grad[w_off[l] : b_off[l]].reshape((sizes[l + 1], sizes[l])))
                for j in range(sizes[l + 1]):
                    g = 0.0
                    for r in range(k):
                        g += D[r, j]
                    grad[b_off[l] + j] = g
                if layerwise:
                    _update_layer(params, velocity, grad, sizes, w_off, b_off, tied, l, 1, lr, momentum, train_biases)
                if l > 0:
                    W = params[w_off[l] : b_off[l]].reshape((sizes[l + 1], sizes[l]))
                    D = np.dot(D, W)
                    below = acts[l]
                    for r in range(k):
                        for i in range(sizes[l]):
                            o = below[r, i]
                            D[r, i] = D[r, i] * (o * (1.0 - o))
            if not layerwise:
                for l in range(n_layers):
                    _update_layer(params, velocity, grad, sizes, w_off, b_off, tied, l, 1, lr, momentum, train_biases)
        errors[e] = E_epoch / n_samples
        if not math.isfinite(errors[e]):
            return e
    return n_epochs


@kernel
def evaluate(params, sizes, w_off, b_off, u_off, X, Y, outputs):
    """Forward pass of every row of X into outputs; returns the summed E_total against Y.

    Y may have no rows, for a plain forward pass (the error is then 0).
    """
    n_layers = sizes.shape[0] - 1
    zero = np.zeros(1, params.dtype)[0]
    out = np.empty(u_off[n_layers] + sizes[n_layers], params.dtype)
    delta = np.empty(out.shape[0], params.dtype)
    top = u_off[n_layers]
    E_sum = 0.0
    for s in range(X.shape[0]):
        _forward(params, sizes, w_off, b_off, u_off, X, s, out, 0, zero)
        for j in range(outputs.shape[1]):
            outputs[s, j] = out[top + j]
        if Y.shape[0] > 0:
            E_sum += _output_delta(sizes, u_off, out, delta, 0, Y, s)
    return E_sum


@kernel
def evaluate_blas(params, sizes, w_off, b_off, u_off, X, Y, outputs):
    """evaluate for wide layers: blocks of 256 rows through BLAS matrix products (u_off unused)."""
    n_layers = sizes.shape[0] - 1
    E_sum = 0.0
    for first in range(0, X.shape[0], 256):
        k = min(256, X.shape[0] - first)
        A = X[first : first + k]
        for l in range(n_layers):
            W = params[w_off[l] : b_off[l]].reshape((sizes[l + 1], sizes[l]))
            A = np.dot(A, W.T)
            for r in range(k):
                for j in range(sizes[l + 1]):
                    A[r, j] = _logistic(A[r, j] + params[b_off[l] + j])
        for r in range(k):
            for j in range(outputs.shape[1]):
                outputs[first + r, j] = A[r, j]
                if Y.shape[0] > 0:
                    E_sum += 0.5 * ((Y[first + r, j] - A[r, j]) * (Y[first + r, j] - A[r, j]))
    return E_sum


@kernel
def gradient_sum(params, grad, sizes, w_off, b_off, u_off, X, Y, block):
    """grad = sum over samples of dE_total/dparams (a bias per unit); returns the summed E."""
    n_layers = sizes.shape[0] - 1
    n_units = u_off[n_layers] + sizes[n_layers]
    zero = np.zeros(1, params.dtype)[0]
    outs = np.empty(block * n_units, params.dtype)
    deltas = np.empty(block * n_units, params.dtype)
    grad[:] = 0.0
    E_sum = 0.0
    for first in range(0, X.shape[0], block):
        n = min(block, X.shape[0] - first)
        for r in range(n):
            _forward(params, sizes, w_off, b_off, u_off, X, first + r, outs, r * n_units, zero)
            E_sum += _output_delta(sizes, u_off, outs, deltas, r * n_units, Y, first + r)
        for l in range(n_layers - 1, -1, -1):
            _accumulate_layer(grad, sizes, w_off, b_off, u_off, l, outs, deltas, n)
            if l > 0:
                _hidden_deltas(params, sizes, w_off, u_off, l, outs, deltas, n)
    return E_sum


# The one signature train_epochs is ever called with for each parameter dtype
# (float64, or float32 networks); Python converts every argument to these types
# first. Compiled, or loaded from the cache, on first use.
_I1, _I2 = types.int64[::1], types.int64[:, ::1]


def train_epochs_signature(real):
    """train_epochs's signature for parameters of dtype real (float64 errors either way)."""
    R1, R2 = real[::1], real[:, ::1]
    return (
        R1, R1, _I1, _I1, _I1, _I1, _I1, R2, R2, _I2,
        types.int64, real, real, types.int64, types.int64, types.boolean, types.boolean, types.float64[::1],
    )  # fmt: skip


def train_many_epochs_signature(real):
    """train_many_epochs's: params and sizes, three int64 pointer arrays, lrs, errors and done."""
    R1, R2 = real[::1], real[:, ::1]
    return (
        R1, R1, _I1, _I1, _I1, _I1, _I1, _I1, _I1, _I1, R2, R2, _I2,
        types.int64, R1, real, types.int64, types.int64, types.boolean, types.boolean, types.float64[:, ::1], _I1,
    )  # fmt: skip


def train_lanes_epochs_signature(real):
    """train_lanes_epochs's: parameters and velocities lane by lane (2-D), the lrs, errors (epoch by
    network), final sums, a block size."""
    R1, R2 = real[::1], real[:, ::1]
    return (
        R2, R2, _I1, _I1, _I1, _I1, _I1, R2, R2, _I2,
        types.int64, R1, real, types.boolean, types.boolean, types.float64[:, ::1], types.float64[::1], types.int64,
    )  # fmt: skip
