"""Which compiled kernel does the work: every choice, its thresholds and the measurements behind them.

fastbp has one algorithm and several ways of running it. This module is the only
place that picks one; ``train``, ``train_many`` and the Network ask it, and tests
and benchmarks force a choice through the ``kernel`` option (``"auto"`` is the
choice below). The kernels (``_kernels``, ``_unrolled``) give the same bits
as each other, except BLAS, whose products sum in BLAS's order (1e-15 relative).

  loops     train_epochs: any network; its markers (loops_markers) make a specialisation per path (online plain,
            online under the other rules, minibatches under Adam or the other rules), each compiling its own code
  blas      train_epochs_blas: each layer's products as BLAS matrix products; its markers (blas_markers) make a
            specialisation per update rule (Adam's, the others') and loss (a softmax's cross-entropy, the others)
  unrolled  a kernel written for one tiny architecture, every weight a local (_unrolled)
  lanes     train_many: networks of one architecture side by side, the loop over networks innermost
  threads   train_many: one network per Numba thread, each through the loops' kernel

The loops, BLAS and the lanes record the diagnostics (diagnose=True); there the loops stand in for the
unrolled kernels, and train_many trains one network after another (each as train would) instead of
one per thread.
"""

from __future__ import annotations

import functools
import importlib.util

import numpy as np

from . import _kernels, _unrolled, catalogue
from ._layout import Layout

# BLAS products beat the loops for minibatches of at least this many samples ...
BLAS_MIN_BATCH = 4
# ... when a batch times the widest layer's weights comes to this much work (measured on an AVX2 EPYC, one
# thread, sgd and adam alike: 0.45-0.6x the loops' time at 64-32-10 in batches of 4-16, 0.4x at 10-32-16-1
# in batches of 16-200, 0.6-0.9x at 10-8-4 in batches of 16-200; slower at 10-8-4 in batches of 8, 640,
# and at 2-4-1 in batches of 16, 128) ...
BLAS_MIN_WORK = 2048
# ... when the batch's activations stay small (beyond this, the loops' blocks use less memory).
BLAS_MAX_BATCH = 8192
# Evaluation (forward passes, the error) goes through BLAS for layers of this many weights ...
BLAS_MIN_WEIGHTS = 1024
# ... from this many rows.
BLAS_MIN_ROWS = 64

# Networks of at most this many weights and biases take the unrolled kernel (online,
# float64): beyond it the locals no longer fit in registers and the gain shrinks to
# nothing (measured: 3-5x at 12-25 parameters, 1.2-1.8x at 33-49, none at 67-144).
UNROLLED_MAX_PARAMS = 32
# ... in runs of at least this many sample-steps: each architecture and set of options is
# compiled once (1-2 s, then cached on disk), which short runs would not repay.
UNROLLED_MIN_STEPS = 10_000

# train_many trains networks side by side in lanes (online, one architecture) from this many:
# fewer leave the vector lanes mostly empty.
LANES_MIN_NETS = 8


@functools.cache
def blas_available() -> bool:
    """np.dot inside Numba kernels calls SciPy's BLAS: is SciPy installed? (Asked once per process.)"""
    return importlib.util.find_spec("scipy") is not None


def wide(layout: Layout) -> bool:
    """Wide enough that BLAS matrix products beat the kernels' loops (and SciPy, which provides them, is here)."""
    return layout.max_weights >= BLAS_MIN_WEIGHTS and blas_available()


def batch_pays(layout: Layout, batch_size: int) -> bool:
    """Whether minibatches of this size through this network are worth BLAS's products (and SciPy is here)."""
    return batch_size * layout.max_weights >= BLAS_MIN_WORK and blas_available()


@functools.cache
def _keeps_nets(codes: bytes) -> bool:
    return any(catalogue.ACTIVATIONS[code].slope_from_net for code in np.frombuffer(codes, np.int64))


def keeps_nets(net) -> bool:
    """Whether the network has an activation whose slope is computed from the net input (GELU, SiLU): its
    kernels must keep the net inputs, which the loops and the unrolled kernels do and the BLAS kernels and
    train_many's lanes do not."""
    return _keeps_nets(net._acts.tobytes())


def evaluation_kernel(layout: Layout, n_rows: int):
    """The kernel for forward passes and errors over n_rows samples."""
    return _kernels.evaluate_blas if n_rows >= BLAS_MIN_ROWS and wide(layout) else _kernels.evaluate


