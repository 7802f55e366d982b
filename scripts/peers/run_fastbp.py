"""fastbp, as a user calls it: train, or train_many for an ensemble.

The workload's networks are built once, before the clock starts, as JAX's runner stacks its arrays once;
since fastbp trains in place, each timed run trains fresh copies of them.
"""

from __future__ import annotations


def runner(w: dict, **extra):
    """extra: options beyond the workload's (fast_math=True for the fastbp_fast peer)."""
    from benchmarks.workloads import networks, train_options

    import fastbp

    initial = networks(w)
    options = train_options(w) | extra

    def train():
        nets = [net.copy() for net in initial]
        if len(nets) == 1:
            return [fastbp.train(nets[0], w["X"], w["Y"], **options).final_error]
        return [h.final_error for h in fastbp.train_many(nets, w["X"], w["Y"], **options)]

    return train
