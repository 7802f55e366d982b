"""The Network: a fully-connected network held in one flat buffer, and fastbp.load."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import _dispatch, _engine, _kernels, _options, _validate, catalogue, export, io
from ._layout import Layout


class Network:
    """A fully-connected network: logistic units on every layer (the article), or other activations.

    Layer l -> l+1 has a weight matrix of shape (n_{l+1}, n_l): ``W[j, i]``
    connects unit i below to unit j above. Each layer's biases are either one
    per unit, or one bias shared by every unit of the layer ("tied", as in the
    article). Each layer above the input has an activation, one of
    ``fastbp.catalogue.ACTIVATIONS`` ("logistic", the default, "tanh", "relu", ...;
    "softmax" on the output layer only). Build one with :meth:`from_arrays`,
    :meth:`random`, or :func:`fastbp.article_network`.
    """

    __slots__ = ("_layout", "_params", "_tied", "_acts", "_uses")

    def __init__(self, layout: Layout, params: np.ndarray, tied: np.ndarray, acts: np.ndarray, uses=None):
        # Internal: use from_arrays or random. params is owned by the network; tied and acts (int64 activation
        # codes) are never written after construction, so copies share them.
        self._layout = layout
        self._params = params
        self._tied = tied
        self._acts = acts
        # The activations its kernels compile (Net's uses_<name>); given by copy(), which shares acts.
        self._uses = _kernels.uses_of(acts.tolist()) if uses is None else uses

    # --- construction ---------------------------------------------------------

    @classmethod
    def from_arrays(cls, weights: Sequence, biases: Sequence, dtype=np.float64, activations=None) -> Network:
        """A network from per-layer weight matrices and biases (copied to float64, or float32).

        ``weights[l]`` has shape (n_{l+1}, n_l). ``biases[l]`` is a 1-D array of
        n_{l+1} values (one bias per unit) or a scalar (one bias tied across the layer).
        ``dtype=np.float32`` keeps the parameters (and the data it trains on) in
        single precision: half the memory traffic; float64 is the article-exact path.
        ``activations``: one name per layer above the input, or one name for all
        (default "logistic"; "softmax" on the output layer only).
        """
        dtype = _validate.real_dtype("dtype", dtype)
        if isinstance(weights, np.ndarray) or not isinstance(weights, Sequence) or len(weights) == 0:
            raise TypeError(f"weights must be a non-empty list of 2-D arrays; got {_validate._describe(weights)}")
        if isinstance(biases, np.ndarray) or not isinstance(biases, Sequence):
            raise TypeError(f"biases must be a list with one entry per layer; got {_validate._describe(biases)}")
        if len(biases) != len(weights):
            raise ValueError(f"biases must have one entry per weight matrix ({len(weights)}); got {len(biases)}")
        # Finiteness is checked once, on the packed parameters (thousands of small networks
        # are built at a time); only a failed check looks for the argument to name.
        checked = [(f"weights[{l}]", _validate.array(f"weights[{l}]", W, ndim=(2,), check_finite=False))
                   for l, W in enumerate(weights)]  # fmt: skip
        Ws = [W for _, W in checked]
        sizes = [Ws[0].shape[1]] + [W.shape[0] for W in Ws]
        for l in range(1, len(Ws)):
            if Ws[l].shape[1] != sizes[l]:
                raise ValueError(
                    f"weights[{l}] must have {sizes[l]} columns (the {sizes[l]} units of weights[{l - 1}]); "
                    f"got shape {Ws[l].shape}"
                )
        bs, tied = [], []
        for l, b in enumerate(biases):
            b = _validate.array(f"biases[{l}]", b, ndim=(0, 1), check_finite=False)
            checked.append((f"biases[{l}]", b))
            if b.ndim == 0:
                tied.append(1)
                b = np.full(sizes[l + 1], b[()])
            elif b.shape != (sizes[l + 1],):
                raise ValueError(
                    f"biases[{l}] must be a scalar (tied) or have shape ({sizes[l + 1]},); got shape {b.shape}"
                )
            else:
                tied.append(0)
            bs.append(b)
        codes = activation_codes(activations, len(Ws))
        output = catalogue.ACTIVATIONS[codes[-1]]
        if sizes[-1] < output.min_units:  # (softmax: over one unit it always outputs 1, and nothing would train)
            raise ValueError(
                f"activations: {output.name!r} on an output layer of one unit is refused: it needs at least "
                f"{output.min_units}; use 'logistic' (with loss='cross_entropy' for two classes), or give the layer "
                "one unit per class"
            )
        layout = Layout.of(sizes)
        params = layout.pack(Ws, bs)
        if not _validate.all_finite(params):
            for name, arr in checked:
                _validate.finite(name, arr)
        if dtype != np.float64:
            if np.abs(params).max() > np.finfo(dtype).max:
                raise ValueError(f"weights and biases must be finite in {dtype.name}; some overflow it")
            params = params.astype(dtype)
        return cls(layout, params, np.array(tied, dtype=np.int64), codes)

    @classmethod
    def random(
        cls,
        sizes: Sequence[int],
        seed: int | None = None,
        tied_biases: bool = False,
        dtype=np.float64,
        activations=None,
    ) -> Network:
        """A network with Glorot-uniform initial weights and biases, deterministic for a seed.

        Each layer draws from U(-r, r) with r = sqrt(factor / (fan_in + fan_out)), as
        scikit-learn's MLP does: Glorot and Bengio's (2010) factor 6, and 2 for a
        logistic layer, which keeps its net inputs in the logistic's steep middle.
        ``tied_biases=True`` gives each layer one shared bias, as in the article.
        ``dtype=np.float32`` gives a single-precision network (the same draws, rounded).
        ``activations`` as in :meth:`from_arrays`.
        """
        if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
            raise TypeError(f"sizes must be a sequence of layer widths; got {_validate._describe(sizes)}")
        sizes = [_validate.integer(f"sizes[{l}]", n, low=1) for l, n in enumerate(sizes)]
        if len(sizes) < 2:
            raise ValueError(f"sizes must list at least 2 layers (input and output); got {sizes}")
        seed = _validate.seed("seed", seed)
        tied = _validate.flag("tied_biases", tied_biases)
        codes = activation_codes(activations, len(sizes) - 1)
        rng = np.random.default_rng(seed)
        weights, biases = [], []
        for n_in, n_out, code in zip(sizes[:-1], sizes[1:], codes):
            r = np.sqrt(catalogue.ACTIVATIONS[code].init_factor / (n_in + n_out))
            weights.append(rng.uniform(-r, r, size=(n_out, n_in)))
            biases.append(rng.uniform(-r, r) if tied else rng.uniform(-r, r, size=n_out))
        return cls.from_arrays(weights, biases, dtype=dtype, activations=activations)

    # --- what it holds ----------------------------------------------------------

    @property
    def sizes(self) -> tuple[int, ...]:
        """Layer widths, input first."""
        return self._layout.widths

    @property
    def weights(self) -> list[np.ndarray]:
        """Copies of the weight matrices, shape (n_{l+1}, n_l) each."""
        return [W.copy() for W in self._layout.weights(self._params)]

    @property
    def biases(self) -> list[np.ndarray]:
        """Copies of the bias vectors, shape (n_{l+1},) each (a tied layer repeats its value)."""
        return [b.copy() for b in self._layout.biases(self._params)]

    @property
    def dtype(self) -> np.dtype:
        """The parameters' dtype: float64 (default) or float32."""
        return self._params.dtype

    @property
    def tied_biases(self) -> tuple[bool, ...]:
        """Per layer above the input: True where one bias is shared by the layer."""
        return tuple(bool(t) for t in self._tied)

    @property
    def activations(self) -> tuple[str, ...]:
        """Per layer above the input: its activation's name."""
        return tuple(_options.ACTIVATIONS[code] for code in self._acts.tolist())

    def copy(self) -> Network:
        """An independent copy (of the parameters: the rest is never written)."""
        return Network(self._layout, self._params.copy(), self._tied, self._acts, self._uses)

    def __repr__(self) -> str:
        modes = ", ".join("tied" if t else "per-unit" for t in self.tied_biases)
        dtype = "" if self.dtype == np.float64 else f", dtype={self.dtype.name}"
        acts = "" if not self._acts.any() else f", activations={self.activations}"
        return f"Network(sizes={self.sizes}, biases=[{modes}]{acts}{dtype})"

    def __eq__(self, other) -> bool:
        if not isinstance(other, Network):
            return NotImplemented
        return (
            self.sizes == other.sizes
            and self.dtype == other.dtype
            and self.tied_biases == other.tied_biases
            and self.activations == other.activations
            and np.array_equal(self._params, other._params)
        )

    __hash__ = None  # mutable: trained in place

    # --- using it ---------------------------------------------------------------

    def record(self) -> _kernels.Net:
        """The network's buffers as the kernels take them (views, not copies)."""
        L = self._layout
        return _kernels.Net(self._params, L.sizes, L.w_off, L.b_off, L.u_off, self._tied, self._acts, *self._uses)

    def _evaluate(
        self, X: np.ndarray, Y: np.ndarray, loss: _kernels.LossRule | None = None
    ) -> tuple[np.ndarray, float]:
        """(outputs, summed error) for checked X and Y (Y with no rows: outputs only); loss as the kernels' record
        (None: the squared error)."""
        loss = _engine.loss_rule("squared", {}, self.dtype) if loss is None else loss
        outputs = np.empty((X.shape[0], self.sizes[-1]), self.dtype)
        kernel = _dispatch.evaluation_kernel(self._layout, X.shape[0])
        scoring = _dispatch.scoring_marker(kernel, self, Y.shape[0] > 0)
        E_sum = _dispatch.call(kernel, self.record(), X, Y, outputs, loss, scoring)
        return outputs, E_sum

    def _mean_error(self, X: np.ndarray, Y: np.ndarray, loss: _kernels.LossRule | None = None) -> float:
        """error() for checked X and Y; loss as the kernels' record (None: the squared error)."""
        return self._evaluate(X, Y, loss)[1] / X.shape[0]

    def _loss_rule(self, loss, **options) -> _kernels.LossRule:
        """The kernels' record of the loss and its options (huber_delta), checked against this network's output
        activation."""
        loss = _validate.choice("loss", loss, _options.LOSSES)
        catalogue.check_output(self.activations, loss)
        return _engine.loss_rule(loss, _options.loss_options(loss, **options), self.dtype)

    def forward(self, X) -> np.ndarray:
        """Outputs for X of shape (n_samples, n_in); a 1-D X (n_in,) gives a 1-D result."""
        X = _validate.array("X", X, ndim=(1, 2), dtype=self.dtype)
        one = X.ndim == 1
        X = X.reshape(1, -1) if one else X
        if X.shape[1] != self.sizes[0]:
            raise ValueError(f"X must have {self.sizes[0]} columns (the network's input width); got {X.shape[1]}")
        outputs, _ = self._evaluate(X, np.empty((0, self.sizes[-1]), self.dtype))
        return outputs[0] if one else outputs

    def error(self, X, Y, loss: str = "squared", huber_delta: float = 1.0) -> float:
        """Mean over samples of the loss: "squared", the article's E = sum over outputs of 1/2 (target - out)^2,
        "cross_entropy" (softmax or logistic outputs, computed from the output layer's net inputs), "poisson"
        or "huber" (with huber_delta); the catalogue's formulas."""
        rule = self._loss_rule(loss, huber_delta=huber_delta)
        X, Y = _validate.samples(X, Y, self.sizes[0], self.sizes[-1], dtype=self.dtype)
        catalogue.check_targets(loss, Y)
        return self._mean_error(X, Y, rule)

    def gradients(
        self, X, Y, loss: str = "squared", huber_delta: float = 1.0
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """(dW per layer, db per layer): the gradient of :meth:`error` at (X, Y) for the loss.

        ``db[l][j]`` is the partial derivative for unit j's own bias; a tied layer's
        bias gradient is ``db[l].sum()``.
        """
        rule = self._loss_rule(loss, huber_delta=huber_delta)
        X, Y = _validate.samples(X, Y, self.sizes[0], self.sizes[-1], dtype=self.dtype)
        catalogue.check_targets(loss, Y)
        L = self._layout
        grad = np.empty(L.n_params, self.dtype)
        kernel = _dispatch.gradient_kernel(self, X.shape[0])
        _dispatch.call(kernel, self.record(), grad, X, Y, np.empty(0, self.dtype), _dispatch.BLOCK, rule)
        grad /= X.shape[0]
        return L.weights(grad), L.biases(grad)

    # --- moving it out and in (fastbp.export; torch and onnx are optional extras) -------

    def to_torch(self):
        """A ``torch.nn.Sequential`` of Linear and activation modules with this network's dtype and outputs
        (a tied bias becomes an ordinary bias vector)."""
        return export.to_torch(self)

    @classmethod
    def from_torch(cls, module) -> Network:
        """The network of a ``torch.nn.Sequential`` of Linear layers and activation modules (see :meth:`to_torch`);
        anything else raises ValueError saying what is supported."""
        return export.from_torch(module, cls)

    def to_onnx(self, path) -> None:
        """Write an ONNX model (input "X", output "Y", this network's dtype) that onnxruntime runs to the same
        outputs."""
        export.to_onnx(self, path)

    def save(self, path, input_bounds: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Write the network to a .npz file (read it back with :func:`fastbp.load`).

        ``input_bounds`` (low, high per input) records a min-max scaling of the inputs
        that the network was trained with, for the command line to apply again.
        """
        path = _validate.destination("path", path)
        if input_bounds is not None:
            input_bounds = io.check_input_bounds(input_bounds, self.sizes[0])
        with _validate.writing("path", path):
            io.write_network(path, self.sizes, self.tied_biases, self.weights, self.biases, self.activations,
                             input_bounds)  # fmt: skip


def load(path) -> Network:
    """Read a network written by :meth:`Network.save`; a missing, truncated or foreign file raises ValueError."""
    return load_with_input_bounds(path)[0]


def load_with_input_bounds(path) -> tuple[Network, tuple[np.ndarray, np.ndarray] | None]:
    """A saved network and the input scaling saved with it (None when there is none), both checked."""
    name = _validate.path("path", path)
    saved = io.read_network(name)
    try:
        net = Network.from_arrays(saved["weights"], saved["biases"], dtype=saved["dtype"],
                                  activations=saved["activations"])  # fmt: skip
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name}: damaged fastbp network file ({exc})") from None
    return net, saved["input_bounds"]


def activation_codes(activations, n_layers: int) -> np.ndarray:
    """The activations' codes, checked: None (all logistic), one name for every layer, or one name per layer."""
    if activations is None:
        return np.zeros(n_layers, np.int64)
    names = [activations] * n_layers if isinstance(activations, str) else activations
    if isinstance(names, np.ndarray) or not isinstance(names, Sequence) or len(names) != n_layers:
        raise ValueError(
            f"activations must be one name or one per layer above the input ({n_layers}); "
            f"got {_validate._describe(activations)}"
        )
    for l, name in enumerate(names):
        _validate.choice(f"activations[{l}]", name, _options.ACTIVATIONS)
        if l < n_layers - 1 and not catalogue.activation(name).hidden:
            raise ValueError(f"activations[{l}] is {name!r}, which acts on a whole layer of outputs at once: it may "
                             "only be the output layer's activation")  # fmt: skip
    return np.array([catalogue.code(catalogue.ACTIVATIONS, name) for name in names], np.int64)
