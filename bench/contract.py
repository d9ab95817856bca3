"""The model contract (SPEC section 1) as pure rules over a model's inputs and outputs.

Each rule returns findings (rule, verdict, value seen, fix). ``bench run`` refuses a model with
the first failing finding, ``bench check`` reports all of them, export verification reuses them:
one rule, one answer everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench import modalities
from bench.errors import BenchError
from bench.modalities import Layout, Modality
from bench.spec import ModelSpec, TensorInfo

PASS, WARN, FAIL, SKIP = "pass", "warn", "fail", "skip"


@dataclass(frozen=True)
class Finding:
    rule: str
    verdict: str  # pass | warn | fail | skip
    message: str
    fix: str = ""
    value: object = None


def io_findings(inputs: list[TensorInfo], outputs: list[TensorInfo], modality: str | None = None, standard: tuple[int, ...] = (3,)) -> list[Finding]:
    """Every static finding on a model's declared I/O: each rule that can be judged is reported,
    even when several break (``bench check`` shows them all). ``standard``: the output widths
    that pass (ONNX models: 3; PyTorch submissions: 2 and 3); other widths of 1 to 3 warn."""
    return _judge(inputs, outputs, modality, standard)[0]


def first_failure(findings: list[Finding]) -> Finding | None:
    return next((f for f in findings if f.verdict == FAIL), None)


def resolve_spec(path: str, sha256: str, inputs: list[TensorInfo], outputs: list[TensorInfo], modality: str | None = None) -> ModelSpec:
    """The ``ModelSpec`` of a model that meets the contract; ``BenchError`` with the first failing
    finding ("<message>; <fix>") otherwise. Warns about nothing: callers report ``io_findings``."""
    findings, found = _judge(inputs, outputs, modality, (3,))
    failed = first_failure(findings)
    if failed is not None:
        raise BenchError(f"{failed.message}; {failed.fix}" if failed.fix else failed.message)
    assert found is not None  # no failure means the rank rule found the modality
    inp, out = inputs[0], outputs[0]
    axes = list(zip(found.layout.axes, inp.shape))
    return ModelSpec(
        path=path,
        sha256=sha256,
        input_name=inp.name,
        input_shape=tuple(inp.shape),
        input_dtype=inp.dtype,
        output_name=out.name,
        output_shape=tuple(out.shape),
        modality=found.name,
        sizes={a.name: d if _fixed(d) else a.default for a, d in axes if not a.dynamic},
        size_declared=all(_fixed(d) for a, d in axes if a.fixed),
        output_width=output_width(out),
    )


def _judge(inputs: list[TensorInfo], outputs: list[TensorInfo], modality: str | None, standard: tuple[int, ...]) -> tuple[list[Finding], Modality | None]:
    """All static findings, and the modality the input was judged against (None: unknown)."""
    findings, found = [inputs_rule(inputs)], None
    if inputs:
        inp = inputs[0]
        found, rank = rank_rule(inp, modality)
        findings.append(rank)
        if found is None:
            findings.append(Finding("dtype", SKIP, "not judged: the input's modality is unknown"))
        else:
            findings += axis_findings(inp.shape, found.layout) if rank.verdict == PASS else []
            findings.append(dtype_rule(inp.dtype, found.layout))
    classes = found.classes if found is not None else modalities.get("image").classes
    findings.append(output_rule(outputs, tuple(sorted({*standard, len(classes)})), classes))
    return findings, found


def inputs_rule(inputs: list[TensorInfo]) -> Finding:
    if not inputs:
        return Finding("inputs", FAIL, "the model has no input", "export one (batch, 3, H, W) uint8 input")
    if len(inputs) > 1:
        names = ", ".join(i.name for i in inputs)
        return Finding("inputs", FAIL, f"{len(inputs)} inputs ({names}); the contract has exactly one", "export a single pixel input (fold other inputs into constants)", len(inputs))
    return Finding("inputs", PASS, f"one input {inputs[0].name!r}", value=1)


def rank_rule(inp: TensorInfo, modality: str | None) -> tuple[Modality | None, Finding]:
    """The modality the input is judged against (the one asked for, else the one its rank
    names), and whether its rank matches."""
    rank, shape = len(inp.shape), list(inp.shape)
    found = modalities.get(modality) if modality else modalities.by_rank(rank)
    if found is not None and found.layout.rank == rank:
        return found, Finding("rank", PASS, f"input {inp.name!r} {shape}: {found.name}", value=rank)
    fix = "export with the layout of SPEC section 1"
    if found is None:
        want = " or ".join(f"rank {m.layout.rank} {m.layout.describe()}" for m in map(modalities.get, modalities.names()))
        return None, Finding("rank", FAIL, f"input {inp.name!r} has rank {rank} {shape}; expected {want}", fix, rank)
    other = modalities.by_rank(rank)
    if other is not None:
        fix = f"export a {found.name} model {found.layout.describe()}, or drop --modality (rank {rank} is {other.name})"
    return found, Finding("rank", FAIL, f"input {inp.name!r} has rank {rank} {shape}; expected rank {found.layout.rank} for {found.name}", fix, rank)


def axis_findings(shape: tuple, layout: Layout) -> list[Finding]:
    """The per-axis rules, in the order check reports them: required sizes (channel position),
    fixed sizes (H, W), dynamic axes (batch), capped axes (frames)."""
    layout_findings = required_size_rule(shape, layout)
    layout_ok = all(f.verdict == PASS for f in layout_findings)
    return [*layout_findings, fixed_size_rule(shape, layout, layout_ok), *dynamic_axis_rule(shape, layout), *capped_axis_rule(shape, layout)]


def required_size_rule(shape: tuple, layout: Layout) -> list[Finding]:
    out = []
    for i, axis in enumerate(layout.axes):
        if axis.size is None:
            continue
        what = f"{axis.size} {axis.name}"
        if shape[i] == axis.size:
            out.append(Finding("layout", PASS, f"{axis.name} first, {what}", value=list(shape)))
        elif i != len(shape) - 1 and shape[-1] == axis.size:
            out.append(Finding("layout", FAIL, f"{axis.name} last: {list(shape)} has {axis.size} at the last axis", f"export {axis.name} first, {layout.describe()}: permute inside the model's forward, not in the input", list(shape)))
        else:
            out.append(Finding("layout", FAIL, f"axis {i} is {shape[i]}, expected {what}", f"export {layout.describe()} input with {what} at axis {i}", list(shape)))
    return out


def fixed_size_rule(shape: tuple, layout: Layout, layout_ok: bool = True) -> Finding:
    """Axes the contract wants fixed (H, W): dynamic ones warn and take the axis default."""
    axes = [(a, shape[i]) for i, a in enumerate(layout.axes) if a.fixed]
    names = ", ".join(a.name for a, _ in axes)
    if not all(_fixed(d) for _, d in axes):
        used = "x".join(str(d if _fixed(d) else a.default) for a, d in axes)
        dims = ", ".join(str(d) for _, d in axes)
        return Finding("size", WARN, f"{names} are dynamic ({dims}); {used} will be used", "export with the fixed sizes the model was trained at", used)
    if not layout_ok:
        return Finding("size", SKIP, "not judged: the layout rule failed")
    sizes = "x".join(str(d) for _, d in axes)
    unusual = [(a, d) for a, d in axes if a.expected is not None and d != a.expected]
    if unusual:
        seen = ", ".join(f"{a.name} {d}" for a, d in unusual)
        fed = ", ".join(f"{a.name} {a.expected}" for a, _ in unusual)
        return Finding("size", WARN, f"{names} fixed at {sizes}; the leaderboard always feeds {fed}", f"export with {fed} to score there as here ({seen} is fed here)", sizes)
    return Finding("size", PASS, f"{names} fixed at {sizes}", value=sizes)


def dynamic_axis_rule(shape: tuple, layout: Layout) -> list[Finding]:
    """Axes the contract wants dynamic (batch): a fixed size fails."""
    out = []
    for i, axis in enumerate(layout.axes):
        if not axis.dynamic:
            continue
        if _fixed(shape[i]):
            out.append(Finding(axis.name, FAIL, f"{axis.name} axis fixed at {shape[i]}; the benchmark sends any {axis.name} size", f"export with a dynamic {axis.name} axis (dynamic_axes / dynamic_shapes on axis {i})", shape[i]))
        else:
            out.append(Finding(axis.name, PASS, f"{axis.name} axis dynamic ({shape[i]})", value=shape[i]))
    return out


def capped_axis_rule(shape: tuple, layout: Layout) -> list[Finding]:
    """Axes the harness feeds at most ``cap`` of (frames): fixed above the cap fails, because
    the harness cannot feed it; dynamic takes the run config's value."""
    out = []
    for i, axis in enumerate(layout.axes):
        if axis.cap is None:
            continue
        d = shape[i]
        if not _fixed(d):
            key = axis.config_key or axis.name
            out.append(Finding(axis.name, PASS, f"{axis.name} dynamic ({d}); the run config's {key} (default {_config_default(key)}) are used", value=d))
        elif d > axis.cap:
            out.append(Finding(axis.name, FAIL, f"{axis.name} fixed at {d}, above the harness's cap of {axis.cap}", f"export with at most {axis.cap} {axis.name} or a dynamic {axis.name} axis", d))
        else:
            out.append(Finding(axis.name, PASS, f"{axis.name} fixed at {d}", value=d))
    return out