def scoring_marker(kernel, net, scores: bool) -> bool | None:
    """The evaluation kernels' scoring marker: True to score targets; None for a plain forward pass, which then
    compiles none of the losses' code, unless this process already holds the scoring specialisation for such a
    network: that one serves it (as train, then final_error, then forward does), rather than a second compile."""
    key = (kernel, net.dtype, net._uses)
    if scores:
        _SCORING.add(key)
    return marker(scores or key in _SCORING)


_SCORING: set = set()  # (kernel, dtype, marks) of the scoring specialisations this process has called


def gradient_kernel(net, n_rows: int):
    """The kernel for the network's gradient summed over n_rows samples (Network.gradients, the estimators'
    lbfgs): BLAS's products once the rows times the widest layer's weights pay for them, as for a minibatch."""
    pays = n_rows >= BLAS_MIN_ROWS and batch_pays(net._layout, min(n_rows, _kernels.GRADIENT_BLOCK))
    pays = pays and not keeps_nets(net)
    return _kernels.gradient_sum_blas if pays else _kernels.gradient_sum


def training_choice(net, opts, n_samples: int, weighted: bool = False) -> str:
    """'loops', 'blas' or 'unrolled': what trains one network with these options (opts.kernel, if forced);
    weighted: with sample weights, which the unrolled kernels do not take."""
    layout = net._layout
    if opts.kernel != "auto":
        if opts.kernel == "blas" and not blas_available():
            raise ValueError("kernel='blas' needs SciPy (its BLAS serves np.dot inside Numba): pip install scipy")
        if opts.kernel == "blas" and keeps_nets(net):
            raise ValueError(f"kernel='blas' does not keep the net inputs that the slopes of some of this network's "
                             f"activations {net.activations} need: use kernel='auto' or 'loops'")  # fmt: skip
        if opts.kernel == "unrolled" and opts.diagnose:
            raise ValueError("kernel='unrolled' records no diagnostics: with diagnose=True use kernel='auto' or "
                             "'loops', which give the same bits")  # fmt: skip
        if opts.kernel == "unrolled" and (weighted or not unrolled_possible(net, opts)):
            raise ValueError(
                f"kernel='unrolled' takes online training (batch_size=1) of float64 networks of at most "
                f"{UNROLLED_MAX_PARAMS} weights and biases, without softmax, by plain or momentum gradient "
                f"descent without weight decay; got {layout.n_params} parameters, batch_size={opts.batch_size}, "
                f"{net.dtype.name}, optimizer={opts.optimizer!r}, activations {net.activations}"
            )
        if opts.kernel == "lanes":
            raise ValueError("kernel='lanes' trains many networks at once: it is an option of train_many only")
        return opts.kernel
    if BLAS_MIN_BATCH <= opts.batch_size <= BLAS_MAX_BATCH and batch_pays(layout, opts.batch_size):
        if not keeps_nets(net):
            return "blas"
    # (diagnose: the loops, whose bits the unrolled kernels share, record the diagnostics)
    long_enough = opts.epochs * n_samples >= UNROLLED_MIN_STEPS
    if not (weighted or opts.diagnose) and unrolled_possible(net, opts) and long_enough:
        return "unrolled"
    return "loops"


def unrolled_possible(net, opts) -> bool:
    """Can the unrolled kernel train this network with these options (whether or not it pays)?"""
    return (
        opts.batch_size == 1
        and net.dtype == np.float64
        and net._layout.n_params <= UNROLLED_MAX_PARAMS
        and catalogue.optimizer(opts.optimizer).lanes
        and opts.weight_decay == 0.0
        and not catalogue.ACTIVATIONS[net._acts[-1]].whole_layer  # (a whole-layer one is only ever the output's)
    )


def marker(flag: bool) -> bool | None:
    """A kernel's marker argument: True, or None, whose code Numba drops before typing it."""
    return True if flag else None


def either(flag: bool) -> tuple:
    """Two markers of which exactly one is True: (marker(flag), marker(not flag))."""
    return marker(flag), marker(not flag)


