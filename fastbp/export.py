"""Networks out to PyTorch and ONNX, and in from PyTorch: the layer-by-layer translation, in one place.

Each activation's PyTorch module and ONNX operator are in its catalogue record.
torch and onnx are optional extras, imported only when a function here is called.
"""

from __future__ import annotations

import importlib

import numpy as np

from . import _validate, catalogue

ONNX_OPSET = 17


def _require(module: str, extra: str):
    """Import an optional dependency, or a one-line ImportError naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"this needs {module.split('.')[0]}: pip install 'fastbp[{extra}]'") from None


def torch_module(record):
    """A fresh torch module of an activation's record: torch.nn's of that name, or fastbp.export's own where
    torch.nn has none (Exp)."""
    torch = _require("torch", "torch")
    name, kwargs = record.torch
    return (getattr(torch.nn, name) if hasattr(torch.nn, name) else _own_module(name))(**kwargs)


def _own_module(name: str):
    """fastbp.export.<name>, a torch module class made on first use (torch is optional): pickles of modules
    holding one load in any process, through the module __getattr__ below."""
    if name != "Exp":
        raise AttributeError(f"module 'fastbp.export' has no attribute {name!r}")
    if "Exp" not in globals():
        torch = _require("torch", "torch")

        class Exp(torch.nn.Module):
            """out = e^x element-wise (torch.nn has no such module): fastbp's "exp" units."""

            def forward(self, x):
                return torch.exp(x)

        Exp.__module__, Exp.__qualname__ = __name__, "Exp"
        globals()["Exp"] = Exp
    return globals()["Exp"]


def __getattr__(name: str):
    return _own_module(name)


def to_torch(net):
    """``net`` as a ``torch.nn.Sequential`` of Linear and activation modules, same dtype, same outputs."""
    torch = _require("torch", "torch")
    dtype = torch.float64 if net.dtype == np.float64 else torch.float32
    layers = []
    for W, b, activation in zip(net.weights, net.biases, net.activations):
        linear = torch.nn.Linear(W.shape[1], W.shape[0], dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W))
            linear.bias.copy_(torch.from_numpy(b))  # a tied bias: its value repeated, an ordinary vector from now on
        layers += [linear, torch_module(catalogue.activation(activation))]
    return torch.nn.Sequential(*layers)


def from_torch(module, network_class):
    """A Network from a ``torch.nn.Sequential`` of Linear layers, each followed by at most one activation
    module of the catalogue (none: identity); anything else is a ValueError saying what is supported."""
    torch = _require("torch", "torch")
    modules = [f"{name}({', '.join(f'{k}={v}' for k, v in kwargs.items())})" for name, kwargs in
               (record.torch for record in catalogue.ACTIVATIONS)]  # fmt: skip
    supported = f"a torch.nn.Sequential of Linear layers, each followed by at most one of {', '.join(modules)}"
    if not isinstance(module, torch.nn.Sequential):
        raise ValueError(f"from_torch takes {supported}; got {_validate._describe(module)}")
    by_module = {record.torch[0]: record for record in catalogue.ACTIVATIONS}
    weights, biases, activations = [], [], []
    for position, layer in enumerate(module):
        kind = type(layer).__name__
        if isinstance(layer, torch.nn.Linear):
            if any(p.dtype not in (torch.float32, torch.float64) for p in layer.parameters()):
                dtypes = sorted({str(p.dtype).removeprefix("torch.") for p in layer.parameters()})
                raise ValueError(f"module[{position}]: from_torch takes float32 or float64 parameters; this Linear "
                                 f"layer holds {', '.join(dtypes)} (convert it with module.double())")  # fmt: skip
            if weights and len(activations) < len(weights):
                activations.append("identity")  # two Linear layers in a row
            W = layer.weight.detach().cpu().numpy()
            weights.append(W)
            biases.append(np.zeros(W.shape[0], W.dtype) if layer.bias is None else layer.bias.detach().cpu().numpy())
        elif (
            kind in by_module
            and type(layer).__module__.startswith(("torch.nn", __name__))
            and len(activations) < len(weights)
        ):
            record = by_module[kind]
            for key, value in record.torch[1].items():  # the module's settings must be fastbp's
                got = getattr(layer, key)
                if got != value and not (key == "dim" and got in (-1, 1)):  # (dim 1 is the features' axis too)
                    raise ValueError(f"module[{position}]: {kind}'s {key} must be {value} (fastbp's); got {got}")
            activations.append(record.name)
        else:
            raise ValueError(f"module[{position}] is {kind}: from_torch takes {supported}")
    if not weights:
        raise ValueError(f"from_torch takes {supported}; this Sequential has no Linear layer")
    if len(activations) < len(weights):
        activations.append("identity")
    dtypes = {W.dtype for W in weights} | {b.dtype for b in biases}
    if len(dtypes) != 1 or dtypes.pop() not in (np.float32, np.float64):
        raise ValueError("from_torch takes float32 or float64 parameters, all of one dtype")
    for l, (W, W_next) in enumerate(zip(weights, weights[1:])):
        if W_next.shape[1] != W.shape[0]:
            raise ValueError(f"Linear layer {l + 1} takes {W_next.shape[1]} inputs; the layer below gives {W.shape[0]}")
    return network_class.from_arrays(weights, biases, dtype=weights[0].dtype, activations=activations)


