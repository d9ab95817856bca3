"""Property: for any mapping of known keys (flat or in their sections) to any YAML values, and for
any file content at all, ``load_config`` returns a config whose every value has its declared type
and lies in its declared range, or raises ``BenchError``; never another exception."""

from __future__ import annotations

import math
import tempfile
import typing
from pathlib import Path

import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from bench.config import RunConfig, _bounds, _is_optional, flat_values, keys, load_config  # noqa: E402
from bench.errors import BenchError  # noqa: E402

KEYS = keys()
FOLDER = Path(tempfile.mkdtemp(prefix="bench-config-property-"))
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, -1, 2, 3, 64, 256, 257, 4096, 4097, 100_000, 2**63 - 1, 2**63]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 0.5, 1.0, 1.5, -0.0, 1e-9, 1e300]),
    st.text(max_size=12),
    st.sampled_from(["true", "false", "no", "8", "1e3", "nan", "", " ", "~", "a\x00b", "crop-resize", "cpu", "fps", "sample-real"]),
)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=3)), max_leaves=8)
# a known key, or now and then a typo or a section name
names = st.one_of(st.sampled_from(sorted(KEYS)), st.sampled_from(["data", "runtime", "cache", "output", "batchsize", "seeds", "name"]))


@st.composite
def config_docs(draw) -> dict:
    doc = draw(st.dictionaries(names, values, max_size=6))
    for name in draw(st.lists(st.sampled_from(sorted(KEYS)), max_size=3)):  # some keys in their section
        key = KEYS[name]
        if key.section is not None:
            section = doc.setdefault(key.section, {})
            if isinstance(section, dict):
                section[key.field] = draw(values)
    return doc


def assert_typed_and_in_range(cfg: RunConfig) -> None:
    for name, value in flat_values(cfg).items():
        key = KEYS[name]
        optional, tp = _is_optional(key.type)
        if value is None:
            assert optional, name
            continue
        origin = typing.get_origin(tp)
        if origin is typing.Literal:
            assert any(type(value) is type(c) and value == c for c in typing.get_args(tp)), (name, value)
        elif tp is bool:
            assert isinstance(value, bool), (name, value)
        elif tp in (int, float):
            assert type(value) is tp, (name, value)
            if tp is float:
                assert math.isfinite(value), (name, value)
            lo, exclusive, hi = _bounds(key.meta["check"], key.meta["low"], key.meta["high"])
            assert lo is None or value > lo or (value == lo and not exclusive), (name, value)
            assert hi is None or value <= hi, (name, value)
        elif tp is str:
            assert isinstance(value, str), (name, value)
        elif origin is list:
            assert isinstance(value, list) and all(isinstance(v, str) for v in value), (name, value)
            if name == "datasets":
                assert len(set(value)) == len(value), value
        else:
            raise AssertionError(f"{name}: undeclared type {tp!r}")


def load_or_bench_error(path: Path | None, overrides: dict | None = None) -> None:
    try:
        cfg = load_config(path, overrides)
    except BenchError as exc:
        assert "\n" not in str(exc), str(exc)
        return
    assert_typed_and_in_range(cfg)


@SETTINGS
@given(config_docs())
def test_any_yaml_mapping_of_known_keys_loads_typed_or_is_a_bench_error(doc):
    path = FOLDER / "run.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    load_or_bench_error(path)


@SETTINGS
@given(st.dictionaries(st.sampled_from(sorted(KEYS)), st.one_of(values, st.tuples(scalars), st.binary(max_size=4), st.sets(st.integers(), max_size=2),
                                                                st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3)), max_size=5))
def test_any_api_overrides_load_typed_or_are_a_bench_error(overrides):
    load_or_bench_error(None, overrides)


@SETTINGS
@given(st.one_of(st.text(max_size=80), st.sampled_from(["a: [", "- 1", "? [a]\n: 1", "x: !!python/object:os.system ls", "&a [*a]", "batch_size: 8\nbatch_size: 8", "{a: 1, a: 2}", "<<: 3"])))
def test_any_text_at_all_loads_or_is_a_bench_error(text):
    path = FOLDER / "any.yaml"
    path.write_text(text)
    load_or_bench_error(path)


@SETTINGS
@given(st.binary(max_size=64))
def test_any_bytes_at_all_load_or_are_a_bench_error(data):
    path = FOLDER / "bytes.yaml"
    path.write_bytes(data)
    load_or_bench_error(path)
