"""Compiled kernels: the oracle's algorithm over flat buffers.

The file has three parts: the records kernels take, the primitives (each formula
once: e^x, the logistic and its slope, the squared error and its output delta,
the gradient step), and the kernels, which only arrange loops around them.
Everything compiled lives in this one file because Numba's on-disk cache only
notices changes to the file that defines a kernel (a primitive edited in another
file would leave stale kernels in the cache). Kernels read no module globals and
take only arrays, scalars and the records below, always of the same types, so
each compiles to one specialisation per dtype whatever the network.

Buffer layout (see ``_layout.py``), for a network with layer widths ``sizes``:
  params[w_off[l] + j * sizes[l] + i]   weight W_l[j, i] (unit i below -> unit j above)
  params[b_off[l] + j]                  bias of unit j of layer l + 1
  out[u_off[l] + i], delta[u_off[l] + i] activations and deltas of unit i of layer l
``tied[l]`` is 1 when layer l + 1 shares one bias (stored repeated per unit).

Sums run in the same order as the oracle's loops. The one difference from the
oracle's arithmetic is e^x: libm's exp is an opaque call that no loop can
vectorise, so the kernels compute it with a polynomial of their own
(_exp_nonpositive: within 1 ulp of libm, equal to it nine times in ten). With
that exp in the oracle, both engines give the same bits; with math.exp they agree
to about 1e-15 relative. Being plain arithmetic, it gives the same bits in scalar
and vectorised loops (train_many's lanes), and on every libm. ``fast_math=True``
(Run.fast_math) swaps the logistic's e^x for a shorter one (_exp_nonpositive_fast,
a table and a degree-4 polynomial) in online training, whose step is a chain of
dependent operations, in every online kernel alike (loops, unrolled, lanes).
Minibatches are throughput-bound: there the table's gathers cost what they save
(BLAS's activation loop was left scalar, 20% slower), so they keep the default.

Indices into the buffers are computed as uint64: Numba wraps negative signed
indices around (``a[-1]``), and that check on every access, which LLVM cannot
remove for offsets loaded from memory, blocks vectorisation and more than
halves the speed of the inner loops.
"""

import contextlib
import math
import warnings
from typing import NamedTuple

import numba
import numpy as np
from llvmlite import ir
from numba import literal_unroll, types
from numba.core.caching import FunctionCache
from numba.core.registry import CPUDispatcher
from numba.core.runtime import rtsys
from numba.extending import intrinsic, overload

from . import catalogue, oracle


class _LoadingCache(FunctionCache):
    """Numba's on-disk cache, loading a compiled function without first preparing to compile more, and reading
    an entry it cannot read as a miss.

    Numba's own load refreshes its compiler's registries first (importing its lowering of all of NumPy:
    0.2-0.3 s, most of a warm process's first call). Loading needs only the runtime the compiled code calls;
    a compile, on a miss, refreshes the registries itself (numba.core.compiler.compile_extra). A cache file cut
    short (a full disk, a copied folder) made Numba's load raise in every process until the file was deleted;
    here the function's entries are dropped with a warning, and the compile that follows writes them again."""

    def load_overload(self, sig, target_context):
        rtsys.initialize(target_context)
        try:
            with self._guard_against_spurious_io_errors():
                return self._load_overload(sig, target_context)
        except Exception as error:  # (unpickling a damaged file raises anything from EOFError to ValueError)
            warnings.warn(f"fastbp: Numba's cache of {self._py_func.__qualname__} could not be read ({error!r}); "
                          "compiling it again", RuntimeWarning, stacklevel=2)  # fmt: skip
            with contextlib.suppress(OSError):
                self.flush()
            return None


class _Compiled(CPUDispatcher):
    """A compiled function of fastbp's, cached on disk by a _LoadingCache made on first use (Numba makes a
    function's cache when it is decorated, trying a file in its folder each time: 0.015 s of fastbp's import)."""

    _made_cache = None  # None once caching is enabled: made on first use

    def enable_caching(self):
        self._made_cache = None

    @property
    def _cache(self):
        if self._made_cache is None:
            self._made_cache = _LoadingCache(self.py_func)
        return self._made_cache

    @_cache.setter
    def _cache(self, cache):  # (Numba's __init__ sets a NullCache)
        self._made_cache = cache


class _CompiledCodeOnly(_Compiled):
    """A function that only compiled code calls: compiled with no wrapper for calls from Python (0.02 s each,
    a fifth of a path's compile time for its dozens of small functions), so a call from Python, which would
    crash without one, is refused. Cached on disk: a kernel compiled later, in any process, loads it."""

    def __call__(self, *args, **kwargs):
        raise TypeError(f"{self.__name__} is called from fastbp's compiled kernels only")

    def get_call_template(self, args, kws):
        """Compiled for its arguments' types without their values: Numba types a constant argument (True, SGD)
        as a literal, and each literal value would compile a specialisation of its own (LLVM sees the constant
        anyway once the function is inlined)."""
        return super().get_call_template(
            tuple(map(types.unliteral, args)), {k: types.unliteral(v) for k, v in kws.items()}
        )


def _compiled(dispatcher_class=_Compiled, **options):
    """A decorator: the function compiled in nopython mode as a dispatcher_class, cached on disk, with these
    compile options and error_model="numpy" (float division by zero gives inf/nan as in NumPy instead of a
    checked Python exception, which costs a branch per division)."""
    options |= dict(nopython=True, error_model="numpy")

    def decorate(function):
        if numba.config.DISABLE_JIT:
            return function
        dispatcher = dispatcher_class(function, targetoptions=options)
        dispatcher.enable_caching()
        return dispatcher

    return decorate


# Kernels, called from Python: no GIL held (train_many's threads run them side by side); no fastmath, so
# results match the oracle.
kernel = _compiled(nogil=True)


def _compiled_code_only(**options):
    """A decorator: the function as a _CompiledCodeOnly with these compile options."""
    return _compiled(_CompiledCodeOnly, no_cpython_wrapper=True, no_cfunc_wrapper=True, **options)


# Helpers are compiled once per signature and always inlined by LLVM (forceinline) before Numba prunes
# reference counts, so a call that passes arrays costs nothing. (Inlined at Numba IR level instead, as they
# were until 2026-12-07, each call site was typed, lowered and optimised apart: docs/design.md.)
helper = _compiled_code_only(forceinline=True)
# Primitives (scalars in, scalars out: nothing to reference-count) are left for LLVM to
# inline: Numba-level inlining would copy them into every call site before typing, which
# made compiling train_epochs 50% slower for the same machine code (docs/design.md).
primitive = _compiled_code_only()
# The per-sample steps of the other update rules are compiled once and called, not inlined: in
# the same function as the article's loops they made those 10-20% slower (LLVM optimises a large
# function less well); a call costs some reference counting, small beside Adam's step.
called_helper = _compiled_code_only()


# --- The records kernels take ---------------------------------------------------------------
# Built in Python (Network.record, _engine.run_record); a kernel takes a handful of them
# instead of twenty positional arrays and scalars. The integer codes are the positions of
# the records in catalogue's tables; they are constants, never configuration. (Activations
# have no constants here: the kernels reach them through the generated helpers below.)

# The BLAS kernel multiplies by a layer of at most this many units from a transposed copy of its weights.
NARROW = 16
SQUARED, CROSS_ENTROPY, POISSON, HUBER = 0, 1, 2, 3  # catalogue.LOSSES' order
SGD, ADAM, RPROP, ADAMW = 0, 1, 2, 3  # catalogue.OPTIMIZERS' order
# The catalogue's table lengths: a code outside them is refused when a kernel starts (_check_codes).
N_ACTIVATIONS, N_LOSSES, N_OPTIMIZERS = (len(table) for table in (catalogue.ACTIVATIONS, catalogue.LOSSES,
                                                                  catalogue.OPTIMIZERS))  # fmt: skip
LEAKY_SLOPE = 0.01  # torch's default negative slope
SOFTPLUS_THRESHOLD = 20.0  # torch.nn.Softplus's default: above it, out = net


# Net ends with one field per catalogue activation, uses_<name>: True where some layer has it,
# None elsewhere (uses_of). Each set of marks is a Numba type of its own, and the kernels compile one
# specialisation per set, with the code of the marked activations only (_uses and the generated helpers
# below). (Fields of their own rather than one tuple: train_many's parallel kernels, gone since, could not
# pass a tuple to their threads.)
_MARKS = [("uses_" + record.name, object) for record in catalogue.ACTIVATIONS]

Net = NamedTuple("Net", [
    ("params", np.ndarray),  # 1-D (or 2-D, parameter by network, for the lanes)
    ("sizes", np.ndarray),  # int64 layer widths, input first
    ("w_off", np.ndarray),  # int64 offset of each weight matrix in params
    ("b_off", np.ndarray),  # int64 offset of each bias vector
    ("u_off", np.ndarray),  # int64 offset of each layer's units in out/delta
    ("tied", np.ndarray),  # int64 1 where a layer shares one bias
    ("acts", np.ndarray),  # int64 activation code of each layer above the input
] + _MARKS)  # fmt: skip
Net.__doc__ = "One network's buffers, and the marks of the activations it uses."


def uses_of(codes) -> tuple:
    """The uses_<name> marks of Net for a network whose layers have these activation codes.
    (The test suite widens them: tests/reference.every_activation_marked.)"""
    key = frozenset(codes)
    marks = _USES.get(key)
    if marks is None:
        marks = _USES[key] = tuple(True if k in key else None for k in range(N_ACTIVATIONS))
    return marks


_USES: dict = {}


class State(NamedTuple):
    """The optimiser's two values per parameter: sgd's velocity (and nothing); Adam's moments m and v;
    RPROP's step size and previous gradient. Shaped like params."""

    first: np.ndarray
    second: np.ndarray


class Data(NamedTuple):
    """The training samples, each epoch's sample order (one row: the same order every epoch) and the samples'
    weights (none: every weight 1; the minibatch paths only, see _batch_step)."""

    X: np.ndarray
    Y: np.ndarray
    orders: np.ndarray
    weights: np.ndarray


class Diag(NamedTuple):
    """What a training kernel records for diagnose=True (fastbp.diagnostics): the statistics of each epoch,
    and the running sums and flags they come from. For train_many's lanes every per-layer and per-unit array
    has one more axis, the networks, last."""

    statistics: np.ndarray  # (epochs of the call, 4, layers): gradient_norm, update_ratio, saturated, dead
    saturated_below: np.ndarray  # (layers,) float64: each layer's activation's threshold on its slope; NaN: none
    dies: np.ndarray  # (layers,) uint8: 1 where its activation dies (its dead fraction is counted)
    gradient_sq: np.ndarray  # (layers,) float64: the sum over the epoch's updates of ||G_l||^2 so far
    saturated: np.ndarray  # (layers,) float64: the epoch's outputs on a flat spot so far
    start: np.ndarray  # (params,) in the parameters' dtype: the weights as the epoch started
    alive: np.ndarray  # (units,) uint8: 1 where a unit's output was > 0 in some pass of the epoch


class LossRule(NamedTuple):
    """The loss a kernel scores with: its code (catalogue.LOSSES' order) and the value of its option
    (catalogue.Loss.option: the Huber loss's huber_delta; 0 for a loss without one), in the parameters' dtype."""

    code: int
    parameter: float


class Run(NamedTuple):
    """One kernel call's options; the real numbers in the parameters' dtype, target in float64."""

    n_epochs: int
    lr: float
    momentum: float
    batch_size: int
    block: int  # samples the batch kernels hold at once
    train_biases: bool
    layerwise: bool
    loss: int  # the loss's code and its option's value (a LossRule's fields, not the record: train_many's
    loss_parameter: float  # parallel kernels, gone since, could not pass a nested one; _loss_of makes it)
    optimizer: int
    beta1: float
    beta2: float
    eps: float
    eta_minus: float
    eta_plus: float
    step_min: float
    step_max: float
    weight_decay: float
    target: float  # stop after the first epoch whose mean error is <= target (NaN: never)
    step: int  # optimiser updates done before this call (Adam's bias correction counts them)
    fast_math: bool  # online steps' logistic with _exp_nonpositive_fast (never minibatches, never evaluation)
    nesterov: bool  # sgd's momentum as Nesterov's (torch.optim.SGD(nesterov=True))


# --- Primitives: each formula once --------------------------------------------------------------


@intrinsic
def _bits_of(typingctx, x):
    """The 64 bits of a float64, as an int64 (a register move, which vectorises)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def _float_of(typingctx, bits):
    """The float64 whose bits are the given int64."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@intrinsic
def _fma(typingctx, a, b, c):
    """a * b + c with one rounding (llvm.fma: the CPU's FMA instruction)."""

    def codegen(context, builder, signature, args):
        return builder.fma(*args)

    return types.float64(types.float64, types.float64, types.float64), codegen


@primitive
def _integer_of(m):
    """A whole float of magnitude below 2^51 as an int64: the low bits of m + 1.5 * 2^52 (an exact sum),
    integer work that stays in the vector registers."""
    return _bits_of(m + 6755399441055744.0) - 0x4338000000000000


@primitive
def _exp_parts(x):
    """(n, s) with e^x = 2^n (1 + s) for x <= 0, s = e^r - 1 for the reduced |r| <= ln2 / 2, accurate to an ulp.

    Every operation is exactly rounded (FMA included), so the bits are the same on
    every machine, vectorised or not.
    """
    if x < -745.2:  # e^x rounds to 0 from -745.13 down (half the least subnormal); a NaN stays NaN
        x = -745.2
    # x = n ln2 + r, |r| <= ln2 / 2, ln2 in two parts: m = n as a float, x / ln2 rounded to nearest
    # (one rounding instruction, on the critical path); the integer n, off that path, from the bits of
    # m + 1.5 * 2^52 (exact: the sum's low bits are m). (m, n) are those of the older t = x / ln2 + 1.5 * 2^52,
    # m = t - 1.5 * 2^52, three additions long instead of one rounding.
    m = np.rint(x * 1.4426950408889634)
    n = _integer_of(m)
    r = _fma(-m, 1.90821492927058770002e-10, _fma(-m, 6.93147180369123816490e-01, x))
    # e^r - 1 = r + r^2 (1/2! + r/3! + ... + r^11/13!) (Taylor: 4e-18 short at |r| = ln2 / 2), in
    # Estrin's scheme for a short dependency chain, with fused multiply-adds.
    r2 = r * r
    r4 = r2 * r2
    q0 = _fma(r2, _fma(r, 1 / 120, 1 / 24), _fma(r, 1 / 6, 1 / 2))
    q1 = _fma(r2, _fma(r, 1 / 362880, 1 / 40320), _fma(r, 1 / 5040, 1 / 720))
    q2 = _fma(r2, _fma(r, 1 / 6227020800, 1 / 479001600), _fma(r, 1 / 39916800, 1 / 3628800))
    return n, _fma(r2, _fma(r4 * r4, q2, _fma(r4, q1, q0)), r)