def to_onnx(net, path) -> None:
    """Write ``net`` as an ONNX model: input "X" (n_samples, n_in), output "Y", in the network's dtype."""
    onnx = _require("onnx", "onnx")
    helper, numpy_helper = onnx.helper, _require("onnx.numpy_helper", "onnx")
    path = _validate.destination("path", path)
    element = onnx.TensorProto.DOUBLE if net.dtype == np.float64 else onnx.TensorProto.FLOAT
    nodes, initializers = [], []
    current = "X"
    n_layers = len(net.weights)
    for l, (W, b, activation) in enumerate(zip(net.weights, net.biases, net.activations)):
        initializers += [numpy_helper.from_array(W, f"W{l}"), numpy_helper.from_array(b, f"b{l}")]
        net_input = f"net{l}"
        nodes.append(helper.make_node("Gemm", [current, f"W{l}", f"b{l}"], [net_input], transB=1))
        out = "Y" if l == n_layers - 1 else f"out{l}"
        record = catalogue.activation(activation)
        if record.onnx is None:
            nodes.append(helper.make_node("Identity", [net_input], [out]))
        elif record.onnx_gate:  # x times the operator of x (SiLU: x Sigmoid(x))
            nodes.append(helper.make_node(record.onnx, [net_input], [f"gate{l}"], **record.onnx_attributes))
            nodes.append(helper.make_node("Mul", [net_input, f"gate{l}"], [out]))
        elif record.onnx_slope is not None:  # Max(x, slope x), the slope a constant in the network's dtype
            initializers.append(numpy_helper.from_array(np.array(record.onnx_slope, net.dtype), f"slope{l}"))
            nodes.append(helper.make_node("Mul", [net_input, f"slope{l}"], [f"leak{l}"]))
            nodes.append(helper.make_node(record.onnx, [net_input, f"leak{l}"], [out]))
        else:
            nodes.append(helper.make_node(record.onnx, [net_input], [out], **record.onnx_attributes))
        current = out
    graph = helper.make_graph(
        nodes, "fastbp_network",
        [helper.make_tensor_value_info("X", element, ["n_samples", net.sizes[0]])],
        [helper.make_tensor_value_info("Y", element, ["n_samples", net.sizes[-1]])],
        initializers,
    )  # fmt: skip
    # The default opset, or the newer one an activation's operator needs (GELU: 20).
    opset = max([ONNX_OPSET] + [catalogue.activation(a).onnx_opset or ONNX_OPSET for a in net.activations])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="fastbp")
    model.ir_version = 8 if opset == ONNX_OPSET else 9  # 8: readable by onnxruntime 1.14 and newer
    onnx.checker.check_model(model)
    with _validate.writing("path", path):
        onnx.save(model, path)
