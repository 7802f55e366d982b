"""JAX: jit and lax.scan over batches and epochs, vmap over an ensemble's networks."""

from __future__ import annotations

import numpy as np

from .common import mean_error


def runner(w: dict):
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    lr, tb, k, epochs = w["lr"], w["train_biases"], w["batch"], w["epochs"]
    n = len(w["X"]) // k * k  # full batches (the last partial batch, if any, is run separately)

    def step(params, batch):
        W1, b1, W2, b2 = params
        x, y = batch
        h = jax.nn.sigmoid(x @ W1.T + b1)
        o = jax.nn.sigmoid(h @ W2.T + b2)
        d2 = (o - y) * o * (1 - o)
        d1 = (d2 @ W2) * h * (1 - h)
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
            return [mean_error(*(a[i] for a in arrays), w["X"], w["Y"]) for i in range(len(w["nets"]))]
        return [mean_error(*arrays, w["X"], w["Y"])]

    return train