@primitive
def _exp_nonpositive(x):
    """e^x for x <= 0 (or NaN), within 1 ulp of libm, in straight-line code that vectorises."""
    n, s = _exp_parts(x)
    # 2^n (1 + s) as 2^(n + 1) times (1 + s) / 2: halving is exact, so (1 + s) / 2 is 1 + s rounded (one
    # multiply-add), and 2^(n + 1) is exact for every n >= -1075 (a subnormal power of two below 2^-1022),
    # so the product is the exact 2^n (1 + s) rounded once, normal or subnormal. Two operations after s,
    # with no select on the chain of train's latency-bound logistics.
    half = _fma(s, 0.5, 0.5)
    normal = _float_of((n + 1024) << 52)
    subnormal = _float_of(1 << ((n + 1075) & 63))
    return half * (normal if n >= -1023 else subnormal)


@primitive
def _expm1_nonpositive(x):
    """e^x - 1 for x <= 0 (or NaN), accurate near 0 where e^x - 1 cancels: 2^n s + (2^n - 1)."""
    n, s = _exp_parts(x)
    scale = _float_of((max(n, -64) + 1023) << 52)
    return _fma(scale, s, scale - 1.0) if n > -64 else (x - x) - 1.0  # -1, or NaN for NaN


def _powers_of_two_root(n_bits: int) -> np.ndarray:
    """2^(j / 2^n_bits) for j < 2^n_bits, each correctly rounded, from integers only (no libm: the same
    bits everywhere): the step 2^(1 / 2^n_bits) to 128 fractional bits (the floor of 2^(128 + 1 / 2^n_bits)
    is n_bits nested integer square roots), then its powers, each within 2^-119 of the true value."""
    fraction = 128
    root = 1 << ((fraction << n_bits) + 1)
    for _ in range(n_bits):
        root = math.isqrt(root)
    table, power = [], 1 << fraction
    for _ in range(1 << n_bits):
        table.append(power / (1 << fraction))  # int / int: correctly rounded
        power = (power * root) >> fraction
    return np.array(table)


# 2^(j/256): fast_math's e^x reduces its argument to |r| <= ln2/512, where 4 Taylor terms are exact to 1e-17.
_EXP_TABLE_BITS = 8
_EXP_TABLE = _powers_of_two_root(_EXP_TABLE_BITS)


@primitive
def _exp_nonpositive_fast(x):
    """e^x for x <= 0 (or NaN), within 1 ulp of libm, in about half the default's latency: fast_math's e^x.

    x = (256 n + j) ln2/256 + r: e^x = 2^n 2^(j/256) e^r, 2^(j/256) from a table and e^r - 1 from a
    degree-4 polynomial, so the chain is about 25 cycles instead of 45 (the table's load is off it).
    """
    if x < -746.0:
        x = -746.0
    k = np.rint(x * 369.3299304675746)  # 256 / ln2
    index = _integer_of(k)
    j = index & 255
    n = index >> _EXP_TABLE_BITS
    # r = x - k ln2/256 with ln2/256 in two parts; the low part's product only shifts r by < 1e-13,
    # so it joins the polynomial's linear term instead of the chain.
    r = _fma(-k, 2.7076061740622863e-03, x)
    low = k * -9.058776616587108e-20
    r2 = r * r
    s = _fma(r2, _fma(r2, 1 / 24, _fma(r, 1 / 6, 1 / 2)), r + low)
    # e^x = 2^n t (1 + s), t = 2^(j/256): 2^n t as t 2^a 2^(n - a), a = n // 2 (both factors normal
    # down to n = -1077), off the chain, then one multiply-add after s, with no select on the chain.
    # Where 2^n t is subnormal (e^x < 2^-1022), it is rounded there and again by the multiply-add:
    # still within one subnormal step of libm.
    t = _EXP_TABLE[j]
    half = n >> 1
    scale = (t * _float_of((half + 1023) << 52)) * _float_of((n - half + 1023) << 52)
    return _fma(scale, s, scale)


@primitive
def _logistic_of(net, e):
    """out = 1 / (1 + e^-net) from e = e^-|net|: overflow-free for every finite net, without branches."""
    return (1.0 if net >= 0.0 else e) / (1.0 + e)


@primitive
def _logistic(net):
    """out = 1 / (1 + e^-net), with the default e^x."""
    return _logistic_of(net, _exp_nonpositive(-abs(net)))


@primitive
def _logistic_fast(net):
    """out = 1 / (1 + e^-net), with fast_math's e^x."""
    return _logistic_of(net, _exp_nonpositive_fast(-abs(net)))


@primitive
def _tanh(net):
    """out = tanh(net) = -expm1(-2|net|) / (2 + expm1(-2|net|)), with net's sign; a few ulp everywhere."""
    e = _expm1_nonpositive(-2.0 * abs(net))
    magnitude = abs(e) / (2.0 + e)
    return magnitude if net >= 0.0 else -magnitude


@primitive
def _relu(net):
    """max(0, net), as torch.relu."""
    return net if net > 0.0 else 0.0


@primitive
def _leaky_relu(net):
    """net for net > 0, else 0.01 net (torch's default slope)."""
    return net if net > 0.0 else LEAKY_SLOPE * net


@primitive
def _logistic_slope(out):
    """dout/dnet of the logistic, from its output: out (1 - out)."""
    return out * (1.0 - out)


@primitive
def _tanh_slope(out):
    """dout/dnet of tanh, from its output: 1 - out^2."""
    return 1.0 - out * out


@primitive
def _relu_slope(out):
    """dout/dnet of the ReLU, from its output: 1 where out > 0, else 0."""
    return 1.0 if out > 0.0 else 0.0


@primitive
def _leaky_relu_slope(out):
    """dout/dnet of the leaky ReLU, from its output: 1 where out > 0, else 0.01."""
    return 1.0 if out > 0.0 else LEAKY_SLOPE


@primitive
def _softplus(net):
    """out = log(1 + e^net) = max(net, 0) + log1p(e^-|net|); net itself where net > 20 (torch.nn.Softplus)."""
    if net > SOFTPLUS_THRESHOLD:
        return net
    return max(net, 0.0) + math.log1p(_exp_nonpositive(-abs(net)))


@primitive
def _softplus_slope(out):
    """dout/dnet of softplus, from its output: 1 - e^-out (the logistic of net); 1 where net > 20."""
    return 1.0 if out > SOFTPLUS_THRESHOLD else -_expm1_nonpositive(-out)


@primitive
def _elu(net):
    """out = net for net > 0, else e^net - 1 (torch.nn.ELU, alpha 1)."""
    return net if net > 0.0 else _expm1_nonpositive(net)


@primitive
def _elu_slope(out):
    """dout/dnet of ELU, from its output: 1 where out > 0, else out + 1 (= e^net)."""
    return 1.0 if out > 0.0 else out + 1.0


@primitive
def _exp(net):
    """out = e^net (inf past the largest float)."""
    return math.exp(net)


@primitive
def _exp_slope(out):
    """dout/dnet of e^net: out."""
    return out


SQRT_HALF, INV_SQRT_2PI = oracle.SQRT_HALF, oracle.INV_SQRT_2PI  # (GELU's constants: the oracle's)


@primitive
def _gelu(net):
    """out = net Phi(net) = net * 0.5 * (1 + erf(net / sqrt 2)) (torch.nn.GELU())."""
    return net * 0.5 * (1.0 + math.erf(net * SQRT_HALF))


@primitive
def _gelu_slope(net):
    """dout/dnet of GELU from the net input: Phi(net) + net phi(net)."""
    return 0.5 * (1.0 + math.erf(net * SQRT_HALF)) + net * (math.exp(-0.5 * net * net) * INV_SQRT_2PI)


@primitive
def _silu(net):
    """out = net / (1 + e^-net) = net logistic(net) (torch.nn.SiLU)."""
    return net * _logistic(net)


@primitive
def _silu_slope(net):
    """dout/dnet of SiLU from the net input: s (1 + net (1 - s)), s = logistic(net)."""
    s = _logistic(net)
    return s * (1.0 + net * (1.0 - s))


@primitive
def _identity(net):
    """out = net."""
    return net


@primitive
def _identity_slope(out):
    """dout/dnet of the identity: 1."""
    return 1.0


@primitive
def _squared_error(target, out):
    """One output's share of E_total: 1/2 (target - out)^2."""
    return 0.5 * ((target - out) * (target - out))


@primitive
def _poisson_error(target, out):
    """One output's share of half the Poisson deviance: t log(t / out) - t + out (0 log 0 = 0)."""
    term = target * math.log(target / out) if target != 0.0 else 0.0 * target
    return term - target + out


@primitive
def _loss_of(run):
    """The LossRule of a Run."""
    return LossRule(run.loss, run.loss_parameter)


@primitive
def _huber_error(target, out, huber_delta):
    """One output's Huber loss (torch's): d^2 / 2 where d = |target - out| <= huber_delta, else
    huber_delta (d - huber_delta / 2)."""
    d = abs(target - out)
    return 0.5 * (d * d) if d <= huber_delta else huber_delta * (d - 0.5 * huber_delta)


@primitive
def _huber_gradient(target, out, huber_delta):
    """dE/dout of one output's Huber loss: -(target - out), clipped to [-huber_delta, huber_delta]."""
    return min(max(-(target - out), -huber_delta), huber_delta)


@primitive
def _unit_error(loss, target, out, net):
    """One output unit's share of the error under loss (a LossRule): squared, Huber, half the Poisson
    deviance (e^net units), or binary cross-entropy from its net input (max(net, 0) - net t +
    log(1 + e^-|net|), finite where out rounds to 0 or 1)."""
    if loss.code == SQUARED:
        return _squared_error(target, out)
    if loss.code == HUBER:
        return _huber_error(target, out, loss.parameter)
    if loss.code == POISSON:
        return _poisson_error(target, out)
    return max(net, 0.0) - net * target + math.log1p(_exp_nonpositive(-abs(net)))


@primitive
def _unit_gradient(loss, target, out):
    """dE/dout of one output unit under a loss whose deltas hold the output's slope: the squared error's
    -(target - out), or the Huber loss's, clipped."""
    if loss.code == HUBER:
        return _huber_gradient(target, out, loss.parameter)
    return -(target - out)


@primitive
def _unit_delta(loss, target, out, slope):
    """delta_o of an element-wise output unit whose dout/dnet is slope: dE/dout times slope (the article's
    -(target - out) out (1 - out) for a logistic unit), or out - target for cross-entropy on a logistic unit
    and for the Poisson loss on an e^net unit (catalogue.Loss.slope_free)."""
    if loss.code == CROSS_ENTROPY or loss.code == POISSON:
        return out - target
    return _unit_gradient(loss, target, out) * slope


@primitive
def _with_decay(gradient, weight, weight_decay):
    """L2 weight decay: dE/dw + weight_decay * w (applied to weights, never biases)."""
    return gradient + weight_decay * weight


@primitive
def _descend(param, gradient, lr):
    """Gradient descent on one parameter: w+ = w - eta * dE/dw."""
    return param - lr * gradient


@primitive
def _momentum_step(param, velocity, gradient, lr, momentum, nesterov):
    """Classical momentum: v+ = momentum * v - eta * dE/dw; w+ = w + v+; or Nesterov's, w+ = w + momentum v+
    - eta dE/dw (torch.optim.SGD's nesterov, whose buffer is -v / eta). Returns (w+, v+)."""
    velocity = momentum * velocity - lr * gradient
    if nesterov:
        return param + (momentum * velocity - lr * gradient), velocity
    return param + velocity, velocity


@primitive
def _adam_step(param, m, v, gradient, step_size, root_correction, beta1, beta2, eps):
    """Adam (torch.optim.Adam): m+ = m + (1 - beta1)(g - m); v+ = beta2 v + (1 - beta2) g^2;
    w+ = w - step_size m+ / (sqrt(v+) / root_correction + eps), with step_size = eta / (1 - beta1^t)
    and root_correction = sqrt(1 - beta2^t). Returns (w+, m+, v+)."""
    m = m + (1.0 - beta1) * (gradient - m)
    v = beta2 * v + (1.0 - beta2) * (gradient * gradient)
    return param - step_size * (m / (math.sqrt(v) / root_correction + eps)), m, v


@primitive
def _rprop_step(param, step, previous, gradient, eta_minus, eta_plus, step_min, step_max):
    """RPROP (torch.optim.Rprop): the step grows by eta_plus while the gradient keeps its sign,
    shrinks by eta_minus (and skips this move) when it flips; w+ = w - sign(g) step.
    Returns (w+, step+, the gradient to remember)."""
    product = gradient * previous
    factor = eta_plus if product > 0.0 else (eta_minus if product < 0.0 else 1.0)
    step = min(max(step * factor, step_min), step_max)
    if product < 0.0:
        gradient = 0.0 * gradient
    sign = 1.0 if gradient > 0.0 else (-1.0 if gradient < 0.0 else 0.0)
    return param - sign * step, step, gradient


@primitive
def _adam_like(run):
    """Adam or AdamW: Adam's step and its bias corrections (AdamW differs in how it decays the weights)."""
    return run.optimizer == ADAM or run.optimizer == ADAMW


@primitive
def _decay_terms(run, one):
    """(shrink, l2) of a weight's step, one being 1 in the parameters' dtype: AdamW shrinks the weight by
    lr * weight_decay before Adam's step (torch.optim.AdamW), (1 - lr weight_decay, 0); the others add
    weight_decay * w to the gradient (L2), (1, weight_decay). Multiplying by 1 and adding 0 * w are exact."""
    if run.optimizer == ADAMW:
        return one - run.lr * run.weight_decay, run.weight_decay - run.weight_decay
    return one, run.weight_decay


@primitive
def _optimizer_step(run, param, first, second, gradient, step_size, root_correction):
    """One parameter's update under run.optimizer (sgd with momentum, Adam or AdamW (a bias: no decay), or
    RPROP). Returns (param, first, second): the new value and its optimiser state."""
    if _adam_like(run):
        return _adam_step(param, first, second, gradient, step_size, root_correction, run.beta1, run.beta2, run.eps)
    if run.optimizer == RPROP:
        return _rprop_step(param, first, second, gradient, run.eta_minus, run.eta_plus, run.step_min, run.step_max)
    if run.momentum == 0.0:
        return _descend(param, gradient, run.lr), first, second
    param, first = _momentum_step(param, first, gradient, run.lr, run.momentum, run.nesterov)
    return param, first, second


@primitive
def _update_scalars(run, step):
    """(step_size, root_correction) of update number t (from 1), as _optimizer_step takes them: Adam's
    eta / (1 - beta1^t) and sqrt(1 - beta2^t); (eta, 1) under the other rules."""
    if _adam_like(run):
        return run.lr / (1.0 - math.pow(run.beta1, step)), math.sqrt(1.0 - math.pow(run.beta2, step))
    return run.lr, 1.0


PLAIN, MOMENTUM, ADAM_RULE, OTHER_RULE = 0, 1, 2, 3  # the update rules the online loops treat apart


