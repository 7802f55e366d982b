"""scikit-learn's MLP: throughput only (its own initial weights; for the article's model, an MLPRegressor
with identity output units and its own loss)."""

from __future__ import annotations


def runner(w: dict):
    if len(w["nets"]) > 1 or w["X"].shape[0] < 100:
        raise NotImplementedError("scikit-learn's MLP is timed on the data-set workloads only")
    from sklearn.neural_network import MLPRegressor

    if "model" in w:
        return _classifier(w)

    def train():
        model = MLPRegressor(
            hidden_layer_sizes=(w["nets"][0][0][0].shape[0],), activation="logistic", solver="sgd",
            batch_size=w["batch"], learning_rate_init=w["lr"], momentum=0.0, alpha=0.0, max_iter=w["epochs"],
            shuffle=False, tol=0.0, n_iter_no_change=10**9, random_state=0,
        )  # fmt: skip
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(w["X"], w["Y"])
        return [float("nan")]  # a different model (identity outputs): throughput only

    return train


def _classifier(w: dict):
    """MLPClassifier with tanh units, softmax and cross-entropy, Adam: the same model, its own initial weights."""
    if w["model"] != dict(activations=("tanh", "softmax"), loss="cross_entropy", optimizer="adam"):
        raise NotImplementedError(f"no scikit-learn runner for {w['model']}")
    import warnings

    import numpy as np
    from sklearn.neural_network import MLPClassifier

    if w["model"] != dict(activations=("tanh", "softmax"), loss="cross_entropy", optimizer="adam"):
        raise NotImplementedError(f"no scikit-learn runner for {w['model']}")
    labels = w["Y"].argmax(axis=1)

    def train():
        model = MLPClassifier(
            hidden_layer_sizes=(w["nets"][0][0][0].shape[0],), activation="tanh", solver="adam", alpha=0.0,
            batch_size=w["batch"], learning_rate_init=w["lr"], max_iter=w["epochs"], shuffle=False, tol=0.0,
            n_iter_no_change=10**9, random_state=0,
        )  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(w["X"], labels)
        probabilities = model.predict_proba(w["X"])
        return [float(-np.mean(np.log(probabilities[np.arange(len(labels)), labels])))]

    return train
