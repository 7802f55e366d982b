"""The catalogue: one record per activation, loss and optimiser, and everything that reads it agrees with it."""

import math

import numpy as np
import pytest

import fastbp
from fastbp import _kernels, _options, catalogue, cli, export, oracle


def test_each_activation_has_its_compiled_primitives():
    """The generated helpers call _<name> and _<name>_slope (a whole-layer activation: _<name> alone)."""
    for record in catalogue.ACTIVATIONS:
        assert callable(getattr(_kernels, "_" + record.name)), record.name
        assert hasattr(_kernels, f"_{record.name}_slope") != record.whole_layer, record.name


def test_the_kernels_codes_follow_the_catalogues_order():
    codes = [
        (catalogue.LOSSES, ("SQUARED", "CROSS_ENTROPY", "POISSON", "HUBER")),
        (catalogue.OPTIMIZERS, ("SGD", "ADAM", "RPROP", "ADAMW")),
    ]
    for table, constants in codes:
        assert [getattr(_kernels, c) for c in constants] == list(range(len(table)))
        assert [c.lower() for c in constants] == list(catalogue.names(table))


def test_unknown_names_are_refused_naming_the_known_ones():
    for find, kind in ((catalogue.activation, "activation"), (catalogue.loss, "loss"),
                       (catalogue.optimizer, "optimizer")):  # fmt: skip
        with pytest.raises(ValueError, match=f"unknown {kind} 'nope'; the known ones are"):
            find("nope")
        with pytest.raises(ValueError, match=f"unknown {kind}"):
            find(3)


@pytest.mark.parametrize("record", [a for a in catalogue.ACTIVATIONS if not a.whole_layer], ids=lambda a: a.name)
def test_each_activations_slope_is_its_derivative(record):
    """slope (from out, or from net where the record says so) against central differences of forward, away from
    kinks at 0."""
    for net in np.linspace(-3.0, 3.0, 25):
        if abs(net) < 1e-3:
            continue
        h = 1e-6
        numeric = (record.forward(net + h) - record.forward(net - h)) / (2 * h)
        assert oracle.slope(record, net, record.forward(net)) == pytest.approx(numeric, rel=1e-6, abs=1e-9), net


def test_every_optimizers_settings_are_options_and_each_is_some_optimizers():
    owned = set()
    for optimizer in catalogue.OPTIMIZERS:
        for name in optimizer.options:
            assert name in _options.BY_NAME, (optimizer.name, name)
            owned.add(name)
    assert owned == {name for names in _options._FOREIGN.values() for name in names}


@pytest.mark.parametrize("optimizer", catalogue.OPTIMIZERS, ids=lambda o: o.name)
def test_another_optimizers_setting_is_refused_not_ignored(optimizer):
    net = fastbp.Network.random((2, 3, 1), seed=0)
    X, Y = np.ones((4, 2)), np.ones((4, 1))
    # A value other than the default for every optimiser's setting (the test fails on one it does not know).
    foreign = {"momentum": 0.5, "nesterov": True, "betas": (0.8, 0.99), "eps": 1e-6, "etas": (0.4, 1.3),
               "step_sizes": (1e-5, 10.0)}  # fmt: skip
    assert set(foreign) == {name for o in catalogue.OPTIMIZERS for name in o.options}
    for name, value in foreign.items():
        if name in optimizer.options:
            continue
        before = net.copy()
        with pytest.raises(ValueError, match=f"{name} applies to optimizer="):
            fastbp.train(net, X, Y, optimizer=optimizer.name, **{name: value})
        assert net == before
    own = {name: foreign[name] for name in optimizer.options}
    fastbp.train(net, X, Y, optimizer=optimizer.name, **own)


def test_where_an_activation_may_stand_and_its_smallest_layer():
    for record in catalogue.ACTIVATIONS:
        fastbp.Network.random((2, 3, max(2, record.min_units)), activations=("tanh", record.name))
        if not record.hidden:
            with pytest.raises(ValueError, match="may only be the output layer's"):
                fastbp.Network.random((2, 3, 2), activations=(record.name, "logistic"))
        if record.min_units > 1:
            with pytest.raises(ValueError, match="on an output layer of one unit"):
                fastbp.Network.random((2, 3, 1), activations=("tanh", record.name))
    assert cli.build_parser()  # the command line's choices come from the catalogue (hidden layers: hidden ones)
    assert catalogue.hidden_activations() == tuple(a.name for a in catalogue.ACTIVATIONS if a.hidden)


