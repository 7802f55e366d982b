"""fastbp's pure-Python oracle (the article only: elsewhere it needs minutes)."""

from __future__ import annotations


def runner(w: dict):
    from .common import only_the_article

    only_the_article(w, "the oracle")
    if w["nets"][0][0][0].size > 4:  # the 2-2-2 network only: the oracle needs minutes elsewhere
        raise NotImplementedError("the oracle only runs the article")
    import fastbp

    def train():
        (W, B), = w["nets"]  # fmt: skip
        net = fastbp.Network.from_arrays(W, [b[0] for b in B])
        h = fastbp.train(net, w["X"], w["Y"], epochs=w["epochs"], lr=w["lr"], train_biases=False, engine="python")
        return [h.final_error]

    return train