def dtype_rule(dtype: str, layout: Layout) -> Finding:
    """The first of ``layout.dtypes`` is the norm; the others are fed the same values (a warning
    when they take more bytes); anything else fails."""
    norm, *others = layout.dtypes
    values = _value_range(norm)
    if dtype == norm:
        return Finding("dtype", PASS, f"{dtype} input", value=dtype)
    if dtype in others:
        ratio = _itemsize(dtype) // _itemsize(norm)
        cost = f", with {ratio}x the host-to-device bytes" if ratio > 1 else ""
        return Finding("dtype", WARN, f"{dtype} input: fed the same {values} values{cost}", f"take {norm} and cast inside the model", dtype)
    alternatives = f" (or {' or '.join(others)} holding {values})" if others else ""
    return Finding("dtype", FAIL, f"input dtype {dtype}; the harness feeds {' or '.join(layout.dtypes)}", f"declare the input {norm}{alternatives}", dtype)


def output_rule(outputs: list[TensorInfo], standard: tuple[int, ...] = (3,), classes: tuple[str, ...] = ("real", "synthetic", "semisynthetic")) -> Finding:
    """Output ``(batch, len(classes))`` logits, the modality's standard (image, video: 3; audio:
    2); width 3, 2 or 1 accepted otherwise with a warning (2 passes where it is in ``standard``,
    as for submissions); undeclared width warns."""
    k = len(classes)
    names = f"[{', '.join(classes)}]"
    fix = f"return logits of shape (batch, {k}): {names}"
    if not outputs:
        return Finding("output", FAIL, "the model has no output", f"return (batch, {k}) logits")
    out = outputs[0]
    extra = f" (first of {len(outputs)} outputs; the others are ignored)" if len(outputs) > 1 else ""
    shape, width = list(out.shape), output_width(out)
    head = f"output {out.name!r} {shape}{extra}"
    if len(shape) != 2:
        return Finding("output", FAIL, f"output {out.name!r} has shape {shape}{extra}; expected (batch, {k})", fix, shape)
    if width == 3:
        return Finding("output", PASS, f"{head}: logits [real, synthetic, semisynthetic]", value=3)
    if width == 2:
        if 2 in standard:
            origin = "the audio standard" if k == 2 else "the submission standard"
            return Finding("output", PASS, f"{head}: [real, synthetic] logits (softmax), {origin}; 3-class metrics not reported", value=2)
        return Finding("output", WARN, f"{head}: read as [real, ai] logits (softmax); 3-class metrics not reported", f"return {k} logits {names}", 2)
    if width == 1:
        return Finding("output", WARN, f"{head}: read as one AI logit (sigmoid); {k}-class metrics not reported" if k == 3 else f"{head}: read as one AI logit (sigmoid)", f"return {k} logits {names}", 1)
    if width is None:
        return Finding("output", WARN, f"{head}: width not declared; checked at run time", f"declare the output (batch, {k})")
    return Finding("output", FAIL, f"output {out.name!r} has width {width}{extra}; expected {k} logits", fix, width)


def output_width(out: TensorInfo) -> int | None:
    """The declared width of a (batch, width) output; None when undeclared or of another rank."""
    return out.shape[-1] if len(out.shape) == 2 and _fixed(out.shape[-1]) else None


# --------------------------------------------------------------------------- helpers


def _fixed(dim) -> bool:
    return isinstance(dim, int) and not isinstance(dim, bool)


def _config_default(key: str):
    from bench.config import keys

    found = keys().get(key)
    return found.default if found else None


def _itemsize(dtype: str) -> int:
    return np.dtype(dtype).itemsize


def _value_range(dtype: str) -> str:
    """'0..255' for uint8 (the pixel range); the dtype name for a float norm."""
    if np.issubdtype(np.dtype(dtype), np.integer):
        info = np.iinfo(dtype)
        return f"{info.min}..{info.max}"
    return dtype
