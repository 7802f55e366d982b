"""Networks out to PyTorch and ONNX and in from PyTorch: the same outputs, and clear refusals."""

import sys

import numpy as np
import pytest

import fastbp
from fastbp import catalogue, cli, datasets

# Every activation of the catalogue: those that may stand in hidden layers, then the output-only ones.
ALL = [a.name for a in catalogue.ACTIVATIONS if a.hidden] + [a.name for a in catalogue.ACTIVATIONS if not a.hidden]


def network(dtype=np.float64, tied=False, activations=ALL):
    sizes = ((5, 7, 6, 4) * 4)[: len(activations)] + (3,)
    return fastbp.Network.random(sizes, seed=2, dtype=dtype, tied_biases=tied, activations=activations)


def inputs(dtype=np.float64):
    return (np.random.default_rng(1).standard_normal((25, 5)) * 3).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("tied", [False, True])
def test_to_torch_gives_the_same_outputs_and_comes_back(dtype, tied):
    torch = pytest.importorskip("torch")
    net = network(dtype, tied)
    module = net.to_torch()
    assert isinstance(module, torch.nn.Sequential) and len(module) == 2 * len(net.weights)
    with torch.no_grad():
        out = module(torch.from_numpy(inputs(dtype))).numpy()
    assert out.dtype == dtype
    np.testing.assert_allclose(out, net.forward(inputs(dtype)), rtol=1e-13 if dtype == np.float64 else 1e-5)
    back = fastbp.Network.from_torch(module)
    assert back.activations == net.activations and back.dtype == net.dtype
    np.testing.assert_array_equal(np.concatenate([b.ravel() for b in back.biases]),
                                  np.concatenate([b.ravel() for b in net.biases]))  # fmt: skip
    assert back.tied_biases == (False,) * len(net.weights)  # a tied bias is an ordinary vector from now on
    if not tied:
        assert back == net


def test_from_torch_reads_bare_linear_layers_and_refuses_the_rest():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    bare = nn.Sequential(nn.Linear(3, 4, dtype=torch.float64), nn.Linear(4, 2, bias=False, dtype=torch.float64))
    net = fastbp.Network.from_torch(bare)
    assert net.activations == ("identity", "identity") and not net.biases[1].any()
    refused = [
        (nn.Linear(3, 2), "torch.nn.Sequential"),
        (nn.Sequential(nn.Linear(3, 2), nn.Hardswish()), "module\\[1\\] is Hardswish"),
        (nn.Sequential(nn.Linear(3, 2), nn.GELU(approximate="tanh")), "approximate must be none"),
        (nn.Sequential(nn.Linear(3, 2), nn.Softplus(beta=2.0)), "beta must be 1.0"),
        (nn.Sequential(nn.Linear(3, 2), nn.LeakyReLU(0.2)), "negative_slope must be 0.01"),
        (nn.Sequential(nn.Linear(3, 2), nn.Softmax(dim=0)), "dim must be -1"),
        (nn.Sequential(nn.Linear(3, 2), nn.Softmax(dim=-1), nn.Linear(2, 2)), "softmax"),
        (nn.Sequential(nn.Linear(3, 2), nn.Linear(3, 2)), "takes 3 inputs"),
        (nn.Sequential(nn.ReLU()), "module\\[0\\] is ReLU"),
        (nn.Sequential(), "no Linear"),
    ]
    for module, message in refused:
        with pytest.raises(ValueError, match=message):
            fastbp.Network.from_torch(module)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_to_onnx_runs_in_onnxruntime_to_the_same_outputs(tmp_path, dtype):
    ort = pytest.importorskip("onnxruntime")
    # onnxruntime implements ONNX's Softplus, Elu and Gelu (its Erf) in float32 only: a float64 model holding them
    # is valid ONNX (checked when written) that onnxruntime refuses to load, so float64 runs every other activation.
    activations = ALL if dtype == np.float32 else [a for a in ALL if a not in ("softplus", "elu", "gelu")]
    for tied in (False, True):
        net = network(dtype, tied, activations)
        net.to_onnx(tmp_path / "net.onnx")
        session = ort.InferenceSession(str(tmp_path / "net.onnx"))
        assert [i.name for i in session.get_inputs()] == ["X"] and [o.name for o in session.get_outputs()] == ["Y"]
        (out,) = session.run(["Y"], {"X": inputs(dtype)})
        assert out.dtype == dtype
        np.testing.assert_allclose(out, net.forward(inputs(dtype)), rtol=1e-12 if dtype == np.float64 else 1e-5)


def test_a_missing_extra_names_the_command_that_installs_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"pip install 'fastbp\[torch\]'"):
        network().to_torch()
    with pytest.raises(ImportError, match=r"pip install 'fastbp\[onnx\]'"):
        network().to_onnx(tmp_path / "x.onnx")


def test_cli_export_folds_the_input_scaling_into_the_first_layer(tmp_path, capsys):
    ort = pytest.importorskip("onnxruntime")
    iris = datasets.iris()
    net = fastbp.Network.random((4, 5, 3), seed=0, activations=["tanh", "softmax"])
    low, high = iris.X.min(axis=0), iris.X.max(axis=0)
    net.save(tmp_path / "model.npz", input_bounds=(low, high))
    assert cli.main(["export", str(tmp_path / "model.npz"), "--to", "onnx"]) == 0
    (out,) = ort.InferenceSession(str(tmp_path / "model.onnx")).run(["Y"], {"X": iris.X})
    np.testing.assert_allclose(out, net.forward(datasets.minmax_scale(iris.X, (low, high))[0]), rtol=1e-12)
    if pytest.importorskip("torch"):
        import torch

        assert cli.main(["export", str(tmp_path / "model.npz"), "--to", "torch", "--out", str(tmp_path / "m.pt")]) == 0
        module = torch.load(tmp_path / "m.pt", weights_only=False)
        np.testing.assert_allclose(module(torch.from_numpy(iris.X)).detach().numpy(), out, rtol=1e-12)
    assert "wrote" in capsys.readouterr().err


def test_cli_export_without_torch_names_the_extra(tmp_path, monkeypatch, capsys):
    network().save(tmp_path / "model.npz")
    monkeypatch.setitem(sys.modules, "torch", None)
    assert cli.main(["export", str(tmp_path / "model.npz"), "--to", "torch"]) == 2
    assert "pip install 'fastbp[torch]'" in capsys.readouterr().err


def test_an_exp_module_pickles_and_loads_in_a_fresh_process(tmp_path):
    """torch.nn has no e^x module: fastbp.export.Exp, made on first use, still unpickles in a new process."""
    torch = pytest.importorskip("torch")
    net = network(activations=("tanh", "exp"))
    torch.save(net.to_torch(), tmp_path / "m.pt")
    code = (f"import torch, numpy as np, fastbp; m = torch.load({str(tmp_path / 'm.pt')!r}, weights_only=False); "
            "print(type(m[3]).__module__, type(m[3]).__name__)")  # fmt: skip
    from reference import run_python

    assert run_python(code).stdout.split() == ["fastbp.export", "Exp"]
