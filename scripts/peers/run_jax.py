"""JAX: jit and lax.scan over batches and epochs, vmap over an ensemble's networks; other models through
jax.grad, with Adam written out as torch.optim.Adam computes it."""

from __future__ import annotations

import numpy as np

from .common import cross_entropy_error, hidden_activation, mean_error


def runner(w: dict):
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    lr, tb, k, epochs = w["lr"], w["train_biases"], w["batch"], w["epochs"]
    n = len(w["X"]) // k * k  # full batches (the last partial batch, if any, is run separately)
    if "model" in w and w["model"].get("optimizer"):
        return _model_runner(w, jax, jnp, n)
    hidden = hidden_activation(w, "JAX")
    activate, slope = {
        "logistic": (jax.nn.sigmoid, lambda h: h * (1 - h)),
        "tanh": (jnp.tanh, lambda h: 1 - h * h),
        "relu": (jax.nn.relu, lambda h: (h > 0).astype(h.dtype)),
    }[hidden]

    def step(params, batch):
        W1, b1, W2, b2 = params
        x, y = batch
        h = activate(x @ W1.T + b1)
        o = jax.nn.sigmoid(h @ W2.T + b2)
        d2 = (o - y) * o * (1 - o)
        d1 = (d2 @ W2) * slope(h)
        m = x.shape[0]
        new = (W1 - (lr / m) * (d1.T @ x), b1 - tb * (lr / m) * d1.sum(0),
               W2 - (lr / m) * (d2.T @ h), b2 - tb * (lr / m) * d2.sum(0))  # fmt: skip
        return new, None

    X, Y = jnp.asarray(w["X"]), jnp.asarray(w["Y"])
    batches = (X[:n].reshape(-1, k, X.shape[1]), Y[:n].reshape(-1, k, Y.shape[1]))
    rest = (X[n:], Y[n:])

    def epoch(params, _):
        params, _ = jax.lax.scan(step, params, batches)
        if rest[0].shape[0]:
            params, _ = step(params, rest)
        return params, None

    def run(params):
        return jax.lax.scan(epoch, params, None, length=epochs)[0]

    def as_params(W, B):
        return (jnp.asarray(W[0]), jnp.asarray(np.asarray(B[0], float)),
                jnp.asarray(W[1]), jnp.asarray(np.asarray(B[1], float)))  # fmt: skip

    if len(w["nets"]) > 1:
        stacked = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *[as_params(W, B) for W, B in w["nets"]])
        fn = jax.jit(jax.vmap(run))
    else:
        stacked = as_params(*w["nets"][0])
        fn = jax.jit(run)

    def train():
        result = jax.block_until_ready(fn(stacked))
        arrays = [np.asarray(a) for a in result]
        if len(w["nets"]) > 1:
            return [mean_error(*(a[i] for a in arrays), w["X"], w["Y"], hidden) for i in range(len(w["nets"]))]
        return [mean_error(*arrays, w["X"], w["Y"], hidden)]

    return train


def _model_runner(w: dict, jax, jnp, n: int):
    """tanh hidden units, softmax output, cross-entropy, Adam (the digits-adam-softmax workload)."""
    if w["model"] != dict(activations=("tanh", "softmax"), loss="cross_entropy", optimizer="adam"):
        raise NotImplementedError(f"no JAX runner for {w['model']}")
    lr, k, (beta1, beta2), eps = w["lr"], w["batch"], (0.9, 0.999), 1e-8

    def loss(params, x, y):
        W1, b1, W2, b2 = params
        z = jnp.tanh(x @ W1.T + b1) @ W2.T + b2
        return -(y * jax.nn.log_softmax(z)).sum(axis=1).mean()

    def step(carry, batch):
        params, m, v, t = carry
        g = jax.grad(loss)(params, *batch)
        t = t + 1
        m = jax.tree_util.tree_map(lambda m_, g_: m_ + (1 - beta1) * (g_ - m_), m, g)
        v = jax.tree_util.tree_map(lambda v_, g_: beta2 * v_ + (1 - beta2) * g_ * g_, v, g)
        size, root = lr / (1 - beta1**t), jnp.sqrt(1 - beta2**t)
        params = jax.tree_util.tree_map(lambda p, m_, v_: p - size * (m_ / (jnp.sqrt(v_) / root + eps)), params, m, v)
        return (params, m, v, t), None

    X, Y = jnp.asarray(w["X"]), jnp.asarray(w["Y"])
    batches = (X[:n].reshape(-1, k, X.shape[1]), Y[:n].reshape(-1, k, Y.shape[1]))
    rest = (X[n:], Y[n:])

    def epoch(carry, _):
        carry, _ = jax.lax.scan(step, carry, batches)
        if rest[0].shape[0]:
            carry, _ = step(carry, rest)
        return carry, None

    @jax.jit
    def run(params):
        zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
        return jax.lax.scan(epoch, (params, zeros, zeros, 0.0), None, length=w["epochs"])[0][0]

    (W, B), = w["nets"]  # fmt: skip
    start = tuple(jnp.asarray(a) for a in (W[0], B[0], W[1], B[1]))

    def train():
        params = [np.asarray(a) for a in jax.block_until_ready(run(start))]
        return [cross_entropy_error(*params, w["X"], w["Y"])]

    return train