def loops_markers(opts, weighted: bool = False) -> tuple:
    """(plain, general, moments, descent) as train_epochs takes them, exactly one True, the others None: online
    steps under plain gradient descent (the article's) or another rule; minibatches (also batches of one with
    sample weights) under Adam's update (the optimisers whose state is Adam's moments) or the other rules'."""
    if opts.batch_size != 1 or weighted:
        return None, None, *either(catalogue.optimizer(opts.optimizer).moments)
    plain = opts.optimizer == catalogue.OPTIMIZERS[_kernels.SGD].name and opts.momentum == 0.0
    plain = plain and opts.weight_decay == 0.0  # (_kernels._rule's PLAIN)
    return *either(plain), None, None


def training_kernel(net, opts, n_samples: int, weighted: bool = False):
    """The compiled kernel that trains one network: train_epochs, train_epochs_blas or an unrolled one.

    Every one takes (net, state, data, run, errors) and returns the epochs run; train_epochs takes
    loops_markers(opts) after them (see kernel_arguments).
    """
    choice = training_choice(net, opts, n_samples, weighted)
    if choice == "blas":
        return _kernels.train_epochs_blas
    if choice == "unrolled":
        unrolled = _unrolled.kernel(net.sizes, net._tied, tuple(net._acts.tolist()), opts)
        if unrolled is not None:  # None: nowhere to write the generated file; the loops train instead
            return unrolled
    return _kernels.train_epochs


def blas_markers(net, opts) -> tuple:
    """(moments, descent, softmax_ce, per_unit) as train_epochs_blas takes them, each True or None: Adam's
    update (the optimisers whose state is Adam's moments) or the other rules'; a softmax output's cross-entropy
    or the losses unit by unit."""
    moments = catalogue.optimizer(opts.optimizer).moments
    cross_entropy = catalogue.code(catalogue.LOSSES, opts.loss) == _kernels.CROSS_ENTROPY
    softmax_ce = catalogue.ACTIVATIONS[net._acts[-1]].whole_layer and cross_entropy  # (as _check_blas_markers)
    return *either(moments), *either(softmax_ce)


def kernel_arguments(kernel, net, opts, weighted: bool = False) -> tuple:
    """What a training kernel takes after (net, state, data, run, errors): the loops' or BLAS's markers and the
    diagnostics' record (None here: the engine puts a _kernels.Diag in its place), or nothing."""
    if kernel is _kernels.train_epochs:
        return (*loops_markers(opts, weighted), None)
    return (*blas_markers(net, opts), None) if kernel is _kernels.train_epochs_blas else ()


def many_choice(nets, opts, n_samples: int) -> str:
    """How train_many runs: 'lanes', 'threads' (one network per thread) or 'one_by_one' (each with
    its own kernel: the oracle, BLAS, which uses BLAS's threads, or a forced unrolled kernel)."""
    if opts.engine == "python":
        return "one_by_one"
    if opts.kernel in ("blas", "unrolled"):
        for net in nets:  # refuse a forced kernel that does not fit, before any work
            training_choice(net, opts, n_samples)
        return "one_by_one"
    # A network's kind (its layer widths, dtype, biases and activations)
    # decides its kernel: each kind once, for thousands of networks.
    kinds = {(net._layout.widths, net.dtype, net._tied.tobytes(), net._acts.tobytes()): net for net in nets}
    if opts.kernel == "auto" and any(training_choice(net, opts, n_samples) == "blas" for net in kinds.values()):
        return "one_by_one"
    one_architecture = len(kinds) == 1
    lanes_take_it = opts.batch_size == 1 and catalogue.optimizer(opts.optimizer).lanes and opts.weight_decay == 0.0
    lanes_take_it = lanes_take_it and not any(keeps_nets(net) for net in kinds.values())
    if opts.kernel == "lanes":
        if not (lanes_take_it and one_architecture):
            needing = ", ".join(record.name for record in catalogue.ACTIVATIONS if record.slope_from_net)
            raise ValueError(
                "kernel='lanes' takes online training (batch_size=1) by gradient descent (optimizer='sgd', "
                "no weight decay) of networks of one architecture and one set of activations, none of them one "
                f"whose slope needs the net inputs ({needing})"
            )
        return "lanes"
    if opts.kernel == "auto" and lanes_take_it and len(nets) >= LANES_MIN_NETS and one_architecture:
        return "lanes"
    return "threads"


# Samples the minibatch kernels hold at once (bounds their scratch memory).
BLOCK = 256