# A layer's statistics at an epoch's end (fastbp.diagnostics defines them), NaN where its activation has none.


@primitive
def _gradient_norm(gradient_sq, updates):
    """sqrt of the mean over the epoch's updates of ||G_l||^2."""
    return math.sqrt(gradient_sq / updates)


@primitive
def _update_ratio(change_sq, weight_sq):
    """||W(end) - W(start)|| / ||W(start)||; NaN where ||W(start)|| is 0."""
    return math.sqrt(change_sq) / math.sqrt(weight_sq) if weight_sq > 0.0 else math.nan


@primitive
def _fraction(count, of, counted):
    """count / of (the saturated or dead fraction), or NaN where the layer's activation has none (counted False)."""
    return count / of if counted else math.nan


@primitive
def _rule(run):
    """Which update loop: plain gradient descent (the article's), momentum without weight decay,
    Adam (and AdamW), or the general one (RPROP, momentum with weight decay)."""
    if _adam_like(run):
        return ADAM_RULE
    if run.optimizer == SGD and run.weight_decay == 0.0:
        return PLAIN if run.momentum == 0.0 else MOMENTUM
    return OTHER_RULE


@primitive
def _is_plain(run):
    """Plain gradient descent (the article's rule)."""
    return _rule(run) == PLAIN


# --- The activations, chosen by code among those a network uses --------------------------------
# Each activation of catalogue.ACTIVATIONS has its primitives here, named after it: _<name>(net) -> out and
# _<name>_slope(out) -> dout/dnet for an element-wise one (and _<name>_fast, fast_math's variant, where it
# has one); _<name>(values, first, n) for a whole-layer one (softmax). A Net's uses_<name> fields mark the
# activations it has (True, or None): each set of marks is a Numba type of its own, so each compiles a
# specialisation of its own. The scalar choices below are generated at compile time for that set, a branch
# per marked activation and none for the others (a logistic network's kernels contain no tanh, ReLU or
# softmax code); loops get a version per marked activation from _code_marks. Every kernel first checks
# that each layer's code is among the marked ones (_check_codes), so the last branch of a choice is a
# known activation, never a default.


def _uses(net):
    """The tuple of a Net's uses_<name> marks, what the generated helpers below take."""


@overload(_uses, jit_options=dict(error_model="numpy"))
def _uses_generated(net):
    marks = ", ".join("net." + name for name, _ in _MARKS)
    return _generate("net", [(None, [f"return ({marks},)"])])


def _marked(uses) -> list:
    """(code, record) of each activation a Net.uses type marks."""
    return [(k, record) for k, (record, mark) in enumerate(zip(catalogue.ACTIVATIONS, uses.types, strict=True))
            if not isinstance(mark, types.NoneType)]  # fmt: skip


def _generate(args: str, cases: list) -> object:
    """A function of args (a string) whose body chooses among cases, (code, lines) pairs, by ``code``:
    the only case alone, else if / elif / else with the last case as the else."""
    body = []
    for n, (k, lines) in enumerate(cases):
        if len(cases) > 1:
            body.append("else:" if n == len(cases) - 1 else f"{'if' if n == 0 else 'elif'} code == {k}:")
        body += _indent(lines) if len(cases) > 1 else lines
    return _define(args, body)


def _generate_loops(args: str, cases: list) -> object:
    """A function of args whose body runs the lines of the case, (code, lines), that ``code`` names, and
    nothing for any other code: a loop per activation, the choice made outside it (so that it vectorises),
    written out at compile time for the activations a call uses. (Numba's literal_unroll can make the same
    loops from one body, but its compiler pass types the whole kernel again: 10-20% of a kernel's compile.)"""
    body = []
    for n, (k, lines) in enumerate(cases):
        body += [f"{'if' if n == 0 else 'elif'} code == {k}:"] + _indent(lines)
    return _define(args, body or ["pass"])


def _define(args: str, body: list) -> object:
    """The function ``generated(args)`` with these lines as its body, defined in this module's namespace."""
    namespace = dict(globals())
    exec("def generated(" + args + "):\n" + "\n".join(_indent(body)), namespace)
    return namespace["generated"]


def _indent(lines: list) -> list:
    return ["    " + line for line in lines]


def _cases(code, uses, elementwise=False) -> list:
    """(code, record) of the activations a call of a generated helper may meet: the one a static code mark
    (_code_marks) names, else every marked one (element-wise ones only, with elementwise)."""
    if isinstance(code, types.BaseTuple):
        return [(len(code.types), catalogue.ACTIVATIONS[len(code.types)])]
    return [(k, record) for k, record in _marked(uses) if not (elementwise and record.whole_layer)]


def _has_fast(record, fast) -> bool:
    """Whether the activation's fast_math variant is compiled: it has one, and fast is not None."""
    return not isinstance(fast, types.NoneType) and "_" + record.name + "_fast" in globals()


def _code_marks(uses):
    """A static mark per element-wise activation uses marks: for code k, a tuple of k Nones, so that
    ``for mark in literal_unroll(_code_marks(uses)): if code == len(mark): ...`` runs the body once per
    activation with the code known when compiling (the generated helpers given a mark compile its case
    alone). This is how a loop gets one version per activation, the choice made outside it, with no list of
    activations here. (The lanes' three such loops are helpers of their own, _lanes_*: literal_unroll's pass
    types the function that holds it once more, which in the lanes kernel was 3.6 of its 11 s compile.)"""


@overload(_code_marks, jit_options=dict(error_model="numpy"))
def _code_marks_generated(uses):
    marks = ", ".join("(" + "None, " * k + ")" for k, record in _marked(uses) if not record.whole_layer)
    return _generate("uses", [(None, [f"return ({marks},)" if marks else "return ((),)"])])


def _uses_code(code, uses):
    """Whether the activation code is among those uses marks."""


@overload(_uses_code, jit_options=dict(error_model="numpy"))
def _uses_code_generated(code, uses):
    marked = " or ".join(f"code == {k}" for k, _ in _marked(uses)) or "False"
    return _generate("code, uses", [(None, [f"return {marked}"])])


def _whole_layer(code, uses):
    """Whether the activation code acts on a whole layer (softmax); a constant False when uses marks none."""


@overload(_whole_layer, jit_options=dict(error_model="numpy"))
def _whole_layer_generated(code, uses):
    wholes = " or ".join(f"code == {k}" for k, record in _marked(uses) if record.whole_layer) or "False"
    return _generate("code, uses", [(None, [f"return {wholes}"])])


def _activate(code, net, fast, uses):
    """out = f(net) for an element-wise activation (a whole-layer one returns net: its caller applies it);
    code a code or a static mark (_code_marks); fast: fast_math's variant where the activation has one
    (None: never, and none is compiled)."""


@overload(_activate, jit_options=dict(error_model="numpy"))
def _activate_generated(code, net, fast, uses):
    cases = []
    for k, record in _cases(code, uses):
        f = "_" + record.name
        if record.whole_layer:
            cases.append((k, ["return net"]))
        elif _has_fast(record, fast):
            cases.append((k, ["if fast:", f"    return {f}_fast(net)", f"return {f}(net)"]))
        else:
            cases.append((k, [f"return {f}(net)"]))
    return _generate("code, net, fast, uses", cases)


def _slope(code, net, out, uses):
    """dout/dnet of an element-wise activation, from the unit's output, or from its net input for the
    activations whose record says so (catalogue.Activation.slope_from_net); code a code or a static mark.
    (Every candidate is computed and one selected, without branches, so that loops over units or
    networks still vectorise.)"""


@overload(_slope, jit_options=dict(error_model="numpy"))
def _slope_generated(code, net, out, uses):
    marked = _cases(code, uses, elementwise=True)
    lines = [f"s{k} = _{record.name}_slope({'net' if record.slope_from_net else 'out'})" for k, record in marked]
    lines = lines or ["return 1.0"]  # (softmax alone)
    choice = f"s{marked[-1][0]}" if marked else ""
    for k, _ in reversed(marked[:-1]):
        choice = f"s{k} if code == {k} else ({choice})"
    return _generate("code, net, out, uses", [(None, lines + ([f"return {choice}"] if marked else []))])


def _needs_net(code, uses):
    """Whether the activation code's slope is computed from the net input; a constant False when uses
    marks no such activation."""


@overload(_needs_net, jit_options=dict(error_model="numpy"))
def _needs_net_generated(code, uses):
    needing = " or ".join(f"code == {k}" for k, record in _marked(uses) if record.slope_from_net) or "False"
    return _generate("code, uses", [(None, [f"return {needing}"])])


def _keeps_nets(uses):
    """Whether the units' buffers hold the net inputs too: when uses marks an activation whose slope is
    computed from them. The net input of the unit at p is then at p + half, half the buffer's length
    (_nets_at); the buffers are twice as long (_unit_buffer)."""


@overload(_keeps_nets, jit_options=dict(error_model="numpy"))
def _keeps_nets_generated(uses):
    keeps = any(record.slope_from_net for _, record in _marked(uses))
    return _generate("uses", [(None, [f"return {keeps}"])])


@helper
def _unit_buffer(n, dtype, uses):
    """A buffer for n units' values (outputs, deltas), with room for their net inputs after them when the
    network keeps them (_keeps_nets)."""
    return np.empty(n * (2 if _keeps_nets(uses) else 1), dtype)


@helper
def _nets_at(values, uses):
    """How far after a unit's output in values its net input is kept: half the buffer; 0 when the network keeps
    none (a unit's "net input" then reads its output, which no slope of its activations reads)."""
    return np.uint64(values.shape[0] >> 1) if _keeps_nets(uses) else np.uint64(0)


def _activate_span(code, values, first, stop, fast, uses):
    """values[first:stop] = f(values) for an element-wise activation, a loop per activation (the choice
    made outside it, so that it vectorises); fast: fast_math's variant (None: never, and no table e^x is
    compiled: a second logistic loop per call site cost a second of compile time). A code that marks no
    element-wise activation (softmax's) leaves values alone."""


@overload(_activate_span, inline="always", jit_options=dict(error_model="numpy"))
def _activate_span_generated(code, values, first, stop, fast, uses):
    cases = []
    for k, record in _cases(code, uses, elementwise=True):
        f = "_" + record.name
        plain = ["for j in range(first, stop):", f"    values[j] = {f}(values[j])"]
        if _has_fast(record, fast):
            fast_loop = ["for j in range(first, stop):", f"    values[j] = {f}_fast(values[j])"]
            plain = ["if fast:"] + _indent(fast_loop) + ["else:"] + _indent(plain)
        cases.append((k, plain))
    return _generate_loops("code, values, first, stop, fast, uses", cases)


def _times_slope(code, deltas, outs, first, stop, nets_at, uses):
    """deltas[p] *= f'(net_p) for first <= p < stop, from the outputs outs[p] of an element-wise activation
    (and their net inputs at outs[p + nets_at]): a loop per activation (with the code a variable inside it,
    the loop stayed scalar). A code that marks no element-wise activation leaves deltas alone."""


@overload(_times_slope, inline="always", jit_options=dict(error_model="numpy"))
def _times_slope_generated(code, deltas, outs, first, stop, nets_at, uses):
    cases = []
    for k, record in _cases(code, uses, elementwise=True):
        of = "outs[p + nets_at]" if record.slope_from_net else "outs[p]"
        cases.append((k, ["for p in range(np.uint64(first), np.uint64(stop)):",
                          f"    deltas[p] = deltas[p] * _{record.name}_slope({of})"]))  # fmt: skip
    return _generate_loops("code, deltas, outs, first, stop, nets_at, uses", cases)


# --- Kernels ------------------------------------------------------------------------------------


@helper
def _check_codes(acts, uses, loss, optimizer):
    """Refuse a code outside the catalogue's tables when a kernel starts, so that no choice among the
    activations, losses or optimisers below ever falls back silently (their last branch is then a
    known element, not a default)."""
    for l in range(acts.shape[0]):
        if acts[l] < 0 or acts[l] >= N_ACTIVATIONS:
            raise ValueError("an activation code outside fastbp.catalogue.ACTIVATIONS")
        if not _uses_code(acts[l], uses):
            raise ValueError("an activation code that Net.uses does not mark")
    if loss.code < 0 or loss.code >= N_LOSSES:
        raise ValueError("a loss code outside fastbp.catalogue.LOSSES")
    if optimizer < 0 or optimizer >= N_OPTIMIZERS:
        raise ValueError("an optimizer code outside fastbp.catalogue.OPTIMIZERS")


@helper
def _names_rule(run, moments):
    """Whether a kernel's moments marker (True, or None for the other rules) names the run's update rule."""
    return (moments is not None) == (_rule(run) == ADAM_RULE)


@helper
def _check_keeps_no_nets(acts, uses):
    """Refuse, in a kernel that keeps no net inputs (the lanes, BLAS), a layer whose activation's slope needs
    them (_needs_net): _dispatch sends such networks to the loops."""
    for l in range(acts.shape[0]):
        if _needs_net(acts[l], uses):
            raise ValueError("an activation whose slope needs the net inputs, which this kernel does not keep")


@helper
def _stride(sizes, u_off):
    """Scratch slots per sample: every unit's output, then the output layer's net inputs."""
    last = sizes.shape[0] - 1
    return u_off[last] + 2 * sizes[last]


@helper
def _softmax(values, first, n_out):
    """values[first:first + n_out] = softmax of themselves, through e^(net - max) (no overflow).
    Returns (max, sum of the powers): log sum_j e^net_j = max + log(sum), which the cross-entropy needs."""
    top = values[first]
    for j in range(first, first + n_out):
        top = max(top, values[j])
    # The powers in a loop of their own, which vectorises; then their sum, in order.
    for j in range(first, first + n_out):
        values[j] = _exp_nonpositive(values[j] - top)
    total = 0.0
    for j in range(first, first + n_out):
        total += values[j]
    for j in range(first, first + n_out):
        values[j] = values[j] / total
    return top, total


@helper
def _layer_sums(params, w, b, out, below, above, n_in, n_out, zero):
    """out[above + j] = sum_i W[j, i] out[below + i] + b_j, W's rows at params[w + j * n_in] (the stored layout),
    the biases at params[b + j].

    Four units at a time: four independent sums hide the latency of the
    additions, while each unit's sum still runs over i in order, as in the
    oracle (so the bits are those of a one-unit loop). ``zero`` is 0 in the
    parameters' dtype: sums start from it so that float32 networks add in
    float32 (a 0.0 literal would make every sum float64).
    """
    j = np.uint64(0)
    while n_out - j >= np.uint64(4):
        r0 = w + j * n_in
        r1 = r0 + n_in
        r2 = r1 + n_in
        r3 = r2 + n_in
        net0 = zero
        net1 = zero
        net2 = zero
        net3 = zero
        for i in range(n_in):
            x = out[below + i]
            net0 += params[r0 + i] * x
            net1 += params[r1 + i] * x
            net2 += params[r2 + i] * x
            net3 += params[r3 + i] * x
        out[above + j] = net0 + params[b + j]
        out[above + j + np.uint64(1)] = net1 + params[b + j + np.uint64(1)]
        out[above + j + np.uint64(2)] = net2 + params[b + j + np.uint64(2)]
        out[above + j + np.uint64(3)] = net3 + params[b + j + np.uint64(3)]
        j += np.uint64(4)
    while j < n_out:
        row = w + j * n_in
        net_j = zero
        for i in range(n_in):
            net_j += params[row + i] * out[below + i]
        out[above + j] = net_j + params[b + j]
        j += np.uint64(1)


