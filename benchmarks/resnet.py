"""Benchmark graphs built with the onnx helper API: ``GraphBuilder`` (He-initialised convolutions,
constants, residual blocks) and a ResNet-50-class graph with random weights.

Bottleneck blocks [3, 4, 6, 3] with widths 64..2048 (BatchNorm folded into conv biases, as an
exported inference graph has it), a uint8 ``(batch, 3, H, W)`` input normalised in the graph, and
``(batch, 3)`` logits: the compute and memory profile of a real detector backbone, for benchmarks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class GraphBuilder:
    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.nodes: list = []
        self.inits: list = []
        self.n = 0

    def name(self, base: str) -> str:
        self.n += 1
        return f"{base}_{self.n}"

    def const(self, array: np.ndarray, base: str) -> str:
        name = self.name(base)
        self.inits.append(numpy_helper.from_array(array, name))
        return name

    def conv(self, x: str, cin: int, cout: int, k: int, stride: int = 1, relu: bool = True, pad: int | None = None) -> str:
        """Conv (He-initialised, zero bias), ``pad`` default ``k // 2``, then ReLU unless told not."""
        w = (self.rng.standard_normal((cout, cin, k, k)) * np.sqrt(2.0 / (cin * k * k))).astype(np.float32)
        b = np.zeros(cout, np.float32)
        y = self.name("conv")
        pads = [k // 2 if pad is None else pad] * 4
        self.nodes.append(helper.make_node("Conv", [x, self.const(w, "w"), self.const(b, "b")], [y], kernel_shape=[k, k], strides=[stride, stride], pads=pads))
        if not relu:
            return y
        out = self.name("relu")
        self.nodes.append(helper.make_node("Relu", [y], [out]))
        return out

    def residual(self, x: str, y: str) -> str:
        """ReLU(x + y)."""
        s = self.name("add")
        self.nodes.append(helper.make_node("Add", [x, y], [s]))
        out = self.name("relu")
        self.nodes.append(helper.make_node("Relu", [s], [out]))
        return out

    def bottleneck(self, x: str, cin: int, mid: int, stride: int) -> str:
        cout = mid * 4
        y = self.conv(x, cin, mid, 1)
        y = self.conv(y, mid, mid, 3, stride)
        y = self.conv(y, mid, cout, 1, relu=False)
        skip = x if (cin == cout and stride == 1) else self.conv(x, cin, cout, 1, stride, relu=False)
        return self.residual(y, skip)


def resnet50(size: int = 224, seed: int = 0, blocks=(3, 4, 6, 3)) -> onnx.ModelProto:
    g = GraphBuilder(seed)
    mean = np.array([0.485, 0.456, 0.406], np.float32).reshape(1, 3, 1, 1) * 255
    std = np.array([0.229, 0.224, 0.225], np.float32).reshape(1, 3, 1, 1) * 255
    g.nodes += [
        helper.make_node("Cast", ["image"], ["f"], to=TensorProto.FLOAT),
        helper.make_node("Sub", ["f", g.const(mean, "mean")], ["centred"]),
        helper.make_node("Div", ["centred", g.const(std, "std")], ["x0"]),
    ]
    x = g.conv("x0", 3, 64, 7, 2)
    pooled = g.name("pool")
    g.nodes.append(helper.make_node("MaxPool", [x], [pooled], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]))
    x, cin = pooled, 64
    for stage, (count, mid) in enumerate(zip(blocks, (64, 128, 256, 512))):
        for i in range(count):
            x = g.bottleneck(x, cin, mid, 2 if (i == 0 and stage > 0) else 1)
            cin = mid * 4
    g.nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"]))
    g.nodes.append(helper.make_node("Flatten", ["gap"], ["feat"], axis=1))
    fc = (g.rng.standard_normal((cin, 3)) * 0.01).astype(np.float32)
    g.nodes.append(helper.make_node("MatMul", ["feat", g.const(fc, "fc")], ["z"]))
    g.nodes.append(helper.make_node("Add", ["z", g.const(np.zeros(3, np.float32), "fcb")], ["logits"]))
    graph = helper.make_graph(
        g.nodes,
        "resnet50_detector",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, ["batch", 3, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3])],
        initializer=g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 10
    return model


def save_resnet50(path: str | Path, size: int = 224, blocks=(3, 4, 6, 3)) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(resnet50(size, blocks=blocks), str(path))
    return path
