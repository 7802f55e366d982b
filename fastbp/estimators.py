"""scikit-learn's MLPClassifier and MLPRegressor, trained by fastbp's kernels: change the import, keep the rest.

The parameters, their defaults and meanings, the fitted attributes and the stopping
rules are scikit-learn's (sklearn.neural_network); what differs is listed in
docs/design.md ("scikit-learn estimators"). Importing this module imports
scikit-learn: ``import fastbp`` does not, and reaches these classes lazily.
"""

from __future__ import annotations

import functools
import numbers
import warnings

import numpy as np

try:
    import scipy.optimize
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelBinarizer
    from sklearn.utils import check_random_state
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
    from sklearn.utils.optimize import _check_optimize_result
    from sklearn.utils.validation import _check_sample_weight, check_is_fitted, column_or_1d, validate_data
except ImportError:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "fastbp.MLPClassifier and fastbp.MLPRegressor need scikit-learn: pip install 'fastbp[sklearn]'"
    ) from None

from . import _dispatch, _options, catalogue
from ._engine import Engine
from ._layout import Layout
from .network import Network

NON_FINITE = (
    "Solver produced non-finite parameter weights. The input data may contain large values and need "
    "to be preprocessed."
)  # scikit-learn's words
HIDDEN_ACTIVATIONS = catalogue.hidden_activations()
SOLVERS = ("lbfgs", *_options.OPTIMIZERS)  # lbfgs: scipy's L-BFGS-B over the compiled loss and gradient
# The regressor's loss: scikit-learn's name -> (fastbp's loss, the output activation it takes).
REGRESSION_LOSSES = {"squared_error": ("squared", "identity"), "poisson": ("poisson", "exp")}
# What a fit leaves for the next warm start or partial_fit to go on from (a fresh start forgets it).
FIT_STATE = ("_optimizer_state", "_optimizer", "loss_curve_", "best_loss_", "validation_scores_",
             "best_validation_score_", "_no_improvement_count")  # fmt: skip
SCHEDULES = ("constant", "invscaling", "adaptive")  # scikit-learn's learning_rate (sgd only, as there)


def _lbfgs_verbose() -> dict:
    """L-BFGS-B's option for printing its progress in the installed scipy (iprint, deprecated since 1.15)."""
    try:
        from sklearn.utils.fixes import _get_additional_lbfgs_options_dict

        return _get_additional_lbfgs_options_dict("iprint", 1)
    except ImportError:
        return {"iprint": 1}


@functools.lru_cache(maxsize=64)
def _packing_of(widths: tuple[int, ...]) -> np.ndarray:
    """Where each value of scikit-learn's packing (every coefs_ raveled, then every intercepts_) sits in the
    parameters of a network of these widths: once per architecture, not at every lbfgs evaluation."""
    layout = Layout.of(widths)
    index = np.arange(layout.n_params)
    order = np.concatenate([W.T.ravel() for W in layout.weights(index)] + list(layout.biases(index)))
    order.flags.writeable = False
    return order