@helper
def _layer_sums_transposed(weights_t, params, b, out, below, above, n_in, n_out, zero):
    """The sums of _layer_sums from the weights transposed, weights_t[i * n_out + j] = W[j, i].

    Vector lanes run over the units j, each lane still summing over i in order
    (the same bits); four inputs per pass over the units, so that each partial
    sum is loaded and stored once per four products (about 3x the speed of the
    rows' loop for 64 -> 32, docs/design.md).
    """
    for j in range(n_out):
        out[above + j] = zero
    i = np.uint64(0)
    while n_in - i >= np.uint64(4):
        x0 = out[below + i]
        x1 = out[below + i + np.uint64(1)]
        x2 = out[below + i + np.uint64(2)]
        x3 = out[below + i + np.uint64(3)]
        r0 = i * n_out
        r1 = r0 + n_out
        r2 = r1 + n_out
        r3 = r2 + n_out
        for j in range(n_out):
            net_j = out[above + j]
            net_j += weights_t[r0 + j] * x0
            net_j += weights_t[r1 + j] * x1
            net_j += weights_t[r2 + j] * x2
            net_j += weights_t[r3 + j] * x3
            out[above + j] = net_j
        i += np.uint64(4)
    while i < n_in:
        x = out[below + i]
        row = i * n_out
        for j in range(n_out):
            out[above + j] += weights_t[row + j] * x
        i += np.uint64(1)
    for j in range(n_out):
        out[above + j] = out[above + j] + params[b + j]


@helper
def _swap_first_layout(net, first_t, to_transposed):
    """Copy the first weight matrix between params (rows) and first_t (transposed, first_t[i * n_out + j] =
    W_0[j, i], as _layer_sums_transposed reads it): into first_t, or back; nothing when first_t is empty."""
    n_in = np.uint64(net.sizes[0])
    n_out = np.uint64(net.sizes[1])
    w = np.uint64(net.w_off[0])
    if first_t.shape[0] > 0:
        for j in range(n_out):
            for i in range(n_in):
                if to_transposed:
                    first_t[i * n_out + j] = net.params[w + j * n_in + i]
                else:
                    net.params[w + j * n_in + i] = first_t[i * n_out + j]


@helper
def _forward(net, X, s, out, base, zero, first_t, fast):
    """Forward pass of sample X[s]: fills out[base + u_off[l] + j] for every layer, and the output
    layer's net inputs after its outputs (cross-entropy is computed from them).

    The first layer's sums come from first_t, its weights transposed (_swap_first_layout), when it
    is not empty, else from params; ``zero`` is 0 in the parameters' dtype (see _layer_sums).
    Callers without a transposed copy pass None, and Numba then compiles no transposed loop
    (a second compiled variant of the sums costs a second or more of compile time per kernel).
    """
    params, sizes, w_off, b_off, u_off, acts = net.params, net.sizes, net.w_off, net.b_off, net.u_off, net.acts
    uses = _uses(net)
    nets_at = _nets_at(out, uses)
    n_layers = sizes.shape[0] - 1
    s = np.uint64(s)
    base = np.uint64(base)
    for i in range(np.uint64(sizes[0])):
        out[base + i] = X[s, i]
    for l in range(n_layers):
        n_in = np.uint64(sizes[l])
        n_out = np.uint64(sizes[l + 1])
        below = base + np.uint64(u_off[l])
        above = base + np.uint64(u_off[l + 1])
        b = np.uint64(b_off[l])
        if first_t is not None and l == 0 and first_t.shape[0] > 0:
            _layer_sums_transposed(first_t, params, b, out, below, above, n_in, n_out, zero)
        else:
            _layer_sums(params, np.uint64(w_off[l]), b, out, below, above, n_in, n_out, zero)
        if l == n_layers - 1:
            for j in range(n_out):
                out[above + n_out + j] = out[above + j]
        if _needs_net(acts[l], uses):  # (its slope is computed from them: kept nets_at after the outputs)
            for j in range(n_out):
                out[above + nets_at + j] = out[above + j]
        # The activation of the whole layer in one loop, which vectorises (so the choice is made
        # outside it for the activations that need e^x).
        if _whole_layer(acts[l], uses):
            _softmax(out, above, n_out)
        else:
            _activate_span(acts[l], out, above, above + n_out, fast, uses)


@helper
def _softmax_cross_entropy(out, o0, nets, n0, delta, d0, n_out, Y, s, log_sum):
    """The cross-entropy of a softmax output and its deltas, given log sum_j e^net_j (the softmax's, or
    recomputed): E = -sum_k t_k (net_k - log_sum); dE/dnet_j = out_j sum_k t_k - t_j. Returns E."""
    targets = 0.0
    for j in range(n_out):
        targets += Y[s, j]
    E_total = 0.0
    for j in range(n_out):
        E_total -= Y[s, j] * (nets[n0 + j] - log_sum)
        delta[d0 + j] = out[o0 + j] * targets - Y[s, j]
    return E_total


@helper
def _loss_delta(out, o0, nets, n0, delta, d0, n_out, code, uses, Y, s, loss):
    """The output layer's deltas dE/dnet_j into delta[d0 + j], from its outputs out[o0 + j] and net
    inputs nets[n0 + j] (activation code, among those uses marks) against targets Y[s]; returns the
    sample's error."""
    E_total = 0.0
    if not _whole_layer(code, uses):
        for j in range(n_out):
            E_total += _unit_error(loss, Y[s, j], out[o0 + j], nets[n0 + j])
            delta[d0 + j] = _unit_delta(loss, Y[s, j], out[o0 + j], _slope(code, nets[n0 + j], out[o0 + j], uses))
    elif loss.code == CROSS_ENTROPY:
        # E = -sum_k t_k log softmax_k, log softmax_k = net_k - (max + log sum_j e^(net_j - max));
        # dE/dnet_j = out_j sum_k t_k - t_j.
        m = nets[n0]
        for j in range(n_out):
            m = max(m, nets[n0 + j])
        # e^(net_j - max) into delta first (a loop that vectorises), then summed in order.
        for j in range(n_out):
            delta[d0 + j] = _exp_nonpositive(nets[n0 + j] - m)
        total = 0.0
        for j in range(n_out):
            total += delta[d0 + j]
        E_total = _softmax_cross_entropy(out, o0, nets, n0, delta, d0, n_out, Y, s, m + math.log(total))
    else:
        # The squared error (or Huber's) through softmax: delta_j = out_j (g_j - sum_k g_k out_k), g = dE/dout.
        dot = 0.0
        for j in range(n_out):
            dot += _unit_gradient(loss, Y[s, j], out[o0 + j]) * out[o0 + j]
        for j in range(n_out):
            E_total += _unit_error(loss, Y[s, j], out[o0 + j], nets[n0 + j])
            delta[d0 + j] = out[o0 + j] * (_unit_gradient(loss, Y[s, j], out[o0 + j]) - dot)
    return E_total


@helper
def _output_delta(net, out, delta, base, Y, s, loss):
    """The output deltas of sample Y[s] into delta (units at base, as _forward left them); returns its error."""
    last = net.sizes.shape[0] - 1
    n_out = np.uint64(net.sizes[last])
    top = np.uint64(base) + np.uint64(net.u_off[last])
    code = net.acts[last - 1]
    s = np.uint64(s)
    uses = _uses(net)
    # The article's (squared error, an element-wise output) without a nested helper (its arrays' reference counts).
    if loss.code == SQUARED and not _whole_layer(code, uses):
        E_total = 0.0
        for j in range(n_out):
            E_total += _squared_error(Y[s, j], out[top + j])
            delta[top + j] = _unit_delta(loss, Y[s, j], out[top + j],
                                         _slope(code, out[top + n_out + j], out[top + j], uses))  # fmt: skip
        return E_total
    return _loss_delta(out, top, out, top + n_out, delta, top, n_out, code, uses, Y, s, loss)


@helper
def _online_backward(net, out, delta, run, first_t):
    """The online step's backward pass by plain gradient descent (the article's): update every
    layer, top first (output deltas set); the first layer's weights in first_t, transposed, when
    it is not empty (as _forward reads them).

    The fused loop: one pass over each row both accumulates the layer below's
    dE/dout from the pre-update weight and updates that weight in place:
        dE/dout_i += w_ji * delta_j        (pre-update w_ji: "simultaneous")
        w_ji      -= eta * delta_j * out_i
    With ``layerwise`` the update comes first and the accumulation then reads
    the updated weights (the order behind the article's later figures).
    (One function with no helper calls: an inlined helper that takes arrays
    costs two atomic reference-count operations per array per call. The other
    update rules are in _online_backward_general: their loops beside these made
    these 12-25% slower on digits.)
    """
    params, sizes, w_off, b_off = net.params, net.sizes, net.w_off, net.b_off
    u_off, tied, acts, uses = net.u_off, net.tied, net.acts, _uses(net)
    nets_at = _nets_at(out, uses)
    lr = run.lr
    for l in range(sizes.shape[0] - 2, -1, -1):
        n_in = np.uint64(sizes[l])
        n_out = np.uint64(sizes[l + 1])
        below = np.uint64(u_off[l])
        above = np.uint64(u_off[l + 1])
        w = np.uint64(w_off[l])
        b = np.uint64(b_off[l])
        fuse = l > 0 and not run.layerwise
        transposed = l == 0 and first_t.shape[0] > 0
        if transposed:  # the same updates, a row of the transposed weights at a time
            for i in range(n_in):
                x = out[below + i]
                row = i * n_out
                for j in range(n_out):
                    first_t[row + j] = _descend(first_t[row + j], delta[above + j] * x, lr)
        for j in range(np.uint64(0) if transposed else n_out):  # the rows (none when transposed)
            d = delta[above + j]
            row = w + j * n_in
            # The first row starts the sums dE/dout_i (= rather than zeroing, then +=: the
            # zeroing loop becomes a memset call, 10-15% of the article's step).
            if fuse and j == 0:
                for i in range(n_in):
                    delta[below + i] = params[row + i] * d
                    params[row + i] = _descend(params[row + i], d * out[below + i], lr)
            elif fuse:
                for i in range(n_in):
                    delta[below + i] += params[row + i] * d
                    params[row + i] = _descend(params[row + i], d * out[below + i], lr)
            else:
                for i in range(n_in):
                    params[row + i] = _descend(params[row + i], d * out[below + i], lr)
        if run.train_biases:
            # dE/db_j = delta_j; a tied bias trains on the sum of its layer's deltas.
            g_tied = 0.0
            for j in range(n_out):
                g_tied += delta[above + j]
            for j in range(n_out):
                params[b + j] = _descend(params[b + j], g_tied if tied[l] else delta[above + j], lr)
        if l > 0:
            if not fuse:  # layerwise: dE/dout through the weights just updated
                for j in range(n_out):
                    d = delta[above + j]
                    row = w + j * n_in
                    if j == 0:
                        for i in range(n_in):
                            delta[below + i] = params[row + i] * d
                    else:
                        for i in range(n_in):
                            delta[below + i] += params[row + i] * d
            code = acts[l - 1]  # (a loop here, not _times_slope: a helper taking arrays costs reference counts)
            for i in range(below, below + n_in):
                delta[i] = delta[i] * _slope(code, out[i + nets_at], out[i], uses)


@called_helper
def _online_backward_general(net, state, out, delta, run, step_size, root_correction):
    """_online_backward for the other update rules (momentum, Adam, RPROP, weight decay): the same
    fused pass, momentum's and Adam's steps in loops of their own."""
    params, sizes, w_off, b_off = net.params, net.sizes, net.w_off, net.b_off
    u_off, tied, acts, uses = net.u_off, net.tied, net.acts, _uses(net)
    nets_at = _nets_at(out, uses)
    first, second = state
    decay = run.weight_decay
    rule = _rule(run)
    shrink, l2 = _decay_terms(run, params.dtype.type(1.0))  # (Adam's and AdamW's weight decay)
    for l in range(sizes.shape[0] - 2, -1, -1):
        n_in = np.uint64(sizes[l])
        n_out = np.uint64(sizes[l + 1])
        below = np.uint64(u_off[l])
        above = np.uint64(u_off[l + 1])
        w = np.uint64(w_off[l])
        b = np.uint64(b_off[l])
        fuse = l > 0 and not run.layerwise
        for i in range(n_in):
            delta[below + i] = 0.0
        # One loop per rule, the choice made outside it, so that each vectorises.
        for j in range(n_out):
            d = delta[above + j]
            row = w + j * n_in
            if rule == MOMENTUM and fuse:
                for i in range(n_in):
                    delta[below + i] += params[row + i] * d
                    params[row + i], first[row + i] = _momentum_step(
                        params[row + i], first[row + i], d * out[below + i], run.lr, run.momentum, run.nesterov
                    )
            elif rule == MOMENTUM:
                for i in range(n_in):
                    params[row + i], first[row + i] = _momentum_step(
                        params[row + i], first[row + i], d * out[below + i], run.lr, run.momentum, run.nesterov
                    )
            elif rule == ADAM_RULE:
                # Two passes: with the sums for the layer below in the same loop, LLVM finds too many
                # arrays that might overlap and does not vectorise (the sums run on the input layer
                # too: unread there).
                for i in range(n_in):
                    delta[below + i] += params[row + i] * d
                for i in range(n_in):
                    p = row + i
                    g = _with_decay(d * out[below + i], params[p], l2)
                    params[p], first[p], second[p] = _adam_step(
                        params[p] * shrink, first[p], second[p], g, step_size, root_correction, run.beta1, run.beta2,
                        run.eps,
                    )  # fmt: skip
            elif fuse:
                for i in range(n_in):
                    p = row + i
                    delta[below + i] += params[p] * d
                    g = d * out[below + i]
                    g = _with_decay(g, params[p], decay) if decay != 0.0 else g
                    params[p], first[p], second[p] = _optimizer_step(
                        run, params[p], first[p], second[p], g, step_size, root_correction
                    )
            else:
                for i in range(n_in):
                    p = row + i
                    g = d * out[below + i]
                    g = _with_decay(g, params[p], decay) if decay != 0.0 else g
                    params[p], first[p], second[p] = _optimizer_step(
                        run, params[p], first[p], second[p], g, step_size, root_correction
                    )
        if run.train_biases:
            # dE/db_j = delta_j; a tied bias trains on the sum of its layer's deltas.
            g_tied = 0.0
            for j in range(n_out):
                g_tied += delta[above + j]
            for j in range(n_out):
                g = g_tied if tied[l] else delta[above + j]
                p = b + j
                params[p], first[p], second[p] = _optimizer_step(
                    run, params[p], first[p], second[p], g, step_size, root_correction
                )
        if l > 0:
            if not fuse:  # layerwise: dE/dout through the weights just updated
                for j in range(n_out):
                    d = delta[above + j]
                    row = w + j * n_in
                    if j == 0:
                        for i in range(n_in):
                            delta[below + i] = params[row + i] * d
                    else:
                        for i in range(n_in):
                            delta[below + i] += params[row + i] * d
            code = acts[l - 1]  # (a loop here, not _times_slope: a helper taking arrays costs reference counts)
            for i in range(below, below + n_in):
                delta[i] = delta[i] * _slope(code, out[i + nets_at], out[i], uses)