@pytest.mark.parametrize("record", catalogue.ACTIVATIONS, ids=lambda a: a.name)
def test_initial_weights_are_drawn_with_the_records_factor(record):
    """Each layer's weights within sqrt(factor / (fan_in + fan_out)), the factor of the layer's activation."""
    sizes = (30, 40, 20)
    activations = (record.name, "identity") if record.hidden else ("tanh", record.name)
    layer = 0 if record.hidden else 1
    W = fastbp.Network.random(sizes, seed=3, activations=activations).weights[layer]
    bound = math.sqrt(record.init_factor / (sizes[layer] + sizes[layer + 1]))
    assert 0.95 * bound < np.abs(W).max() <= bound


@pytest.mark.parametrize("record", catalogue.LOSSES, ids=lambda l: l.name)
def test_each_loss_refuses_the_outputs_it_does_not_take(record):
    for output in catalogue.ACTIVATIONS:
        net = fastbp.Network.random((2, 3, 2), seed=0, activations=("tanh", output.name))
        if record.outputs is None or output.name in record.outputs:
            net.error(np.ones((1, 2)), np.full((1, 2), 0.5), loss=record.name)
        else:
            with pytest.raises(ValueError, match=f"loss={record.name!r} needs an output layer of"):
                net.error(np.ones((1, 2)), np.full((1, 2), 0.5), loss=record.name)


def test_the_oracle_takes_records_and_the_article_is_logistic_and_squared():
    W, b = [[[0.15, 0.2], [0.25, 0.3]], [[0.4, 0.45], [0.5, 0.55]]], [[0.35, 0.35], [0.6, 0.6]]
    logistic = catalogue.activation("logistic")
    nets, outs = oracle.forward(W, b, [0.05, 0.1], [logistic, logistic])
    E = oracle.sample_error([0.01, 0.99], outs[-1], nets[-1], logistic, catalogue.loss("squared"))
    assert f"{E:.9f}" == "0.298371109"  # the article's E_total


def test_export_tables_come_from_the_records():
    torch = pytest.importorskip("torch")
    for record in catalogue.ACTIVATIONS:
        name, kwargs = record.torch
        module = export.torch_module(record)  # torch.nn's module of that name, or fastbp.export's own (Exp)
        assert type(module).__name__ == name and isinstance(module, torch.nn.Module)
        sizes = (3, 4, 2)
        net = fastbp.Network.random(sizes, seed=1, activations=("tanh", record.name))
        assert type(export.to_torch(net)[3]) is type(module)
        assert fastbp.Network.from_torch(net.to_torch()).activations == ("tanh", record.name)


def test_the_kernels_refuse_a_code_outside_the_catalogue():
    """No choice chain in compiled code falls back: a kernel refuses an unknown code when it starts."""
    from fastbp import _dispatch, _engine

    assert (_kernels.N_ACTIVATIONS, _kernels.N_LOSSES, _kernels.N_OPTIMIZERS) == tuple(
        len(table) for table in (catalogue.ACTIVATIONS, catalogue.LOSSES, catalogue.OPTIMIZERS)
    )
    net = fastbp.Network.random((2, 3, 2), seed=0)
    X, Y = np.full((3, 2), 0.5), np.full((3, 2), 0.5)
    outputs = np.empty((3, 2))
    unknown_unit = net.record()._replace(acts=np.array([0, len(catalogue.ACTIVATIONS)], np.int64))
    with pytest.raises(ValueError, match="activation code outside"):
        _kernels.evaluate(unknown_unit, X, Y, outputs, _kernels.LossRule(0, 0.0), True)
    with pytest.raises(ValueError, match="loss code outside"):
        _kernels.evaluate(net.record(), X, Y, outputs, _kernels.LossRule(len(catalogue.LOSSES), 0.0), True)
    opts = _options.check(3, epochs=1)
    engine = _engine.Engine(net, X, Y, opts)
    arguments = list(engine._arguments(np.arange(3).reshape(1, 3), 1, np.empty(1)))
    arguments[3] = arguments[3]._replace(optimizer=len(catalogue.OPTIMIZERS))
    with pytest.raises(ValueError, match="optimizer code outside"):
        _kernels.train_epochs(*arguments)
    assert _dispatch.kernel_arguments(_kernels.train_epochs, net, opts) == (True, None, None, None, None)


def test_a_loss_refuses_targets_below_what_it_takes():
    """The Poisson loss takes counts or rates: a negative target is refused before any work, everywhere."""
    net = fastbp.Network.random((2, 3, 1), seed=0, activations=("tanh", "exp"))
    before = net.copy()
    X, Y = [[0.1, 0.2], [0.3, 0.4]], [[2.0], [-1.0]]
    for call in (lambda: fastbp.train(net, X, Y, loss="poisson"), lambda: net.error(X, Y, loss="poisson"),
                 lambda: fastbp.train_many([net], X, Y, loss="poisson")):  # fmt: skip
        with pytest.raises(ValueError, match="targets >= 0"):
            call()
    assert net == before
    assert net.error(X, [[2.0], [0.0]], loss="poisson") > 0.0