class _Schedule:
    """scikit-learn's learning-rate schedules for solver="sgd" (its SGDOptimizer's learning_rate, iteration_ends
    and trigger_stopping); every other solver keeps learning_rate_init and stops when the count runs out."""

    def __init__(self, learning_rate_init: float, schedule: str, power_t: float, applies: bool):
        self.learning_rate_init = float(learning_rate_init)
        self.learning_rate = float(learning_rate_init)
        self.schedule, self.power_t, self.applies = schedule, float(power_t), applies

    def iteration_ends(self, time_step: int) -> None:
        """After each epoch: invscaling sets eta = learning_rate_init / (t + 1)^power_t, t the samples seen."""
        if self.applies and self.schedule == "invscaling":
            self.learning_rate = self.learning_rate_init / (time_step + 1) ** self.power_t

    def trigger_stopping(self, message: str, verbose: bool) -> bool:
        """When the stopping count runs out: stop, or (adaptive) divide eta by 5 and go on while eta > 1e-6."""
        if not (self.applies and self.schedule == "adaptive"):
            if verbose:
                print(message + " Stopping.")
            return True
        if self.learning_rate <= 1e-6:
            if verbose:
                print(message + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(message + f" Setting learning rate to {self.learning_rate:f}")
        return False


class _BaseMLP(BaseEstimator):
    """What the classifier and the regressor share: checking, initialising and the epoch loop."""

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun

    # --- what subclasses say ------------------------------------------------------

    def _targets(self, y, first_pass: bool, incremental: bool) -> np.ndarray:
        """y as the network's 2-D targets (and, for a first pass, the output's activation and loss)."""
        raise NotImplementedError

    def _predict(self, X, check_input: bool = True) -> np.ndarray:
        raise NotImplementedError

    def _score_for_stopping(self, X_val, y_val, sample_weight) -> float:
        raise NotImplementedError

    # --- checks -------------------------------------------------------------------

    def _hidden_sizes(self) -> list[int]:
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        if not all(isinstance(n, numbers.Integral) and not isinstance(n, bool) and n > 0 for n in sizes):
            raise ValueError(f"hidden_layer_sizes must be positive integers; got {self.hidden_layer_sizes!r}")
        return [int(n) for n in sizes]

    def _check_parameters(self) -> None:
        if self.activation not in HIDDEN_ACTIVATIONS:
            raise ValueError(f"activation must be one of {HIDDEN_ACTIVATIONS}; got {self.activation!r}")
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}; got {self.solver!r}")
        if self.learning_rate not in SCHEDULES:
            raise ValueError(f"learning_rate must be one of {SCHEDULES}; got {self.learning_rate!r}")
        for name in ("max_iter", "max_fun"):
            value = getattr(self, name)
            if not (isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1):
                raise ValueError(f"{name} must be a positive integer; got {value!r}")
        patience = self.n_iter_no_change
        if not ((isinstance(patience, numbers.Integral) and patience >= 1) or patience == np.inf):
            raise ValueError(f"n_iter_no_change must be a positive integer or np.inf; got {patience!r}")
        if self.batch_size != "auto" and not (isinstance(self.batch_size, numbers.Integral) and self.batch_size >= 1):
            raise ValueError(f"batch_size must be 'auto' or a positive integer; got {self.batch_size!r}")
        for name, low in (("alpha", 0.0), ("tol", 0.0), ("power_t", 0.0), ("learning_rate_init", None),
                          ("epsilon", None)):  # fmt: skip
            value = getattr(self, name)
            if not isinstance(value, numbers.Real) or not (value >= low if low is not None else value > 0):
                raise ValueError(f"{name} must be a {'non-negative' if low is not None else 'positive'} number; "
                                 f"got {value!r}")  # fmt: skip
        if not (isinstance(self.validation_fraction, numbers.Real) and 0 < self.validation_fraction < 1):
            raise ValueError(f"validation_fraction must be in (0, 1); got {self.validation_fraction!r}")
        if not isinstance(self.nesterovs_momentum, (bool, np.bool_)):
            raise ValueError(f"nesterovs_momentum must be True or False; got {self.nesterovs_momentum!r}")
        catalogue.loss(self._loss)  # (the regressor's loss parameter, checked before any work)
        # momentum, beta_1, beta_2 are checked by fastbp's own option table when training starts.

    def _check_stochastic(self) -> bool:
        """partial_fit exists for the per-batch solvers only, as scikit-learn's (lbfgs and RPROP step once per
        full batch): hasattr(estimator, "partial_fit") is False for the others."""
        if self.solver not in SOLVERS or self.solver == "lbfgs" or not catalogue.optimizer(self.solver).per_batch:
            raise AttributeError(f"partial_fit is only available for stochastic optimizers. {self.solver} is not "
                                 "stochastic.")  # fmt: skip
        return True

    # --- fitting ------------------------------------------------------------------

    def fit(self, X, y, sample_weight=None):
        """Train on (X, y) for up to max_iter epochs (from the current weights with warm_start); sample_weight
        weighs each sample's loss and gradient, as scikit-learn's."""
        return self._fit(X, y, sample_weight, incremental=False)

    def _fit(self, X, y, sample_weight, incremental: bool):
        self._check_parameters()
        hidden = self._hidden_sizes()
        first_pass = not self._has_parameters() or (not self.warm_start and not incremental)
        X, y = validate_data(
            self, X, y, accept_sparse=["csr", "csc"], multi_output=True, dtype=(np.float64, np.float32),
            reset=first_pass, y_numeric=not is_classifier(self),
        )  # fmt: skip
        if hasattr(X, "toarray"):
            X = X.toarray()  # fastbp's kernels are dense
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        Y = self._targets(y, first_pass, incremental)
        if not first_pass:
            self._check_continuable(hidden, X.dtype)
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(X.shape[1], hidden, Y.shape[1], X.dtype)
        elif Y.shape[1] != self.network_.sizes[-1]:
            raise ValueError(f"y has {Y.shape[1]} outputs; the fitted network has {self.network_.sizes[-1]}")
        dtype = self.network_.dtype  # the network keeps the dtype of its first fit (float32 stays float32)
        X, Y = np.ascontiguousarray(X, dtype=dtype), np.ascontiguousarray(Y, dtype=dtype)
        # A read-only array (a memmap, say) would compile kernels of its own (~10 s): train on copies.
        X = X if X.flags.writeable else X.copy()
        Y = Y if Y.flags.writeable else Y.copy()
        if sample_weight is not None:
            sample_weight = np.ascontiguousarray(sample_weight, dtype=dtype)
        if self.solver == "lbfgs":
            self._train_lbfgs(X, Y, sample_weight)
        else:
            self._train(X, Y, y, sample_weight, incremental)
        return self

    def _has_parameters(self) -> bool:
        """Whether there are weights to continue from: a fitted network, or coefs_ and intercepts_ assigned."""
        return "network_" in self.__dict__ or ("_assigned_coefs" in self.__dict__ and
                                               "_assigned_intercepts" in self.__dict__)  # fmt: skip

    def _check_continuable(self, hidden: list[int], dtype) -> None:
        """Before a warm start or partial_fit: the network to continue (built from coefs_ and intercepts_ where
        those were assigned to an unfitted estimator), with the hidden layers asked for and the activation asked
        for now (scikit-learn's forward pass reads ``activation`` at every fit)."""
        activations = (self.activation,) * len(hidden) + (self.out_activation_,)
        if "network_" not in self.__dict__:
            weights = [np.asarray(W).T for W in self.__dict__["_assigned_coefs"]]
            biases = [np.asarray(b).ravel() for b in self.__dict__["_assigned_intercepts"]]
            self.network_ = Network.from_arrays(weights, biases, dtype=dtype, activations=activations)
            del self.__dict__["_assigned_coefs"], self.__dict__["_assigned_intercepts"]  # (kept if refused)
            self._start_counters()
        net = self.network_
        if list(net.sizes[1:-1]) != hidden:
            raise ValueError(f"hidden_layer_sizes is {self.hidden_layer_sizes!r} but the fitted network's hidden "
                             f"layers are {net.sizes[1:-1]}; fit with warm_start=False to start over")  # fmt: skip
        if net.activations != activations:
            self.network_ = Network.from_arrays(net.weights, net.biases, dtype=net.dtype, activations=activations)

    def _initialize(self, n_features: int, hidden: list[int], n_outputs: int, dtype) -> None:
        """A fresh network drawn as scikit-learn draws it (Glorot uniform, factor 2 for logistic units)."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = n_outputs
        self.n_layers_ = len(hidden) + 2
        layer_units = [n_features, *hidden, n_outputs]
        factor = catalogue.activation(self.activation).init_factor
        weights, biases = [], []
        for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
            bound = np.sqrt(factor / (fan_in + fan_out))
            weights.append(self._random_state.uniform(-bound, bound, (fan_in, fan_out)).T)
            biases.append(self._random_state.uniform(-bound, bound, fan_out))
        activations = [self.activation] * len(hidden) + [self.out_activation_]
        self.network_ = Network.from_arrays(weights, biases, dtype=dtype, activations=activations)
        for name in (*FIT_STATE, "_assigned_coefs", "_assigned_intercepts"):
            self.__dict__.pop(name, None)
        self._start_counters()

    def _start_counters(self) -> None:
        """The stopping rule's counters, where not set already (scikit-learn's, for the stochastic solvers)."""
        if self.solver == "lbfgs":
            return
        defaults = {"n_iter_": 0, "t_": 0, "_optimizer_state": None, "loss_curve_": [], "_no_improvement_count": 0}
        if self.early_stopping:
            defaults.update(validation_scores_=[], best_validation_score_=-np.inf, best_loss_=None)
        else:
            defaults.update(best_loss_=np.inf, validation_scores_=None, best_validation_score_=None)
        for name, value in defaults.items():
            if name not in self.__dict__:
                setattr(self, name, value)

    def _split(self, X, Y, y, sample_weight):
        """(X, Y, weights) to train on and (X, y, weights) held out with early_stopping (else None), drawn as
        scikit-learn draws them."""
        if not self.early_stopping:
            return (X, Y, sample_weight), None
        # Stratified on the binarised labels, as scikit-learn (its messages then name the classes 'True', 'False').
        stratify = Y.astype(bool) if is_classifier(self) and self.n_outputs_ == 1 else None
        arrays = (X, Y, y) if sample_weight is None else (X, Y, y, sample_weight)
        parts = train_test_split(*arrays, random_state=self._random_state, test_size=self.validation_fraction,
                                 stratify=stratify)  # fmt: skip
        X_train, X_val, Y_train, y_val = parts[0], parts[1], parts[2], parts[5]
        w_train, w_val = (None, None) if sample_weight is None else (parts[6], parts[7])
        if X_val.shape[0] < 2:
            raise ValueError("The validation set is too small. Increase 'validation_fraction' or the size of your "
                             "dataset.")  # fmt: skip
        return (X_train, np.ascontiguousarray(Y_train), w_train), (X_val, y_val, w_val)

    def _train(self, X, Y, y, sample_weight, incremental: bool) -> None:
        """scikit-learn's epoch loop, each epoch one call of fastbp's compiled kernel."""
        (X_train, Y_train, w_train), held_out = self._split(X, Y, y, sample_weight)
        n = X_train.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n)
        else:
            if self.batch_size > n:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped",
                              stacklevel=4)  # fmt: skip
            batch_size = int(np.clip(self.batch_size, 1, n))
        net = self.network_
        # scikit-learn's settings of every solver; each solver takes its own (the others' are ignored, as there).
        settings = {"momentum": float(self.momentum), "nesterov": bool(self.nesterovs_momentum and self.momentum > 0),
                    "betas": (self.beta_1, self.beta_2), "eps": float(self.epsilon)}  # fmt: skip
        own = {name: settings[name] for name in catalogue.optimizer(self.solver).options if name in settings}
        opts = _options.check(
            n, epochs=1, lr=float(self.learning_rate_init), batch_size=batch_size, optimizer=self.solver,
            weight_decay=float(self.alpha) / batch_size, loss=self._loss, **own,
        )  # fmt: skip
        engine = Engine(net, X_train, Y_train, opts, weights=w_train)
        if incremental and self._optimizer_state is not None:
            engine.state, engine.step = self._optimizer_state
        engine.ready()
        if not incremental or "_optimizer" not in self.__dict__:  # (a fit starts the schedule again, as there)
            self._optimizer = _Schedule(self.learning_rate_init, self.learning_rate, self.power_t, self.solver == "sgd")
        weights = [W.ravel() for W in net._layout.weights(net._params)]  # views: the penalty reads them in place
        n_batches = -(-n // batch_size)
        # scikit-learn reports the mean over samples and outputs of 1/2 (y - out)^2; fastbp sums over outputs.
        scale = 1.0 / self.n_outputs_ if catalogue.loss(self._loss).per_output_mean else 1.0
        # Weighted: the kernel's error is sum(w E) / n and scikit-learn's mean is over the weights' sum (its
        # penalty too, batch by batch; over the whole sum here).
        total = n if w_train is None else float(w_train.sum())
        if w_train is not None:
            scale *= n / total
        orders = np.arange(n, dtype=np.int64).reshape(1, n)
        if self.early_stopping:
            self._best_params = net._params.copy()
        error = np.empty(1)
        self.n_iter_ = 0
        for _ in range(self.max_iter):
            if self.shuffle:
                # sklearn.utils.shuffle's draws without its per-call checks (~0.3 ms): shuffling the
                # order in place swaps the same positions as order[shuffled arange] would pick.
                self._random_state.shuffle(orders[0])
            engine.lr = self._optimizer.learning_rate
            # A non-finite loss stops the kernel after its epoch: an error, unless early stopping keeps the best
            # weights seen (scikit-learn's gh-29504: the validation scores record NaN and the fit finishes).
            if engine.epochs(orders, 1, error) != 1 and not self.early_stopping:
                raise ValueError(NON_FINITE)
            penalty = 0.5 * self.alpha * n_batches * sum(float(np.dot(W, W)) for W in weights) / total
            self.n_iter_ += 1
            self.t_ += n
            self.loss_ = float(error[0]) * scale + penalty
            self.loss_curve_.append(self.loss_)
            if self.verbose:
                print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
            self._update_no_improvement_count(held_out)
            self._optimizer.iteration_ends(self.t_)
            if self._no_improvement_count > self.n_iter_no_change:
                what = "Validation score" if self.early_stopping else "Training loss"
                message = (f"{what} did not improve more than tol={self.tol:f} for {self.n_iter_no_change} "
                           "consecutive epochs.")  # fmt: skip
                if self._optimizer.trigger_stopping(message, self.verbose):
                    break
                self._no_improvement_count = 0
            if incremental:
                break
            if self.n_iter_ == self.max_iter:
                warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                              "optimization hasn't converged yet.", ConvergenceWarning, stacklevel=4)  # fmt: skip
        self._optimizer_state = (engine.state, engine.step)
        if self.early_stopping:
            net._params[:] = self._best_params
        if not np.isfinite(net._params).all():  # (non-finite weights with a finite loss: the last epoch's)
            raise ValueError(NON_FINITE)

    def _train_lbfgs(self, X, Y, sample_weight) -> None:
        """scikit-learn's lbfgs: scipy's L-BFGS-B (max_iter, max_fun, tol as gtol) over _loss_grad_lbfgs, in
        scikit-learn's packing of the parameters (so that its steps are scikit-learn's, rounding included)."""
        options = {"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol}
        if self.verbose:
            options.update(_lbfgs_verbose())
        order = self._packing()
        start = self.network_._params[order].astype(np.float64)
        result = scipy.optimize.minimize(self._loss_grad_lbfgs, start, method="L-BFGS-B", jac=True, options=options,
                                         args=(X, Y, sample_weight))  # fmt: skip
        self.n_iter_ = _check_optimize_result("lbfgs", result, self.max_iter)
        self.loss_ = float(result.fun)
        self.network_._params[order] = result.x
        if not np.isfinite(self.network_._params).all():
            raise ValueError(NON_FINITE)

    def _packing(self) -> np.ndarray:
        """Where each value of scikit-learn's packing sits in the network's parameters (_packing_of)."""
        return _packing_of(self.network_._layout.widths)

    def _loss_grad_lbfgs(self, packed_coef_inter, X, y, sample_weight=None, *_buffers) -> tuple[float, np.ndarray]:
        """scikit-learn's loss and gradient at the packed parameters (as its private method of that name; the
        buffers it passes are not needed): the (weighted) mean over samples of the error (the squared error also
        over outputs) plus alpha / 2 ||W||^2, over the total weight; the gradient of the error summed over
        outputs plus alpha W, over the total weight. One call of the compiled gradient kernel."""
        net = self.network_
        dtype, order = net.dtype, self._packing()
        X = np.ascontiguousarray(X, dtype)
        Y = np.ascontiguousarray(np.reshape(y, (len(y), -1)), dtype)
        weights = np.empty(0, dtype) if sample_weight is None else np.ascontiguousarray(sample_weight, dtype)
        total = X.shape[0] if sample_weight is None else float(weights.sum())
        net._params[order] = packed_coef_inter
        grad = np.empty(net._layout.n_params, dtype)
        loss = catalogue.loss(self._loss)
        kernel = _dispatch.gradient_kernel(net, X.shape[0])
        E_sum = _dispatch.call(kernel, net.record(), grad, X, Y, weights, _dispatch.BLOCK, net._loss_rule(loss.name))
        penalty, alpha = 0.0, float(self.alpha)
        for W, G in zip(net._layout.weights(net._params), net._layout.weights(grad)):
            penalty += float(np.vdot(W, W))
            G += alpha * W
        scale = 1.0 / Y.shape[1] if loss.per_output_mean else 1.0
        return (E_sum * scale + 0.5 * alpha * penalty) / total, grad[order].astype(np.float64) / total

    def _update_no_improvement_count(self, held_out) -> None:
        """scikit-learn's rule: count epochs that fail to beat the best by tol (validation score or training loss)."""
        if self.early_stopping:
            score = self._score_for_stopping(*held_out)
            self.validation_scores_.append(score)
            if self.verbose:
                print(f"Validation score: {score:f}")
            self._no_improvement_count = 0 if score >= self.best_validation_score_ + self.tol else (
                self._no_improvement_count + 1)  # fmt: skip
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_params = self.network_._params.copy()
        else:
            last = self.loss_curve_[-1]
            self._no_improvement_count = self._no_improvement_count + 1 if last > self.best_loss_ - self.tol else 0
            self.best_loss_ = min(self.best_loss_, last)

    @property
    def coefs_(self) -> list[np.ndarray]:
        """The weight matrices in scikit-learn's layout, (n_in, n_out): views of the network's own parameters,
        so that writing into them changes the model, as in scikit-learn. Before a fit, what was assigned (a
        partial_fit or warm start then continues from it, as scikit-learn's does)."""
        return self._parameter_views("coefs_")

    @coefs_.setter
    def coefs_(self, value) -> None:
        self._assign_parameters("coefs_", value)

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """The bias vectors: views of the network's own parameters (writing into them changes the model)."""
        return self._parameter_views("intercepts_")

    @intercepts_.setter
    def intercepts_(self, value) -> None:
        self._assign_parameters("intercepts_", value)

    def _parameter_views(self, name: str) -> list[np.ndarray]:
        net = self.__dict__.get("network_")
        if net is None:
            if "_assigned_" + name[:-1] in self.__dict__:
                return self.__dict__["_assigned_" + name[:-1]]
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")
        if name == "coefs_":
            return [W.T for W in net._layout.weights(net._params)]
        return net._layout.biases(net._params)

    def _assign_parameters(self, name: str, value) -> None:
        """Write arrays into the network's parameters (views), every shape checked before any is written; before
        a fit, keep the list itself (scikit-learn's own tests fill it in place, then call partial_fit)."""
        if "network_" not in self.__dict__:
            if not isinstance(value, list):
                raise ValueError(f"{name} must be a list of arrays; got {type(value).__name__}")
            self.__dict__["_assigned_" + name[:-1]] = value
            return
        views = self._parameter_views(name)
        if not isinstance(value, (list, tuple)) or len(value) != len(views):
            raise ValueError(f"{name} must be a list of {len(views)} arrays; got {type(value).__name__}")
        arrays = [np.asarray(v) for v in value]
        for k, (arr, view) in enumerate(zip(arrays, views)):
            if arr.shape != view.shape:
                raise ValueError(f"{name}[{k}] must have shape {view.shape}; got {arr.shape}")
        for arr, view in zip(arrays, views):
            view[...] = arr

    def _forward(self, X, check_input: bool = True) -> np.ndarray:
        """The network's outputs for X (checked as scikit-learn checks it, unless it is the fit's own data)."""
        if check_input:
            check_is_fitted(self)
            X = validate_data(self, X, accept_sparse=["csr", "csc"], dtype=(np.float64, np.float32), reset=False)
            if hasattr(X, "toarray"):
                X = X.toarray()
        return self.network_.forward(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """scikit-learn's MLPClassifier on fastbp: softmax with cross-entropy for several classes, a logistic
    unit with binary cross-entropy for two classes (and for each label of a multi-label problem)."""

    _loss = "cross_entropy"

    def _targets(self, y, first_pass, incremental):
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start and not incremental:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the previous call to fit. "
                        f"Previously got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. "
                                 f"'y' has {classes}.")  # fmt: skip
        if first_pass or "out_activation_" not in self.__dict__:
            multiclass = self._label_binarizer.y_type_ == "multiclass"
            self.out_activation_ = "softmax" if multiclass else "logistic"
        return self._label_binarizer.transform(y)

    @available_if(_BaseMLP._check_stochastic)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y), continuing the optimiser's state; ``classes`` is needed on the first call."""
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y if type_of_target(y).startswith("multilabel") else classes)
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X) -> np.ndarray:
        """Class labels: the most probable class (the 0.5 threshold for two classes and for each label)."""
        return self._predict(X)

    def _predict(self, X, check_input: bool = True) -> np.ndarray:
        out = self._forward(X, check_input)
        return self._label_binarizer.inverse_transform(out.ravel() if self.n_outputs_ == 1 else out)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, columns in the order of classes_."""
        out = self._forward(X)
        if self.n_outputs_ == 1:
            out = out.ravel()
            return np.vstack([1 - out, out]).T
        return out

    def predict_log_proba(self, X) -> np.ndarray:
        """log(predict_proba(X))."""
        proba = self.predict_proba(X)
        return np.log(proba, out=proba)

    def _score_for_stopping(self, X_val, y_val, sample_weight) -> float:
        return accuracy_score(y_val, self._predict(X_val, check_input=False), sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """scikit-learn's MLPRegressor on fastbp: an identity output layer and the squared error, or (loss="poisson")
    an e^net output layer and half the Poisson deviance."""

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
    ):
        self.loss = loss
        super().__init__(
            hidden_layer_sizes, activation, solver=solver, alpha=alpha, batch_size=batch_size,
            learning_rate=learning_rate, learning_rate_init=learning_rate_init, power_t=power_t, max_iter=max_iter,
            shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose, warm_start=warm_start,
            momentum=momentum, nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
            n_iter_no_change=n_iter_no_change, max_fun=max_fun,
        )  # fmt: skip

    @property
    def _loss(self) -> str:
        """fastbp's loss for scikit-learn's name."""
        if self.loss not in REGRESSION_LOSSES:
            raise ValueError(f"loss must be one of {tuple(REGRESSION_LOSSES)}; got {self.loss!r}")
        return REGRESSION_LOSSES[self.loss][0]

    def _targets(self, y, first_pass, incremental):
        if first_pass or "out_activation_" not in self.__dict__:
            self.out_activation_ = REGRESSION_LOSSES[self.loss][1]
        catalogue.check_targets(self._loss, y, "y")
        return y.reshape(len(y), -1)

    @available_if(_BaseMLP._check_stochastic)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), continuing the optimiser's state."""
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X) -> np.ndarray:
        """Predicted values: shape (n_samples,) for one output, (n_samples, n_outputs) otherwise."""
        out = self._forward(X)
        return out.ravel() if out.shape[1] == 1 else out

    def _score_for_stopping(self, X_val, y_val, sample_weight) -> float:
        out = self._forward(X_val, check_input=False)
        pred = out.ravel() if out.shape[1] == 1 else out
        return r2_score(y_val, pred, sample_weight=sample_weight) if np.isfinite(pred).all() else np.nan