@helper
def _accumulate_layer(grad, net, l, outs, deltas, n):
    """grad_l += dE/dW_l and dE/db_l of n samples (sample r's units start at r * stride)."""
    sizes, u_off = net.sizes, net.u_off
    stride = np.uint64(_stride(sizes, u_off))
    n_in = np.uint64(sizes[l])
    w = np.uint64(net.w_off[l])
    b = np.uint64(net.b_off[l])
    for r in range(np.uint64(n)):
        below = r * stride + np.uint64(u_off[l])
        above = r * stride + np.uint64(u_off[l + 1])
        for j in range(np.uint64(sizes[l + 1])):
            d = deltas[above + j]
            row = w + j * n_in
            for i in range(n_in):
                grad[row + i] += d * outs[below + i]
            grad[b + j] += d


@helper
def _hidden_deltas(net, l, outs, deltas, n):
    """delta_h = (sum_o delta_o * w_oh) * dout_h/dnet_h below weight matrix l, for n samples."""
    params, sizes, u_off = net.params, net.sizes, net.u_off
    stride = np.uint64(_stride(sizes, u_off))
    n_in = np.uint64(sizes[l])
    w = np.uint64(net.w_off[l])
    code = net.acts[l - 1]
    for r in range(np.uint64(n)):
        below = r * stride + np.uint64(u_off[l])
        above = r * stride + np.uint64(u_off[l + 1])
        for i in range(n_in):
            deltas[below + i] = 0.0
        for j in range(np.uint64(sizes[l + 1])):
            d = deltas[above + j]
            row = w + j * n_in
            for i in range(n_in):
                deltas[below + i] += params[row + i] * d
        _times_slope(code, deltas, outs, below, below + n_in, _nets_at(outs, _uses(net)), _uses(net))


@helper
def _weigh(E, deltas, first, n, w):
    """A sample's error and its output deltas deltas[first:first + n], counted w times (its sample weight)."""
    for j in range(first, first + n):
        deltas[j] *= w
    return E * w


def _update_rule(moments, net, state, grad, l, k, scale, run, step_size, root_correction):
    """The optimiser's step on weight matrix l and its biases with the batch-mean gradient grad / k
    (plus weight decay on the weights), times scale (1 without sample weights: x * 1 is x exactly):
    Adam's (moments True) or the other rules' (moments None). Chosen by the marker's type when compiling,
    so that a kernel holds one of them only."""


@overload(_update_rule, inline="always", jit_options=dict(error_model="numpy"))
def _update_rule_generated(moments, net, state, grad, l, k, scale, run, step_size, root_correction):
    if isinstance(moments, types.NoneType):

        def descent(moments, net, state, grad, l, k, scale, run, step_size, root_correction):
            _descent_weights(net, state, grad, l, k, scale, run, step_size, root_correction)
            _update_biases(net, state, grad, l, k, scale, run, step_size, root_correction)

        return descent

    def adam(moments, net, state, grad, l, k, scale, run, step_size, root_correction):
        _adam_weights(net, state, grad, l, k, scale, run, step_size, root_correction)
        _adam_biases(net, state, grad, l, k, scale, run, step_size, root_correction)

    return adam


@helper
def _adam_weights(net, state, grad, l, k, scale, run, step_size, root_correction):
    """_update_rule's step on weight matrix l under Adam or AdamW."""
    params, first, second = net.params, state.first, state.second
    w = np.uint64(net.w_off[l])
    b = np.uint64(net.b_off[l])
    shrink, l2 = _decay_terms(run, params.dtype.type(1.0))
    for p in range(w, b):
        g = _with_decay(grad[p] if k == 1 else grad[p] / k, params[p], l2) * scale
        params[p], first[p], second[p] = _adam_step(
            params[p] * shrink, first[p], second[p], g, step_size, root_correction, run.beta1, run.beta2, run.eps
        )


@helper
def _descent_weights(net, state, grad, l, k, scale, run, step_size, root_correction):
    """_update_rule's step on weight matrix l under the other rules (gradient descent, with momentum and weight
    decay, and RPROP): each rule's loop chosen outside it."""
    params, first, second = net.params, state.first, state.second
    lr, decay = run.lr, run.weight_decay
    w = np.uint64(net.w_off[l])
    b = np.uint64(net.b_off[l])
    # k == 1: grad already holds the mean (and x / 1 == x).
    if _is_plain(run):
        for p in range(w, b):
            params[p] = _descend(params[p], (grad[p] if k == 1 else grad[p] / k) * scale, lr)
    elif _rule(run) == MOMENTUM:
        for p in range(w, b):
            g = (grad[p] if k == 1 else grad[p] / k) * scale
            params[p], first[p] = _momentum_step(params[p], first[p], g, lr, run.momentum, run.nesterov)
    elif run.optimizer == SGD and run.momentum != 0.0 and decay != 0.0:
        # Momentum with weight decay, the general loop's steps with the rule chosen outside (it vectorises:
        # scikit-learn's sgd, 15% of a digits epoch in the general loop).
        for p in range(w, b):
            g = _with_decay(grad[p] if k == 1 else grad[p] / k, params[p], decay) * scale
            params[p], first[p] = _momentum_step(params[p], first[p], g, lr, run.momentum, run.nesterov)
    else:
        for p in range(w, b):
            g = grad[p] if k == 1 else grad[p] / k
            g = (_with_decay(g, params[p], decay) if decay != 0.0 else g) * scale
            params[p], first[p], second[p] = _optimizer_step(
                run, params[p], first[p], second[p], g, step_size, root_correction
            )


@helper
def _update_biases(net, state, grad, l, k, scale, run, step_size, root_correction):
    """_update_rule's step on the biases of layer l + 1 (none when run.train_biases is False)."""
    params, first, second = net.params, state.first, state.second
    if run.train_biases:
        plain = _is_plain(run)
        g_tied = _tied_gradient(net, grad, l, k)
        for p in range(np.uint64(net.b_off[l]), np.uint64(net.b_off[l] + net.sizes[l + 1])):
            g = _bias_gradient(net, grad, l, p, k, scale, g_tied)
            if plain:
                params[p] = _descend(params[p], g, run.lr)
            else:
                params[p], first[p], second[p] = _optimizer_step(
                    run, params[p], first[p], second[p], g, step_size, root_correction
                )


@helper
def _adam_biases(net, state, grad, l, k, scale, run, step_size, root_correction):
    """_update_biases under Adam or AdamW (the same steps: a bias takes no decay), for a kernel that knows
    its rule (no other rule's step is compiled)."""
    params, first, second = net.params, state.first, state.second
    if run.train_biases:
        g_tied = _tied_gradient(net, grad, l, k)
        for p in range(np.uint64(net.b_off[l]), np.uint64(net.b_off[l] + net.sizes[l + 1])):
            g = _bias_gradient(net, grad, l, p, k, scale, g_tied)
            params[p], first[p], second[p] = _adam_step(
                params[p], first[p], second[p], g, step_size, root_correction, run.beta1, run.beta2, run.eps
            )


@helper
def _tied_gradient(net, grad, l, k):
    """The gradient of layer l + 1's shared bias (net.tied[l]): the sum over its units of grad / k."""
    b = np.uint64(net.b_off[l])
    g_tied = 0.0
    for j in range(np.uint64(net.sizes[l + 1])):
        g_tied += grad[b + j] / k
    return g_tied


@helper
def _bias_gradient(net, grad, l, p, k, scale, g_tied):
    """The step's gradient for the bias at params[p] of layer l + 1: its batch mean, or the shared one."""
    return (g_tied if net.tied[l] else grad[p] / k) * scale


@helper
def _batch_step(net, state, data, run, row, start, stop, scratch, t, diag, moments):
    """One minibatch, samples orders[row, start:stop], update number t: mean gradient, then update (Adam's
    where moments is True, else the other rules': see _update_rule). Returns its summed error.

    Samples go through in blocks of ``run.block``, layer by layer from the top:
    gradients of layer l, then the deltas of the layer below. With
    ``layerwise`` each layer is updated before the layer below computes its
    deltas, so the block must hold the whole batch; otherwise every layer is
    updated once the whole batch has been seen. ``scratch`` is (grad, outs, deltas).

    With sample weights w (data.weights), a sample's error and deltas count w times and the batch's
    gradient, the L2 term included, is scaled by k / sum(w): the gradient of scikit-learn's weighted
    batch loss, (sum_s w_s dE_s/dW + alpha W) / sum(w), with weight_decay = alpha / k.
    """
    grad, outs, deltas = scratch
    sizes = net.sizes
    zero = np.zeros(1, net.params.dtype)[0]
    stride = _stride(sizes, net.u_off)
    n_layers = sizes.shape[0] - 1
    k = stop - start
    step_size, root_correction = _update_scalars(run, t)
    grad[:] = 0.0
    E_sum = 0.0
    weighted = data.weights.shape[0] > 0
    scale = net.params.dtype.type(1.0)  # (in the parameters' dtype: float32 steps stay float32)
    if weighted:  # (layerwise: the block holds the whole batch, so the sum is known before any update)
        total = 0.0
        for r in range(start, stop):
            total += data.weights[data.orders[row, r]]
        scale = net.params.dtype.type(k / total)
    top, n_out = net.u_off[n_layers], sizes[n_layers]
    for first in range(start, stop, run.block):
        n = min(run.block, stop - first)
        for r in range(n):
            s = data.orders[row, first + r]
            _forward(net, data.X, s, outs, r * stride, zero, None, None)  # (fast_math: online only)
            E = _output_delta(net, outs, deltas, r * stride, data.Y, s, _loss_of(run))
            if weighted:
                E = _weigh(E, deltas, r * stride + top, n_out, data.weights[s])
            E_sum += E
        if diag is not None:
            for l in range(n_layers):
                _diag_outputs(diag, net, l, outs, net.u_off[l + 1], stride, n)
        last_block = first + n == stop
        for l in range(n_layers - 1, -1, -1):
            _accumulate_layer(grad, net, l, outs, deltas, n)
            # Layerwise: layer l's update, then the deltas below through its new weights; else the deltas
            # below, then (once the last block is in the gradient) the update. Each call written once:
            # every call site of an update is compiled apart (two cost 40% of this path's compile time).
            for phase in range(2):
                if (phase == 0) == run.layerwise:
                    if last_block:
                        _update_rule(moments, net, state, grad, l, k, scale, run, step_size, root_correction)
                elif l > 0:
                    _hidden_deltas(net, l, outs, deltas, n)
    if diag is not None:  # (the updates read grad and leave it)
        _diag_batch_gradient(diag, net, grad, np.float64(scale) / k)
    return E_sum


@helper
def _layer_weights(net, first_t, l):
    """Where weight matrix l lives during a call: (buffer, offset); the first one in first_t when it is held
    transposed there (its entries in another order, which a norm does not mind)."""
    if l == 0 and first_t.shape[0] > 0:
        return first_t, np.uint64(0)
    return net.params, np.uint64(net.w_off[l])


@helper
def _diag_epoch_start(diag, net, first_t):
    """An epoch begins: its weights kept (for the update ratio), its sums at 0, no unit alive yet."""
    w_off, sizes = net.w_off, net.sizes
    for l in range(sizes.shape[0] - 1):
        weights, at = _layer_weights(net, first_t, l)
        w = np.uint64(w_off[l])
        for p in range(np.uint64(sizes[l] * sizes[l + 1])):
            diag.start[w + p] = weights[at + p]
    diag.alive[:] = 0
    diag.gradient_sq[:] = 0.0
    diag.saturated[:] = 0.0


@helper
def _diag_epoch_end(diag, net, first_t, e, updates, samples):
    """Epoch e (of `updates` updates over `samples` samples) ends: each layer's statistics into row e."""
    w_off, sizes, u_off = net.w_off, net.sizes, net.u_off
    for l in range(sizes.shape[0] - 1):
        weights, at = _layer_weights(net, first_t, l)
        w = np.uint64(w_off[l])
        change = 0.0
        before = 0.0
        for p in range(np.uint64(sizes[l] * sizes[l + 1])):
            start = np.float64(diag.start[w + p])
            d = np.float64(weights[at + p]) - start
            change += d * d
            before += start * start
        dead = 0.0
        for j in range(u_off[l + 1], u_off[l + 1] + sizes[l + 1]):
            dead += np.float64(diag.alive[j] == 0)
        units = np.float64(sizes[l + 1])
        below = diag.saturated_below[l]
        diag.statistics[e, 0, l] = _gradient_norm(diag.gradient_sq[l], updates)
        diag.statistics[e, 1, l] = _update_ratio(change, before)
        diag.statistics[e, 2, l] = _fraction(diag.saturated[l], samples * units, below == below)
        diag.statistics[e, 3, l] = _fraction(dead, units, diag.dies[l] != 0)


@primitive
def _counts_flat(code, out, below, uses):
    """1 where an output is on a flat spot of its activation (its slope below `below`; NaN: never), else 0."""
    return np.int64(_slope(code, out, out, uses) < below)  # (the activations with flat spots: slopes from out)


@helper
def _diag_outputs(diag, net, l, values, first, step, rows):
    """The outputs of layer l + 1 in `rows` forward passes, pass r's at values[first + r * step:][:width]:
    those on a flat spot of their activation, and the units they show alive (output > 0, which for the
    activations that die is net input > 0: catalogue.Activation.dies). One call per layer and batch: a
    helper taking arrays costs reference counts per call. (Counts and flags without branches: they vectorise.)"""
    n = np.uint64(net.sizes[l + 1])
    below = diag.saturated_below[l]
    code = net.acts[l]
    uses = _uses(net)
    unit = np.uint64(net.u_off[l + 1])
    count = 0
    for r in range(np.uint64(rows)):
        at = np.uint64(first) + r * np.uint64(step)
        if below == below:  # (NaN: not counted)
            for j in range(n):
                count += _counts_flat(code, values[at + j], below, uses)
        if diag.dies[l]:  # (the others' dead fraction is not counted)
            for j in range(n):
                diag.alive[unit + j] |= np.uint8(values[at + j] > 0.0)
    diag.saturated[l] += count