def block_size(opts) -> int:
    """Samples the batch kernels hold at once: a layerwise batch must be held whole."""
    if opts.batch_size == 1:
        return 1
    return opts.batch_size if opts.layerwise else min(opts.batch_size, BLOCK)


_READY: set = set()


def is_ready(kernel, dtype, markers: tuple = ()) -> bool:
    """Whether ready() has already compiled or loaded this kernel for this dtype and markers (a set look-up)."""
    return (kernel, np.dtype(dtype), *markers) in _READY


def ready(kernel, arguments: tuple) -> None:
    """Compile a kernel for the types of these arguments, or load it from Numba's cache, before the clock starts.

    The types come from the arguments the kernel is about to be called with, so they
    cannot disagree with the call. Remembered per kernel, dtype of the first array, and the
    True/None markers among the arguments (each set of markers is a specialisation of its own).
    """
    dtype = next(a for a in _arrays(arguments)).dtype
    key = (kernel, dtype, *_markers(arguments))
    if key in _READY:
        return
    if hasattr(kernel, "compile"):  # not under NUMBA_DISABLE_JIT=1, where kernels are plain Python
        import numba

        kernel.compile(tuple(numba.typeof(a) for a in arguments))
        # Numba types its first array argument by asking for numpy.ma, which imports it
        # (25-40 ms without SciPy, which otherwise imports it first): done here, not in the timed loop.
        numba.typeof(np.empty(0, dtype))
    _READY.add(key)


def call(kernel, *arguments):
    """kernel(*arguments), with the compiled entry point found without Numba typing every record in Python.

    Numba's dispatcher types a plain tuple's fields in C but a NamedTuple's (each of our records) in Python,
    about 2.5 us a record a call, most of a small call's cost. Here the entry point is looked up by Numba's own
    fingerprint of the arguments, the records taken as plain tuples (computed in C: each array's dtype,
    dimensions, layout and writability, each scalar's type), and by the arguments' classes, which that leaves
    out. (Records hold no records; arrays that share a fingerprint yet type apart, misaligned ones, never get
    here: _validate copies them.) The first call of each kind, and any whose arguments Numba cannot
    fingerprint, go through the dispatcher as usual.
    """
    key = _key(kernel, arguments)
    if key is None:
        return kernel(*arguments)
    entry = _ENTRIES.get(key)
    if entry is not None:
        return entry(*arguments)
    result = kernel(*arguments)  # typed, compiled or loaded by the dispatcher
    overloads = getattr(kernel, "overloads", None)  # (None under NUMBA_DISABLE_JIT=1)
    if overloads is not None:
        compiled = overloads.get(tuple(kernel.typeof_pyval(a) for a in arguments))
        if compiled is not None:
            _ENTRIES[key] = compiled.entry_point
    return result


def compiled(kernel, arguments: tuple):
    """What call(kernel, *arguments) ran, once it has run: the compiled entry point, to call directly with other
    arguments of exactly these types (train_many's threads: one network after another, records built alike),
    skipping the fingerprint (5 us of a 9 us call); the kernel itself where none is known."""
    key = _key(kernel, arguments)
    return kernel if key is None else _ENTRIES.get(key, kernel)


def _key(kernel, arguments: tuple) -> tuple | None:
    """What the types Numba gives these arguments depend on, or None where Numba cannot fingerprint them."""
    try:
        return (kernel, _fingerprint(tuple(map(_plain, arguments))), *map(type, arguments))
    except (NotImplementedError, TypeError, ValueError):
        return None


def _plain(argument):
    """A record as a plain tuple (whose fingerprint Numba computes without naming its fields); the rest as is."""
    return tuple(argument) if isinstance(argument, tuple) else argument


def _unfingerprinted(arguments):
    raise NotImplementedError


try:
    from numba._dispatcher import compute_fingerprint as _fingerprint
except ImportError:  # pragma: no cover - a Numba without it: every call through the dispatcher
    _fingerprint = _unfingerprinted

_ENTRIES: dict = {}


def _markers(arguments):
    """The True/None markers among a kernel's arguments, and inside a plain tuple of them (train_many's)."""
    for a in arguments:
        if a is None or isinstance(a, bool):
            yield a
        elif type(a) is tuple:
            yield from _markers(a)


def _arrays(arguments):
    for a in arguments:
        if isinstance(a, np.ndarray):
            yield a
        elif isinstance(a, tuple):
            yield from _arrays(a)
