"""Tiny ONNX models for tests, built with the onnx helper API (no files shipped)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

IR_VERSION = 10  # what current ONNX Runtime releases load
OPSET = 18


def _model(nodes, inputs, outputs, initializers=()) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "test", inputs, outputs, initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def save(model: onnx.ModelProto, path: Path) -> Path:
    onnx.save(model, str(path))
    return path


def channel_means(h: int | str = 32, w: int | str = 32, dtype=TensorProto.UINT8, batch="batch") -> onnx.ModelProto:
    """logits[b, c] = mean over H, W of input[b, c] (so logits are the RGB means, 0..255)."""
    x = helper.make_tensor_value_info("image", dtype, [batch, 3, h, w])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, 3])
    nodes = [
        helper.make_node("Cast", ["image"], ["f"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMean", ["f", "axes"], ["logits"], keepdims=0),
    ]
    axes = numpy_helper.from_array(np.array([2, 3], dtype=np.int64), "axes")
    return _model(nodes, [x], [y], [axes])


def linear_logits(width: int = 3, h: int = 16, w: int = 16, weight=None, bias=None) -> onnx.ModelProto:
    """logits = (channel means / 255) @ weight + bias: a controllable detector. The default
    weight calls bright images AI (synthetic) and dark ones real."""
    x = helper.make_tensor_value_info("image", TensorProto.UINT8, ["batch", 3, h, w])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", width])
    default_w = np.array([[-4.0, 4.0, 2.0], [-4.0, 4.0, 2.0], [-4.0, 4.0, 2.0]]) / 3
    default_b = np.array([2.0, -2.0, -1.0])
    weight = (default_w[:, :width] if weight is None else np.asarray(weight)).astype(np.float32) / 255.0
    bias = (default_b[:width] if bias is None else np.asarray(bias)).astype(np.float32)
    nodes = [
        helper.make_node("Cast", ["image"], ["f"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMean", ["f", "axes"], ["m"], keepdims=0),
        helper.make_node("MatMul", ["m", "W"], ["z"]),
        helper.make_node("Add", ["z", "B"], ["logits"]),
    ]
    inits = [
        numpy_helper.from_array(np.array([2, 3], dtype=np.int64), "axes"),
        numpy_helper.from_array(weight, "W"),
        numpy_helper.from_array(bias, "B"),
    ]
    return _model(nodes, [x], [y], inits)


def nan_when_dark(h: int = 16, w: int = 16) -> onnx.ModelProto:
    """Logits = log(channel means): -inf (non-finite) for an all-black image."""
    x = helper.make_tensor_value_info("image", TensorProto.UINT8, ["batch", 3, h, w])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3])
    nodes = [
        helper.make_node("Cast", ["image"], ["f"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMean", ["f", "axes"], ["m"], keepdims=0),
        helper.make_node("Log", ["m"], ["logits"]),
    ]
    return _model(nodes, [x], [y], [numpy_helper.from_array(np.array([2, 3], dtype=np.int64), "axes")])


def frame_probe(k: int, h: int = 16, w: int = 16) -> onnx.ModelProto:
    """Video probe: logits = per-channel means of frame ``k`` of a (batch, frames, 3, h, w) input
    (frames dynamic)."""
    x = helper.make_tensor_value_info("video", TensorProto.UINT8, ["batch", "frames", 3, h, w])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3])
    nodes = [
        helper.make_node("Cast", ["video"], ["f"], to=TensorProto.FLOAT),
        helper.make_node("Slice", ["f", "k0", "k1", "ax"], ["frame"]),
        helper.make_node("ReduceMean", ["frame", "axes"], ["logits"], keepdims=0),
    ]
    inits = [
        numpy_helper.from_array(np.array([k], dtype=np.int64), "k0"),
        numpy_helper.from_array(np.array([k + 1], dtype=np.int64), "k1"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "ax"),
        numpy_helper.from_array(np.array([1, 3, 4], dtype=np.int64), "axes"),
    ]
    return _model(nodes, [x], [y], inits)


def frame_spread(h: int = 16, w: int = 16, frames: int | str = "frames") -> onnx.ModelProto:
    """Video probe: logits = [max |frame_t - frame_0| over the clip, mean, frame count]."""
    x = helper.make_tensor_value_info("video", TensorProto.UINT8, ["batch", frames, 3, h, w])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3])
    nodes = [
        helper.make_node("Cast", ["video"], ["f"], to=TensorProto.FLOAT),
        helper.make_node("Slice", ["f", "z0", "z1", "ax"], ["first"]),
        helper.make_node("Sub", ["f", "first"], ["d"]),
        helper.make_node("Abs", ["d"], ["ad"]),
        helper.make_node("ReduceMax", ["ad", "all"], ["spread"], keepdims=0),
        helper.make_node("ReduceMean", ["f", "all"], ["mean"], keepdims=0),
        helper.make_node("Shape", ["f"], ["shape"], start=1, end=2),
        helper.make_node("Cast", ["shape"], ["t"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["spread", "one"], ["s1"]),
        helper.make_node("Unsqueeze", ["mean", "one"], ["m1"]),
        helper.make_node("Expand", ["t", "bshape"], ["t1"]),
        helper.make_node("Concat", ["s1", "m1", "t1"], ["logits"], axis=1),
    ]
    inits = [
        numpy_helper.from_array(np.array([0], dtype=np.int64), "z0"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "z1"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "ax"),
        numpy_helper.from_array(np.array([1, 2, 3, 4], dtype=np.int64), "all"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "one"),
    ]
    # t1 must be (batch, 1): expand the (1,) frame count against the spread column's shape
    nodes.insert(-2, helper.make_node("Shape", ["s1"], ["bshape"]))
    return _model(nodes, [x], [y], inits)


def batch_mean_shift(h: int = 16, w: int = 16, strength: float = 1.0) -> onnx.ModelProto:
    """A batch-dependent detector: linear_logits minus ``strength`` x the batch's mean logits
    plus the batch size / 100 on the synthetic logit, so a sample's score depends on its
    batch-mates and on how many they are (a padded or mixed batch shows)."""
    base = linear_logits(3, h, w)
    nodes = list(base.graph.node)
    nodes[-1].output[0] = "plain"
    nodes += [
        helper.make_node("ReduceMean", ["plain", "ax0"], ["bm"], keepdims=1),
        helper.make_node("Mul", ["bm", "k"], ["shift"]),
        helper.make_node("Sub", ["plain", "shift"], ["centred"]),
        helper.make_node("Shape", ["image"], ["shape"], end=1),
        helper.make_node("Cast", ["shape"], ["n"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["n", "size_w"], ["bonus"]),
        helper.make_node("Add", ["centred", "bonus"], ["logits"]),
    ]
    inits = list(base.graph.initializer) + [
        numpy_helper.from_array(np.array([0], dtype=np.int64), "ax0"),
        numpy_helper.from_array(np.float32(strength), "k"),
        numpy_helper.from_array(np.array([0.0, 0.01, 0.0], dtype=np.float32), "size_w"),
    ]
    return _model(nodes, list(base.graph.input), list(base.graph.output), inits)


def audio_loudness(samples: int | str = 96000, width: int = 2, dtype=TensorProto.FLOAT, batch="batch") -> onnx.ModelProto:
    """An audio probe ``(batch, samples)`` float32: ``m = mean |x|``; logits ``[-8 m + 1, 8 m - 1]``
    (width 2) or ``[-8 m + 1, 8 m - 1, 0]`` (width 3): loud clips are called AI, quiet ones real."""
    x = helper.make_tensor_value_info("audio", dtype, [batch, samples])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, width])
    w = np.array([[-8.0, 8.0, 0.0]], dtype=np.float32)[:, :width]
    b = np.array([1.0, -1.0, 0.0], dtype=np.float32)[:width]
    nodes = [
        helper.make_node("Cast", ["audio"], ["f"], to=TensorProto.FLOAT),
        helper.make_node("Abs", ["f"], ["a"]),
        helper.make_node("ReduceMean", ["a", "axes"], ["m"], keepdims=1),
        helper.make_node("MatMul", ["m", "W"], ["z"]),
        helper.make_node("Add", ["z", "B"], ["logits"]),
    ]
    inits = [numpy_helper.from_array(np.array([1], dtype=np.int64), "axes"), numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")]
    return _model(nodes, [x], [y], inits)


def audio_window(samples: int = 96000, at: tuple[int, ...] = (0, 1, 2)) -> onnx.ModelProto:
    """logits = the input's samples at the indices ``at`` (a (batch, samples) float32 probe that
    shows exactly which waveform values the model was fed)."""
    x = helper.make_tensor_value_info("audio", TensorProto.FLOAT, ["batch", samples])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", len(at)])
    nodes = [helper.make_node("Gather", ["audio", "idx"], ["logits"], axis=1)]
    return _model(nodes, [x], [y], [numpy_helper.from_array(np.array(at, dtype=np.int64), "idx")])