@helper
def _squares(values, lo, hi, factor):
    """sum (factor values[p])^2 for p in [lo, hi), in float64, in four partial sums (a chain of dependent
    additions would cost a diagnosed minibatch step more than BLAS's gradient itself)."""
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    p = np.uint64(lo)
    hi = np.uint64(hi)
    while hi - p >= np.uint64(4):
        g0 = np.float64(values[p]) * factor
        g1 = np.float64(values[p + np.uint64(1)]) * factor
        g2 = np.float64(values[p + np.uint64(2)]) * factor
        g3 = np.float64(values[p + np.uint64(3)]) * factor
        s0 += g0 * g0
        s1 += g1 * g1
        s2 += g2 * g2
        s3 += g3 * g3
        p += np.uint64(4)
    while p < hi:
        g = np.float64(values[p]) * factor
        s0 += g * g
        p += np.uint64(1)
    return (s0 + s1) + (s2 + s3)


@helper
def _diag_batch_gradient(diag, net, grad, factor):
    """A minibatch's gradients: G_l = grad's weights of layer l times factor (what makes them the batch mean)."""
    for l in range(net.sizes.shape[0] - 1):
        diag.gradient_sq[l] += _squares(grad, net.w_off[l], net.b_off[l], factor)


@kernel
def train_epochs(net, state, data, run, errors, plain, general, moments, descent, diag):
    """Train for run.n_epochs epochs; errors[e] = epoch e's mean error over its samples.

    Epoch e visits the samples data.orders[e], or orders[0] in every epoch when
    orders has one row (an unshuffled run). Batches of one sample take the fused
    online path; larger batches the mean-gradient path. Returns the number of
    epochs run: it stops after the first epoch whose mean error is not finite
    (returning its index: errors[returned value] is that error), or is at most
    run.target (returning the epochs done, that one included).

    The markers say which path the call takes, exactly one True and the others None
    (_dispatch.loops_markers): online steps under ``plain`` gradient descent (the article's) or the
    ``general`` rules; minibatches under Adam's update (``moments``) or the other rules' (``descent``).
    Each set of markers is a specialisation of its own, and Numba prunes every branch whose marker
    is None before typing it, so a call compiles (and loads) only its own path. (Numba prunes on a
    function's own None arguments, not on a True one: hence one marker per path, tested here; inside
    _batch_step, moments chooses the update by its type.)
    ``diag``: a Diag to record the diagnostics in (statistics[e] for epoch e), or None, which compiles none of it.
    """
    params, sizes, u_off = net.params, net.sizes, net.u_off
    _check_codes(net.acts, _uses(net), _loss_of(run), run.optimizer)
    online = plain is not None or general is not None  # (spelt out below where Numba must prune on it)
    if (plain is not None) + (general is not None) + (moments is not None) + (descent is not None) != 1:
        raise ValueError("train_epochs takes one path: online (plain or general) or minibatch (moments or descent)")
    if plain is not None and not _is_plain(run):
        raise ValueError("the plain online path takes plain gradient descent only (no momentum, no weight decay)")
    if (moments is not None or descent is not None) and not _names_rule(run, moments):
        raise ValueError("train_epochs: the markers moments/descent do not name the run's update rule")
    if online and run.batch_size != 1:
        raise ValueError("the online path takes batch_size=1 only")
    if online and data.weights.shape[0] > 0:
        raise ValueError("the online path takes no sample weights (batches of one take the minibatch path)")
    orders = data.orders
    stride = _stride(sizes, u_off)
    n_samples = orders.shape[1]
    zero = np.zeros(1, params.dtype)[0]
    uses = _uses(net)
    out = _unit_buffer(stride, params.dtype, uses)
    delta = _unit_buffer(stride, params.dtype, uses)
    batch_scratch = 0 if online else 1
    scratch = (
        np.empty(batch_scratch * params.shape[0], params.dtype),
        _unit_buffer(batch_scratch * run.block * stride, params.dtype, uses),
        _unit_buffer(batch_scratch * run.block * stride, params.dtype, uses),
    )
    # Plain online steps keep the first weight matrix transposed for the call (its forward sums
    # then vectorise across units); it goes back into params at the end.
    transposed = 0 if plain is None else 1
    first_t = np.empty(transposed * sizes[0] * sizes[1], params.dtype)
    _swap_first_layout(net, first_t, True)
    t = run.step
    done = run.n_epochs
    n_layers = sizes.shape[0] - 1
    inputs_sq = np.zeros(0)  # (diagnose, online: each sample's ||x||^2, the first layer's ||out_0||^2)
    if diag is not None and (plain is not None or general is not None):
        inputs_sq = np.zeros(data.X.shape[0])
        for s in range(data.X.shape[0]):
            for i in range(sizes[0]):
                inputs_sq[s] += np.float64(data.X[s, i]) * np.float64(data.X[s, i])
    for e in range(run.n_epochs):
        row = min(e, orders.shape[0] - 1)
        E_epoch = 0.0
        t_start = t
        if diag is not None:
            _diag_epoch_start(diag, net, first_t)
        if plain is not None or general is not None:
            step_size, root_correction = run.lr, 1.0
            for r in range(n_samples):
                s = orders[row, r]
                t += 1
                step_size, root_correction = _update_scalars(run, t)
                _forward(net, data.X, s, out, 0, zero, first_t, run.fast_math)
                E_epoch += _output_delta(net, out, delta, 0, data.Y, s, _loss_of(run))
                if plain is not None:
                    _online_backward(net, out, delta, run, first_t)
                if general is not None:
                    _online_backward_general(net, state, out, delta, run, step_size, root_correction)
                if diag is not None:  # (the backward pass leaves out and every layer's deltas in place)
                    # Written out here, not in helpers: each call of one taking arrays costs reference counts,
                    # which per online step cost more than these loops (50% of a digits epoch).
                    for l in range(n_layers):
                        # G_l = delta_(l+1) out_l^T: ||G_l||^2 = ||out_l||^2 ||delta_(l+1)||^2, the inputs' known
                        outs_sq = inputs_sq[s]
                        if l > 0:
                            outs_sq = 0.0
                            for i in range(u_off[l], u_off[l] + sizes[l]):
                                outs_sq += np.float64(out[i]) * np.float64(out[i])
                        deltas_sq = 0.0
                        for j in range(u_off[l + 1], u_off[l + 1] + sizes[l + 1]):
                            deltas_sq += np.float64(delta[j]) * np.float64(delta[j])
                        diag.gradient_sq[l] += outs_sq * deltas_sq
                        below = diag.saturated_below[l]
                        count = 0
                        for j in range(u_off[l + 1], u_off[l + 1] + sizes[l + 1]):
                            count += _counts_flat(net.acts[l], out[j], below, _uses(net))
                        diag.saturated[l] += count
                        if diag.dies[l]:
                            for j in range(u_off[l + 1], u_off[l + 1] + sizes[l + 1]):
                                diag.alive[j] |= np.uint8(out[j] > 0.0)
        if moments is not None or descent is not None:
            for start in range(0, n_samples, run.batch_size):
                t += 1
                stop = min(start + run.batch_size, n_samples)
                E_epoch += _batch_step(net, state, data, run, row, start, stop, scratch, t, diag, moments)
        if diag is not None:
            _diag_epoch_end(diag, net, first_t, e, t - t_start, n_samples)
        errors[e] = E_epoch / n_samples
        if not math.isfinite(errors[e]):
            done = e
            break
        if errors[e] <= run.target:
            done = e + 1
            break
    _swap_first_layout(net, first_t, False)
    return done


@helper
def _lanes_bias_step(params, velocity, p, k0, n, gradients, lrs, momentum, nesterov):
    """Bias p of networks k0..k0+n-1 (lanes) one step down its gradients[k], taken as float64 (as
    _online_backward's bias gradient, a float64 whichever array it came from)."""
    for k in range(n):
        g = np.float64(gradients[k])
        if momentum == 0.0:
            params[p, k0 + k] = _descend(params[p, k0 + k], g, lrs[k0 + k])
        else:
            params[p, k0 + k], velocity[p, k0 + k] = _momentum_step(
                params[p, k0 + k], velocity[p, k0 + k], g, lrs[k0 + k], momentum, nesterov
            )


@helper
def _diag_lanes_epoch_start(diag, net, k0, n, snapshot):
    """_diag_epoch_start for networks k0..k0+n-1 side by side (diag.start[p, k], diag.alive[unit, k], ...);
    the weights are kept only with snapshot (a call's first epoch: each epoch's end keeps them for the next)."""
    n_layers = np.uint64(net.sizes.shape[0] - 1)
    if snapshot:
        for p in range(np.uint64(net.w_off[0]), np.uint64(net.b_off[n_layers - np.uint64(1)])):
            for k in range(n):
                diag.start[p, k0 + k] = net.params[p, k0 + k]
    for l in range(n_layers):
        for k in range(n):
            diag.gradient_sq[l, k0 + k] = 0.0
        for k in range(n):
            diag.saturated[l, k0 + k] = 0.0
        if diag.dies[l]:
            for u in range(
                np.uint64(net.u_off[l + np.uint64(1)]),
                np.uint64(net.u_off[l + np.uint64(1)] + net.sizes[l + np.uint64(1)]),
            ):
                for k in range(n):
                    diag.alive[u, k0 + k] = 0


@helper
def _diag_lanes_epoch_end(diag, net, e, k0, n, sums, updates, samples):
    """_diag_epoch_end for networks side by side (statistics[e, statistic, l, k]), each statistic's loop of its
    own (they vectorise); the weights kept as the next epoch's start."""
    sizes, u_off = net.sizes, net.u_off
    for l in range(np.uint64(sizes.shape[0] - 1)):
        sums[:] = 0.0
        for p in range(np.uint64(net.w_off[l]), np.uint64(net.b_off[l])):
            for k in range(n):
                start = np.float64(diag.start[p, k0 + k])
                d = np.float64(net.params[p, k0 + k]) - start
                sums[0, k] += d * d
                sums[1, k] += start * start
                diag.start[p, k0 + k] = net.params[p, k0 + k]
        if diag.dies[l]:
            for u in range(
                np.uint64(u_off[l + np.uint64(1)]), np.uint64(u_off[l + np.uint64(1)] + sizes[l + np.uint64(1)])
            ):
                for k in range(n):
                    sums[2, k] += np.float64(diag.alive[u, k0 + k] == 0)
        units = np.float64(sizes[l + np.uint64(1)])
        below = diag.saturated_below[l]
        dies = diag.dies[l] != 0
        for k in range(n):
            diag.statistics[e, 0, l, k0 + k] = _gradient_norm(diag.gradient_sq[l, k0 + k], updates)
        for k in range(n):
            diag.statistics[e, 1, l, k0 + k] = _update_ratio(sums[0, k], sums[1, k])
        for k in range(n):
            diag.statistics[e, 2, l, k0 + k] = _fraction(diag.saturated[l, k0 + k], samples * units, below == below)
        for k in range(n):
            diag.statistics[e, 3, l, k0 + k] = _fraction(sums[2, k], units, dies)


@helper
def _lanes_last_product(code, fast, uses, params, out, acc, w_last, bias, x_last, unit, k0, n):
    """The lanes' forward step for one unit: the last product of its sums (acc), its bias and its activation,
    for every network; a loop per activation and per fast_math, the choice made outside it (it vectorises)."""
    for mark in literal_unroll(_code_marks(uses)):
        if code == len(mark) and fast:
            for k in range(n):
                z = acc[k] + params[w_last, k0 + k] * out[x_last, k]
                out[unit, k] = _activate(mark, z + params[bias, k0 + k], True, uses)
        elif code == len(mark):
            for k in range(n):
                z = acc[k] + params[w_last, k0 + k] * out[x_last, k]
                out[unit, k] = _activate(mark, z + params[bias, k0 + k], None, uses)


@helper
def _lanes_last_row(code, uses, params, delta, out, lrs, p, unit, below_unit, first, k0, n):
    """The lanes' fused backward step for the weight p of a matrix's last row: it finishes the sums dE/dout of
    the unit below into its delta (times its slope) and updates the weight; a loop per activation."""
    for mark in literal_unroll(_code_marks(uses)):
        if code == len(mark):
            for k in range(n):
                d = delta[unit, k]
                o = out[below_unit, k]
                w_d = params[p, k0 + k] * d
                below_d = w_d if first else delta[below_unit, k] + w_d
                delta[below_unit, k] = below_d * _slope(mark, o, o, uses)
                params[p, k0 + k] = _descend(params[p, k0 + k], d * o, lrs[k0 + k])


@helper
def _lanes_flat_spots(code, uses, delta, out, sums, unit0, n_units, n, flat_below):
    """The diagnostics' per-network sums of a layer: the deltas' squares (sums[1]) and the units on a flat spot
    (slope below flat_below, sums[2]); a loop per activation (it vectorises)."""
    for mark in literal_unroll(_code_marks(uses)):
        if code == len(mark):
            for j in range(unit0, unit0 + n_units):
                for k in range(n):
                    sums[1, k] += np.float64(delta[j, k]) * np.float64(delta[j, k])
                    sums[2, k] += np.float64(_slope(mark, out[j, k], out[j, k], uses) < flat_below)


