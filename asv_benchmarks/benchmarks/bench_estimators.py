"""fastbp's scikit-learn estimators: fit time and test score on the parity cases (workloads.ESTIMATOR_CASES)."""

import warnings

from .common import Benchmark
from .workloads import ESTIMATOR_CASES, estimator, estimator_data


class EstimatorFit(Benchmark):
    """MLPClassifier on digits and MLPRegressor on make_friedman1, 100 epochs, convergence stopping off;
    "sklearn" times scikit-learn's own estimator on the same case, for the ratio on the dashboard."""

    params = (list(ESTIMATOR_CASES), ["fastbp", "sklearn"])
    param_names = ["case", "library"]
    repeat = (3, 10, 20.0)

    def setup(self, case, library):
        try:
            import fastbp  # noqa: F401

            self.model = estimator(library, case)
        except (ImportError, AttributeError):  # a fastbp without estimators, or no scikit-learn
            raise NotImplementedError("no estimator") from None
        self.data = estimator_data(ESTIMATOR_CASES[case][1])
        X_train, _, y_train, _ = self.data
        self.fit(X_train[:50], y_train[:50])  # compile / load the kernels

    def fit(self, X, y):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter is the point here
            return self.model.fit(X, y)

    def time_fit(self, case, library):
        self.fit(self.data[0], self.data[2])

    def track_test_score(self, case, library):
        X_train, X_test, y_train, y_test = self.data
        return self.fit(X_train, y_train).score(X_test, y_test)

    track_test_score.unit = "score"
