"""fastbp, as a user calls it: train, or train_many for an ensemble."""

from __future__ import annotations


def runner(w: dict):
    from benchmarks.workloads import networks, train_options

    import fastbp

    def train():
        nets = networks(w)
        if len(nets) == 1:
            return [fastbp.train(nets[0], w["X"], w["Y"], **train_options(w)).final_error]
        return [h.final_error for h in fastbp.train_many(nets, w["X"], w["Y"], **train_options(w))]

    return train