@kernel
def train_lane_block(net, state, data, run, lrs, errors, final, k0, k1, diag):
    """Online training of networks k0..k1-1 of one architecture, stored lane by lane.

    params[p, k] is parameter p of network k (likewise the state). Every step is
    the one of train_epochs (forward, output deltas, the fused backward pass and
    update), written with an innermost loop over networks, which vectorises: so
    each network's result is bit-identical to training it alone; errors[e, k]
    receives network k's mean error in epoch e. Returns the number of epochs
    after which every network's mean error was finite. If
    ``final`` has entries and every epoch was finite, one more forward pass over
    the samples in order puts each network's summed E_total in final[k], the sum
    evaluate() would return (the final error without a call per network). The lanes take
    plain gradient descent and momentum (other optimisers train one network per thread).
    ``diag``: a Diag whose per-layer and per-unit arrays have the networks last, or None.
    """
    params, sizes, w_off, b_off = net.params, net.sizes, net.w_off, net.b_off
    u_off, tied, acts, uses = net.u_off, net.tied, net.acts, _uses(net)
    _check_codes(acts, uses, _loss_of(run), run.optimizer)
    _check_keeps_no_nets(acts, uses)
    velocity = state.first
    loss = _loss_of(run)
    X, Y, orders = data.X, data.Y, data.orders
    n_epochs, momentum, train_biases, layerwise = run.n_epochs, run.momentum, run.train_biases, run.layerwise
    nesterov = run.nesterov
    k0 = np.uint64(k0)
    n = np.uint64(k1) - k0
    n_layers = sizes.shape[0] - 1
    stride = np.uint64(_stride(sizes, u_off))
    n_samples = orders.shape[1]
    out = np.empty((stride, n), params.dtype)  # the output layer's net inputs after its outputs
    delta = np.empty((stride, n), params.dtype)
    acc = np.empty(n, params.dtype)
    E_sample = np.empty(n)
    E_epoch = np.empty(n)
    g_tied = np.empty(n)
    sums = np.empty((3, n))  # (the diagnostics' per-network sums)
    for e in range(n_epochs + (1 if final.shape[0] > 0 else 0)):
        evaluating = e == n_epochs  # the extra pass for the final error: forward only
        fast = run.fast_math and not evaluating  # (evaluation keeps the default e^x, as evaluate does)
        row = min(e, orders.shape[0] - 1)
        E_epoch[:] = 0.0
        if diag is not None and not evaluating:
            _diag_lanes_epoch_start(diag, net, k0, n, e == 0)
        for r in range(n_samples):
            s = np.uint64(r) if evaluating else np.uint64(orders[row, r])
            for i in range(np.uint64(sizes[0])):
                x = X[s, i]
                for k in range(n):
                    out[i, k] = x
            # The forward pass: net_j = sum_i w_ji out_i (in order) + b_j, for every network.
            top = np.uint64(u_off[n_layers])
            n_out = np.uint64(sizes[n_layers])
            nets = top + n_out
            for l in range(n_layers):
                n_in = np.uint64(sizes[l])
                below = np.uint64(u_off[l])
                above = np.uint64(u_off[l + 1])
                last = n_in - np.uint64(1)
                code = acts[l]
                # The output layer's net inputs are kept for cross-entropy and softmax (which comes after).
                keep_nets = l == n_layers - 1 and (loss.code == CROSS_ENTROPY or _whole_layer(code, uses))
                for j in range(np.uint64(sizes[l + 1])):
                    weights = np.uint64(w_off[l]) + j * n_in
                    bias = np.uint64(b_off[l]) + j
                    # The first product starts the sum (0 + w x is w x, up to the sign of a zero,
                    # which no activation tells apart) and the last is added with the bias and the
                    # activation: a pass over the networks fewer each, in the same order.
                    if n_in > 1:
                        for k in range(n):
                            acc[k] = params[weights, k0 + k] * out[below, k]
                    else:
                        acc[:] = 0.0
                    for i in range(np.uint64(1), last):
                        for k in range(n):
                            acc[k] += params[weights + i, k0 + k] * out[below + i, k]
                    # (The activation chosen outside the loop, which then vectorises; a second store
                    # in the loop would stop that, so the net inputs are kept only where needed.)
                    if keep_nets:
                        for k in range(n):
                            z = acc[k] + params[weights + last, k0 + k] * out[below + last, k] + params[bias, k0 + k]
                            out[nets + j, k] = z
                            out[above + j, k] = _activate(code, z, fast, uses)
                    else:
                        _lanes_last_product(code, fast, uses, params, out, acc, weights + last, bias,
                                            below + last, above + j, k0, n)  # fmt: skip
            # Output deltas and errors, as _output_delta.
            code = acts[n_layers - 1]
            whole = _whole_layer(code, uses)
            if whole:  # softmax: out = e^(net - max) / sum: acc holds the max, g_tied the sum
                for k in range(n):
                    acc[k] = out[nets, k]
                for j in range(np.uint64(1), n_out):
                    for k in range(n):
                        acc[k] = max(acc[k], out[nets + j, k])
                g_tied[:] = 0.0
                for j in range(n_out):
                    for k in range(n):
                        out[top + j, k] = _exp_nonpositive(out[nets + j, k] - acc[k])
                        g_tied[k] += out[top + j, k]
                for j in range(n_out):
                    for k in range(n):
                        out[top + j, k] = out[top + j, k] / g_tied[k]
            if loss.code == SQUARED and not whole:  # the article's (the choice outside the loop)
                for j in range(n_out):
                    t = Y[s, j]
                    for k in range(n):
                        o = out[top + j, k]
                        E_j = _squared_error(t, o)
                        E_sample[k] = 0.0 + E_j if j == 0 else E_sample[k] + E_j
                        delta[top + j, k] = _unit_delta(loss, t, o, _slope(code, o, o, uses))
            elif not whole:
                for j in range(n_out):
                    t = Y[s, j]
                    for k in range(n):
                        o = out[top + j, k]
                        E_j = _unit_error(loss, t, o, out[nets + j, k])
                        E_sample[k] = 0.0 + E_j if j == 0 else E_sample[k] + E_j
                        delta[top + j, k] = _unit_delta(loss, t, o, _slope(code, o, o, uses))
            elif loss.code == CROSS_ENTROPY:
                targets = 0.0
                for j in range(n_out):
                    targets += Y[s, j]
                for k in range(n):
                    acc[k] = acc[k] + math.log(g_tied[k])  # log sum_j e^net_j
                for j in range(n_out):
                    t = Y[s, j]
                    for k in range(n):
                        E_j = t * (out[nets + j, k] - acc[k])
                        E_sample[k] = 0.0 - E_j if j == 0 else E_sample[k] - E_j
                        delta[top + j, k] = out[top + j, k] * targets - t
            else:
                g_tied[:] = 0.0  # sum_k dE/dout_k out_k
                for j in range(n_out):
                    for k in range(n):
                        g_tied[k] += _unit_gradient(loss, Y[s, j], out[top + j, k]) * out[top + j, k]
                for j in range(n_out):
                    t = Y[s, j]
                    for k in range(n):
                        o = out[top + j, k]
                        E_j = _unit_error(loss, t, o, out[nets + j, k])
                        E_sample[k] = 0.0 + E_j if j == 0 else E_sample[k] + E_j
                        delta[top + j, k] = o * (_unit_gradient(loss, t, o) - g_tied[k])
            for k in range(n):
                E_epoch[k] += E_sample[k]
            if evaluating:
                continue
            # The backward pass and update, as in _online_backward.
            for l in range(n_layers - 1, -1, -1):
                n_in = np.uint64(sizes[l])
                n_out = np.uint64(sizes[l + 1])
                below = np.uint64(u_off[l])
                above = np.uint64(u_off[l + 1])
                w = np.uint64(w_off[l])
                b = np.uint64(b_off[l])
                fuse = l > 0 and not layerwise
                code = acts[max(l - 1, 0)]  # the activation of the layer below (l > 0)
                if fuse and momentum != 0.0:
                    for i in range(n_in):
                        for k in range(n):
                            delta[below + i, k] = 0.0
                for j in range(n_out):
                    row_w = w + j * n_in
                    for i in range(n_in):
                        p = row_w + i
                        if momentum == 0.0:
                            if fuse:
                                # The first row starts the sums dE/dout_i, the last finishes them
                                # into the deltas below (times dout_i/dnet_i).
                                first = j == 0
                                if j < n_out - np.uint64(1):
                                    for k in range(n):
                                        d = delta[above + j, k]
                                        o = out[below + i, k]
                                        w_d = params[p, k0 + k] * d
                                        delta[below + i, k] = w_d if first else delta[below + i, k] + w_d
                                        params[p, k0 + k] = _descend(params[p, k0 + k], d * o, lrs[k0 + k])
                                if j == n_out - np.uint64(1):
                                    _lanes_last_row(code, uses, params, delta, out, lrs, p, above + j, below + i,
                                                    first, k0, n)  # fmt: skip
                            else:
                                for k in range(n):
                                    d = delta[above + j, k]
                                    params[p, k0 + k] = _descend(params[p, k0 + k], d * out[below + i, k], lrs[k0 + k])
                        else:
                            for k in range(n):
                                d = delta[above + j, k]
                                if fuse:
                                    delta[below + i, k] += params[p, k0 + k] * d
                                params[p, k0 + k], velocity[p, k0 + k] = _momentum_step(
                                    params[p, k0 + k], velocity[p, k0 + k], d * out[below + i, k], lrs[k0 + k],
                                    momentum, nesterov,
                                )  # fmt: skip
                if train_biases and tied[l]:
                    g_tied[:] = 0.0
                    for j in range(n_out):
                        for k in range(n):
                            g_tied[k] += delta[above + j, k]
                if train_biases:
                    for j in range(n_out):
                        # The gradients' array chosen outside the loop over networks: chosen per
                        # element, the two arrays compiled to a gather (13% of the XOR ensemble's time).
                        if tied[l]:
                            _lanes_bias_step(params, velocity, b + j, k0, n, g_tied, lrs, momentum, nesterov)
                        else:
                            _lanes_bias_step(params, velocity, b + j, k0, n, delta[above + j], lrs, momentum,
                                             nesterov)  # fmt: skip
                if l > 0:
                    if not fuse:
                        for j in range(n_out):
                            row_w = w + j * n_in
                            for i in range(n_in):
                                for k in range(n):
                                    if j == 0:
                                        delta[below + i, k] = params[row_w + i, k0 + k] * delta[above + j, k]
                                    else:
                                        delta[below + i, k] += params[row_w + i, k0 + k] * delta[above + j, k]
                    if not (fuse and momentum == 0.0):  # (there the last row did it)
                        for i in range(n_in):
                            _times_slope(code, delta[below + i], out[below + i], 0, n, np.uint64(0), uses)
            if diag is not None:  # (as in train_epochs: out and every layer's deltas are still in place)
                # The step's statistics written out here, as in train_epochs (a helper called per step, when
                # helpers were plain calls, cost its arrays' reference counts: a fifth of the XOR ensemble's
                # time); per layer, one pass over its units for the deltas' squares and the flat spots together.
                inputs_sq = 0.0  # (the inputs are every network's: their squares once)
                for i in range(np.uint64(sizes[0])):
                    inputs_sq += np.float64(out[i, 0]) * np.float64(out[i, 0])
                for layer in range(np.uint64(sizes.shape[0] - 1)):
                    unit0 = np.uint64(u_off[layer + np.uint64(1)])
                    n_units = np.uint64(sizes[layer + np.uint64(1)])
                    for k in range(n):
                        sums[1, k] = 0.0
                        sums[2, k] = 0.0
                    flat_below = diag.saturated_below[layer]
                    code = acts[layer]
                    if flat_below == flat_below:
                        _lanes_flat_spots(code, uses, delta, out, sums, unit0, n_units, n, flat_below)
                    else:
                        for j in range(unit0, unit0 + n_units):
                            for k in range(n):
                                sums[1, k] += np.float64(delta[j, k]) * np.float64(delta[j, k])
                    if layer == 0:
                        for k in range(n):
                            sums[0, k] = inputs_sq
                    else:
                        for k in range(n):
                            sums[0, k] = 0.0
                        for i in range(np.uint64(u_off[layer]), np.uint64(u_off[layer] + sizes[layer])):
                            for k in range(n):
                                sums[0, k] += np.float64(out[i, k]) * np.float64(out[i, k])
                    for k in range(n):
                        diag.gradient_sq[layer, k0 + k] += sums[0, k] * sums[1, k]
                        diag.saturated[layer, k0 + k] += sums[2, k]
                    if diag.dies[layer]:  # (the others' dead fraction is not counted)
                        for j in range(unit0, unit0 + n_units):
                            for k in range(n):
                                diag.alive[j, k0 + k] |= np.uint8(out[j, k] > 0.0)
        if diag is not None and not evaluating:
            _diag_lanes_epoch_end(diag, net, e, k0, n, sums, n_samples, n_samples)
        if evaluating:
            for k in range(n):
                final[k0 + k] = E_epoch[k]
            break
        # Two loops that vectorise (with the test in it, the division ran one lane at a time).
        for k in range(n):
            errors[e, k0 + k] = E_epoch[k] / n_samples
        not_finite = 0
        for k in range(n):
            not_finite += 0 if math.isfinite(E_epoch[k]) else 1
        if not_finite:
            return e
    return n_epochs


@helper
def _check_blas_markers(run, output, uses, moments, descent, softmax_ce, per_unit):
    """Refuse train_epochs_blas's markers when they do not name the run's rule and loss (whose code would
    then be missing): the kernel never skips an update or a loss silently."""
    if not _names_rule(run, moments) or (descent is not None) == (moments is not None):
        raise ValueError("train_epochs_blas: the markers moments/descent do not name the run's update rule")
    if run.layerwise and descent is None:
        raise ValueError("train_epochs_blas: a layerwise update needs the descent marker")
    ce = _whole_layer(output, uses) and _loss_of(run).code == CROSS_ENTROPY
    if (softmax_ce is not None) != ce or (per_unit is not None) == (softmax_ce is not None):
        raise ValueError("train_epochs_blas: the markers softmax_ce/per_unit do not name the run's loss")


@helper
def _batch_row_loss(out, nets, log_sums, deltas, r, n_out, code, uses, Y, s, loss):
    """Row r of a batch through BLAS against target Y[s]: its output deltas and error, a softmax's
    cross-entropy from the log-sum _bias_and_activate kept (the same bits as computing it again).
    (train_epochs_blas writes its two branches out under its markers, where Numba can prune them.)"""
    o = r * n_out
    if _whole_layer(code, uses) and loss.code == CROSS_ENTROPY:
        return _softmax_cross_entropy(out, o, nets, o, deltas, o, n_out, Y, s, log_sums[r])
    return _loss_delta(out, o, nets, o, deltas, o, n_out, code, uses, Y, s, loss)


@helper
def _product(A, B):
    """A @ B in a new array, as np.dot(A, B) computes it inside Numba (an empty array, then np.dot with it as
    out: the same BLAS call), without compiling np.dot's two-argument wrapper for every pair of layouts."""
    out = np.empty((A.shape[0], B.shape[1]), A.dtype)
    np.dot(A, B, out)
    return out


@helper
def _transpose_narrow(net, transposed):
    """Each weight matrix of at most NARROW rows, transposed into transposed[w_off[l]:b_off[l]] as (n_in, n_out)."""
    params, sizes, w_off = net.params, net.sizes, net.w_off
    for l in range(sizes.shape[0] - 1):
        n_in = np.uint64(sizes[l])
        n_out = np.uint64(sizes[l + 1])
        if sizes[l + 1] <= NARROW:
            w = np.uint64(w_off[l])
            for j in range(n_out):
                for i in range(n_in):
                    transposed[w + i * n_out + j] = params[w + j * n_in + i]


@helper
def _add_rows(total, D):
    """total[j] += D[r, j] for each row r in order (each sum in the oracle's order; the adds of one row
    vectorise), with flat unsigned indices."""
    n = np.uint64(total.shape[0])
    flat = D.reshape(D.size)
    for r in range(np.uint64(D.shape[0])):
        row = r * n
        for j in range(n):
            total[j] += flat[row + j]


@helper
def _bias_and_activate(Z, params, b, code, uses, nets, loss, log_sums):
    """Z[r, j] = f(Z[r, j] + params[b + j]) for a batch's products Z (one row per sample); the net inputs
    also into nets, when it has room and the loss or softmax needs them, and for a softmax with the
    cross-entropy each row's log sum_j e^net_j into log_sums (the loss then need not compute it again)."""
    k, n = Z.shape
    flat = Z.reshape(k * n)
    # Flat unsigned indices: with Z[r, j] the vectoriser could not rule out negative (wrapping)
    # indices and read params[b + j] through gather instructions.
    n_u = np.uint64(n)
    b = np.uint64(b)
    for r in range(np.uint64(k)):
        row = r * n_u
        for j in range(n_u):
            flat[row + j] = flat[row + j] + params[b + j]
    whole = _whole_layer(code, uses)
    if nets.shape[0] > 0 and (loss.code == CROSS_ENTROPY or whole):
        for p in range(np.uint64(k * n)):
            nets[p] = flat[p]
    if whole:  # softmax, row by row (and the log-sums the cross-entropy takes)
        for r in range(np.uint64(k)):
            top, total = _softmax(flat, r * n_u, n_u)
            if loss.code == CROSS_ENTROPY:
                log_sums[r] = top + math.log(total)
    else:
        _activate_span(code, flat, 0, k * n, None, uses)


@kernel
def train_epochs_blas(net, state, data, run, errors, moments, descent, softmax_ce, per_unit, diag):
    """train_epochs for minibatches of wide layers: each layer's products as BLAS matrix products.

    Per batch of k samples: A_{l+1} = f(A_l W_l^T + b_l); output deltas; then from
    the top, grad_W = D^T A_l and D_below = (D W_l) * f'(A), with the same update
    rules and order as train_epochs. The sums inside the products run in BLAS's
    order rather than the oracle's, so results agree with the oracle to rounding
    (about 1e-15 relative per step), not bit for bit. np.dot inside Numba needs
    SciPy's BLAS: Python picks this kernel only when SciPy is importable.
    (run.block is unused.) ``diag``: as train_epochs's.

    The markers, each True or None (_dispatch.blas_markers), say which code the call runs: Adam's update
    (moments) or the other rules' (descent); a softmax output's cross-entropy (softmax_ce) or the losses
    unit by unit (per_unit). Numba drops the code of a None marker before typing it, so a call compiles
    only its own rule and loss (a quarter less compile time for scikit-learn's Adam with a softmax).
    """
    params, sizes, w_off, b_off, acts = net.params, net.sizes, net.w_off, net.b_off, net.acts
    _check_codes(acts, _uses(net), _loss_of(run), run.optimizer)
    _check_keeps_no_nets(acts, _uses(net))
    _check_blas_markers(run, acts[acts.shape[0] - 1], _uses(net), moments, descent, softmax_ce, per_unit)
    X, Y, orders = data.X, data.Y, data.orders
    batch_size, layerwise = run.batch_size, run.layerwise
    n_layers = sizes.shape[0] - 1
    n_out = sizes[n_layers]
    n_samples = orders.shape[1]
    grad = np.empty(params.shape[0], params.dtype)
    mean = params.dtype.type(1)  # the updates' k (grad holds the batch's mean), of grad's type: float32 stays float32
    # The gathered inputs of a whole batch, reused: a fresh buffer this large would
    # come from the kernel as new, zero-filled pages on every batch.
    inputs = np.empty((batch_size, sizes[0]), params.dtype)
    nets = np.empty(batch_size * n_out, params.dtype)  # the output layer's net inputs
    log_sums = np.empty(batch_size)  # a softmax output's log sum_j e^net_j per sample (float64, as the loss keeps it)
    # Narrow layers' weights also transposed, (n_in, n_out) at the same offsets, kept in step with the updates:
    # BLAS multiplies a batch by a narrow W^T 2x faster from this copy (measured: 200 x 64 by 64 x 10).
    transposed = np.empty(params.shape[0], params.dtype)
    _transpose_narrow(net, transposed)
    t = run.step
    no_first_t = grad[:0]  # (the diagnostics read every layer's weights from params)
    for e in range(run.n_epochs):
        row = min(e, orders.shape[0] - 1)
        E_epoch = 0.0
        t_start = t
        if diag is not None:
            _diag_epoch_start(diag, net, no_first_t)
        for start in range(0, n_samples, batch_size):
            t += 1
            step_size, root_correction = _update_scalars(run, t)
            k = min(batch_size, n_samples - start)
            first = orders[row, start]
            consecutive = True
            for r in range(k):
                consecutive = consecutive and orders[row, start + r] == first + r
            if consecutive:  # unshuffled: the batch is rows of X as they are (no copy)
                A = X[first : first + k]
            else:
                A = inputs if k == batch_size else np.empty((k, sizes[0]), params.dtype)
                # Element by element: a row assignment A[r] = X[s] compiles to a copy with a bounds
                # clamp per element and two array views per row (seen with perf: 6% of a digits fit).
                for r in range(k):
                    s = orders[row, start + r]
                    for i in range(sizes[0]):
                        A[r, i] = X[s, i]
            layers = [A]
            for l in range(n_layers):
                if sizes[l + 1] <= NARROW:
                    Z = _product(layers[l], transposed[w_off[l] : b_off[l]].reshape((sizes[l], sizes[l + 1])))
                else:
                    Z = _product(layers[l], params[w_off[l] : b_off[l]].reshape((sizes[l + 1], sizes[l])).T)
                _bias_and_activate(Z, params, b_off[l], acts[l], _uses(net), nets if l == n_layers - 1 else nets[:0],
                                   _loss_of(run), log_sums)  # fmt: skip
                layers.append(Z)
                if diag is not None:
                    _diag_outputs(diag, net, l, Z.reshape(Z.size), 0, sizes[l + 1], k)
            out = Z.reshape(k * n_out)
            D = np.empty((k, n_out), params.dtype)
            deltas = D.reshape(k * n_out)
            weighted = data.weights.shape[0] > 0
            total = 0.0
            for r in range(k):
                s, o = orders[row, start + r], r * n_out
                E = 0.0
                if softmax_ce is not None:
                    E = _softmax_cross_entropy(out, o, nets, o, deltas, o, n_out, Y, s, log_sums[r])
                if per_unit is not None:
                    E = _loss_delta(out, o, nets, o, deltas, o, n_out, acts[n_layers - 1], _uses(net), Y, s,
                                    _loss_of(run))  # fmt: skip
                if weighted:  # (as _batch_step: the error and deltas count w times, the step k / sum(w))
                    w = data.weights[orders[row, start + r]]
                    E = _weigh(E, deltas, r * n_out, n_out, w)
                    total += w
                E_epoch += E
            scale = params.dtype.type(k / total) if weighted else params.dtype.type(1.0)
            # Deltas divided by k here make every product below a batch mean at once
            # (no division per weight in the update).
            for p in range(k * n_out):
                deltas[p] = deltas[p] / k
            for l in range(n_layers - 1, -1, -1):
                np.dot(D.T, layers[l], grad[w_off[l] : b_off[l]].reshape((sizes[l + 1], sizes[l])))
                # The bias gradients, sample by sample across the units: each sum runs over r in order, as
                # the oracle's does, and the adds of one sample are independent (they vectorise).
                bias_grad = grad[b_off[l] : b_off[l] + sizes[l + 1]]
                bias_grad[:] = 0.0
                _add_rows(bias_grad, D)
                # Layerwise (gradient descent only): layer l's update, then the deltas below through its new
                # weights; else the deltas below, then the update. Each written once (as _batch_step's).
                for phase in range(2):
                    if (phase == 0) == layerwise:
                        _update_rule(moments, net, state, grad, l, mean, scale, run, step_size, root_correction)
                    elif l > 0:
                        W = params[w_off[l] : b_off[l]].reshape((sizes[l + 1], sizes[l]))
                        D = _product(D, W)
                        _times_slope(acts[l - 1], D.reshape(D.size), layers[l].reshape(D.size), 0, D.size,
                                     np.uint64(0), _uses(net))  # fmt: skip
            if diag is not None:  # (the deltas were divided by k: grad holds the batch's mean)
                _diag_batch_gradient(diag, net, grad, np.float64(scale))
            _transpose_narrow(net, transposed)
        if diag is not None:
            _diag_epoch_end(diag, net, no_first_t, e, t - t_start, n_samples)
        errors[e] = E_epoch / n_samples
        if not math.isfinite(errors[e]):
            return e
        if errors[e] <= run.target:
            return e + 1
    return run.n_epochs


@kernel
def evaluate(net, X, Y, outputs, loss, scoring):
    """Forward pass of every row of X into outputs; returns the summed error against Y under the loss.

    ``scoring`` True: Y holds the targets (or no rows: the error is then 0); None: a plain forward pass, Y
    without rows, and none of the losses' code compiled (a prediction's kernel compiles in half the time).
    """
    params, sizes, u_off = net.params, net.sizes, net.u_off
    _check_codes(net.acts, _uses(net), loss, SGD)
    _check_scoring(Y, scoring)
    n_layers = sizes.shape[0] - 1
    zero = np.zeros(1, params.dtype)[0]
    out = _unit_buffer(_stride(sizes, u_off), params.dtype, _uses(net))
    delta = np.empty(out.shape[0], params.dtype)
    top = u_off[n_layers]
    E_sum = 0.0
    for s in range(X.shape[0]):
        _forward(net, X, s, out, 0, zero, None, None)
        for j in range(outputs.shape[1]):
            outputs[s, j] = out[top + j]
        if scoring is not None and Y.shape[0] > 0:
            E_sum += _output_delta(net, out, delta, 0, Y, s, loss)
    return E_sum


@helper
def _check_scoring(Y, scoring):
    """Refuse targets given to a plain forward pass (which would leave them unscored)."""
    if scoring is None and Y.shape[0] > 0:
        raise ValueError("evaluate: targets given to a plain forward pass (scoring None)")


@kernel
def evaluate_blas(net, X, Y, outputs, loss, scoring):
    """evaluate for wide layers: blocks of 256 rows through BLAS matrix products."""
    params, sizes, w_off, b_off, acts = net.params, net.sizes, net.w_off, net.b_off, net.acts
    _check_codes(acts, _uses(net), loss, SGD)
    _check_scoring(Y, scoring)
    n_layers = sizes.shape[0] - 1
    n_out = sizes[n_layers]
    nets = np.empty(256 * n_out, params.dtype)
    delta = np.empty(256 * n_out, params.dtype)
    log_sums = np.empty(256)
    E_sum = 0.0
    Z = np.empty((0, 0), params.dtype)
    for first in range(0, X.shape[0], 256):
        k = min(256, X.shape[0] - first)
        for l in range(n_layers):
            W = params[w_off[l] : b_off[l]].reshape((sizes[l + 1], sizes[l]))
            Z = _product(X[first : first + k], W.T) if l == 0 else _product(Z, W.T)
            _bias_and_activate(Z, params, b_off[l], acts[l], _uses(net), nets if l == n_layers - 1 else nets[:0], loss,
                               log_sums)  # fmt: skip
        out = Z.reshape(k * n_out)
        for r in range(k):
            for j in range(n_out):
                outputs[first + r, j] = out[r * n_out + j]
            if scoring is not None and Y.shape[0] > 0:
                E_sum += _batch_row_loss(out, nets, log_sums, delta, r, n_out, acts[n_layers - 1], _uses(net), Y,
                                         first + r, loss)  # fmt: skip
    return E_sum


@kernel
def gradient_sum(net, grad, X, Y, weights, block, loss):
    """grad = sum over samples of the error's gradient in params (a bias per unit); returns the summed error.
    With weights (one per sample; none: every weight 1), each sample's error and gradient count weights[s] times."""
    sizes, u_off = net.sizes, net.u_off
    _check_codes(net.acts, _uses(net), loss, SGD)
    n_layers = sizes.shape[0] - 1
    stride = _stride(sizes, u_off)
    top, n_out = u_off[n_layers], sizes[n_layers]
    zero = np.zeros(1, net.params.dtype)[0]
    outs = _unit_buffer(block * stride, net.params.dtype, _uses(net))
    deltas = _unit_buffer(block * stride, net.params.dtype, _uses(net))
    grad[:] = 0.0
    E_sum = 0.0
    for first in range(0, X.shape[0], block):
        n = min(block, X.shape[0] - first)
        for r in range(n):
            _forward(net, X, first + r, outs, r * stride, zero, None, None)
            E = _output_delta(net, outs, deltas, r * stride, Y, first + r, loss)
            if weights.shape[0] > 0:
                E = _weigh(E, deltas, r * stride + top, n_out, weights[first + r])
            E_sum += E
        for l in range(n_layers - 1, -1, -1):
            _accumulate_layer(grad, net, l, outs, deltas, n)
            if l > 0:
                _hidden_deltas(net, l, outs, deltas, n)
    return E_sum


GRADIENT_BLOCK = 1024  # rows per block of gradient_sum_blas: larger products run nearer BLAS's peak


@kernel
def gradient_sum_blas(net, grad, X, Y, weights, block, loss):
    """gradient_sum through BLAS matrix products, GRADIENT_BLOCK rows at a time (the sums in BLAS's order, so
    equal to gradient_sum to rounding). (block is unused; the signature matches gradient_sum.)"""
    params, sizes, w_off, b_off, acts = net.params, net.sizes, net.w_off, net.b_off, net.acts
    _check_codes(acts, _uses(net), loss, SGD)
    _check_keeps_no_nets(acts, _uses(net))
    n_layers = sizes.shape[0] - 1
    n_out = sizes[n_layers]
    nets = np.empty(GRADIENT_BLOCK * n_out, params.dtype)
    log_sums = np.empty(GRADIENT_BLOCK)
    part = np.empty(params.shape[0], params.dtype)
    grad[:] = 0.0
    E_sum = 0.0
    for first in range(0, X.shape[0], GRADIENT_BLOCK):
        k = min(GRADIENT_BLOCK, X.shape[0] - first)
        layers = [X[first : first + k]]
        for l in range(n_layers):
            Z = _product(layers[l], params[w_off[l] : b_off[l]].reshape((sizes[l + 1], sizes[l])).T)
            _bias_and_activate(Z, params, b_off[l], acts[l], _uses(net), nets if l == n_layers - 1 else nets[:0], loss,
                               log_sums)  # fmt: skip
            layers.append(Z)
        out = layers[n_layers].reshape(k * n_out)
        D = np.empty((k, n_out), params.dtype)
        deltas = D.reshape(k * n_out)
        for r in range(k):
            E = _batch_row_loss(out, nets, log_sums, deltas, r, n_out, acts[n_layers - 1], _uses(net), Y, first + r,
                                loss)  # fmt: skip
            if weights.shape[0] > 0:
                E = _weigh(E, deltas, r * n_out, n_out, weights[first + r])
            E_sum += E
        for l in range(n_layers - 1, -1, -1):
            np.dot(D.T, layers[l], part[w_off[l] : b_off[l]].reshape((sizes[l + 1], sizes[l])))
            for p in range(w_off[l], b_off[l]):
                grad[p] += part[p]
            _add_rows(grad[b_off[l] : b_off[l] + sizes[l + 1]], D)
            if l > 0:
                D = _product(D, params[w_off[l] : b_off[l]].reshape((sizes[l + 1], sizes[l])))
                _times_slope(acts[l - 1], D.reshape(D.size), layers[l].reshape(D.size), 0, D.size, np.uint64(0),
                             _uses(net))  # fmt: skip
    return E_sum
