"""The command line: parse, build a config, call the library, print. No logic of its own."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from bench import __version__, modalities
from bench.errors import BenchError

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")


def _run(args: argparse.Namespace) -> int:
    from bench import api
    from bench.gates import parse_fail_under

    gates = parse_fail_under(args.fail_under)
    if args.resume:
        if args.config or config_overrides(args):
            raise BenchError("--resume continues a run with the config it started with; give no config file or other flags with it")
        from bench.config import build
        from bench.journal import read_run_file

        results = api.resume(args.resume)
        cfg = build(read_run_file(Path(args.resume))["config"])
    else:
        cfg = api.config(args.config, **config_overrides(args))
        results = api.run(cfg)
    results = results if isinstance(results, list) else [results]
    for result in results:
        if len(results) > 1:
            print(f"\n## {result.folder.name}\n")
        print_result(result)
    if len(results) > 1:
        from bench.results import new_folder, stamp

        where = Path(cfg.output.folder) / "compare" if cfg.output.folder else new_folder(Path(cfg.output.results_dir), f"compare-{stamp()}")
        _print_comparison(api.compare(results, bootstrap=cfg.output.bootstrap, output=where), where)
    return _run_gates(results, gates, cfg.output.max_model_error_rate)


def _run_gates(results, gates: dict, max_error_rate: float) -> int:
    from bench.gates import GATE_FAILED, TOO_MANY_MODEL_ERRORS, failed_thresholds, model_error_rate

    code = 0
    for result in results:
        rate = model_error_rate(result.metrics["overall"])
        if rate > max_error_rate:
            print(f"error: {result.name}: {rate:.1%} of the samples it ran on are model errors (max_model_error_rate {max_error_rate:g}); see {result.folder / 'summary.md'}", file=sys.stderr)
            code = TOO_MANY_MODEL_ERRORS
    failed = [line for r in results for line in failed_thresholds(r.name, r.metrics["overall"], gates)]
    for line in failed:
        print(line, file=sys.stderr)
    return code or (GATE_FAILED if failed else 0)


def print_result(result) -> None:
    from bench.report import metric_tables, robustness_table, strict_line, throughput_table, trials_table

    print(metric_tables(result.metrics))
    for part in (strict_line(result.metrics), trials_table(result.batch_trials)):
        if part:
            print()
            print(part)
    if result.robustness:
        print()
        print(robustness_table(result.robustness))
    print()
    print(throughput_table(result.throughput, result.environment))
    overall = result.metrics["overall"]
    if overall["errors"]:
        print(f"\n{overall['data_errors']} data error(s) and {overall['model_errors']} model error(s); see {result.folder / 'summary.md'}")
    print(f"\nresults written to {result.folder}/ (results.json, records.parquet, summary.md, report.html)")


def _print_comparison(doc: dict, folder: Path) -> None:
    from bench.comparison import compare_markdown

    print()
    print(compare_markdown(doc))
    print(f"comparison written to {folder}/ (compare.md, compare.json, report.html)")


def _datasets(args: argparse.Namespace) -> int:
    from bench.config import default_config_path, load_config
    from bench.data.registry import Registry
    from bench.report import table

    cfg = load_config(args.config or default_config_path(), {})
    registry = Registry.load(cfg.data.dataset_dirs)
    rows = [[s.name, s.modality, s.media_type, s.source["type"], s.location, s.max_samples, s.weight] for s in registry.specs.values()]
    print(table(["name", "modality", "media_type", "source", "location", "max_samples", "weight"], rows))
    return 0


def _datasets_import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bench.config import load_config
    from bench.data.hub import import_registry

    if args.output:
        dest = Path(args.output)
    elif args.config:
        dest = Path(load_config(args.config, {}).data.dataset_dirs[0]) / Path(args.file).name
    else:  # the working directory's registry, never the installed package's
        dest = Path.cwd() / "configs" / "datasets" / Path(args.file).name
    report = import_registry(args.file, dest, args.cache_dir)
    print(report.text())
    if report.imported:
        print(f"\nwritten to {dest}; pull with `bench datasets pull --registry {dest.parent} NAME`, score with `bench run --dataset-dir {dest.parent} --datasets NAME`")
    return 0 if report.imported else 1


def _datasets_pull(args: argparse.Namespace) -> int:
    from bench.config import default_config_path, load_config
    from bench.data.hub import pull, pull_report, select_hub_specs
    from bench.data.registry import Registry

    dirs = args.registry or load_config(args.config or default_config_path(), {}).data.dataset_dirs
    specs = select_hub_specs(Registry.load(dirs), args.names, args.all)
    results = pull(specs, cache_dir=args.cache_dir, per_dataset=args.per_dataset, seed=args.seed, progress=not args.no_progress)
    print(pull_report(results))
    return 0 if all(r.ok for r in results) else 1


def _check(args: argparse.Namespace) -> int:
    import json

    from bench.checks import check_model
    from bench.config import MAX_BATCH, check_number

    batch_size = check_number("--batch-size", args.batch_size, int, "positive", high=MAX_BATCH)
    timeout = check_number("--timeout", args.timeout, float, "positive", high=86_400)
    report = check_model(args.model, args.modality, batch_size, timeout)
    print(json.dumps(report.to_json(), indent=2, default=str) if args.json else report.text())
    return 0 if report.ok else 1


def _package(args: argparse.Namespace) -> int:
    from bench.package import package

    archive, report = package(args.model, args.modality, args.output)
    print(report.text())
    print(f"\nwrote {archive}; score it with `bench run --model {archive}`")
    return 0


def _export_onnx(args: argparse.Namespace) -> int:
    from bench.export.submission import export_submission

    path, report = export_submission(args.submission, args.output)
    print(report.summary())
    if not report.ok:
        print(f"\n{path} was written but does not match the submission; see above", file=sys.stderr)
        return 1
    print(f"\nwrote {path}; compare both on the same samples: bench run --model {args.submission} --model {path}")
    return 0


def _profile(args: argparse.Namespace) -> int:
    from bench.profiling import (
        ProfileConfig,
        parse_batch_sizes,
        sweep,
        table_rows,
        write_files,
    )
    from bench.report import table
    from bench.results import new_folder, stamp

    cfg = ProfileConfig(
        model=args.model,
        batch_sizes=parse_batch_sizes(args.batch_sizes),
        provider=args.provider,
        duration=args.duration,
        min_iters=args.min_iters,
        latency_budget_ms=args.latency_budget,
        data=args.data,
        output=args.output,
        threads=args.threads,
    ).validate()
    print(f"profiling {args.model} ({'through the pipeline on ' + args.data if args.data else 'model only'})", file=sys.stderr)
    profile = sweep(cfg, progress=print_progress)
    folder = Path(args.output) if args.output else new_folder(Path("results"), f"{Path(args.model).stem}-profile-{stamp()}")
    files = write_files(profile, folder)
    heads = ["batch", "status", "samples/s", "p50 ms", "p90 ms", "p95 ms", "p99 ms", "ms/sample", "device MB", "process MB", "e2e samples/s", "data wait ms/batch", "batches", "error"]
    rows = table_rows(profile)
    keep = [i for i, h in enumerate(heads) if any(r[i] is not None for r in rows)]
    print(table([heads[i] for i in keep], [[r[i] for i in keep] for r in rows]))
    print(f"\n{profile.environment['provider']} on {profile.environment['device']}; files: {', '.join(str(f) for f in files)}")
    best = profile.best()
    if best is None:
        print("no batch size ran; see the error column")
        return 1
    ranked = "end-to-end samples/s" if profile.mode == "pipeline" else "samples/s, model only"
    print(f"best throughput: batch {best.batch_size} ({profile.rate(best):.1f} {ranked}, p95 {best.latency_ms['p95']:.2f} ms)")
    if cfg.latency_budget_ms is not None:
        under = profile.best_under_budget()
        print(f"best under the {cfg.latency_budget_ms:g} ms p95 budget: " + (f"batch {under.batch_size} ({profile.rate(under):.1f} {ranked}, p95 {under.latency_ms['p95']:.2f} ms)" if under else "none: even batch 1 is over budget"))
    return 0


def print_progress(row) -> None:
    if row.status == "ok":
        print(f"  batch {row.batch_size:>5}: {row.samples_per_s:10.1f} samples/s, p95 {row.latency_ms['p95']:.2f} ms", file=sys.stderr)
    else:
        print(f"  batch {row.batch_size:>5}: {row.status}: {row.error}", file=sys.stderr)


def _compare(args: argparse.Namespace) -> int:
    from bench import api
    from bench.config import MAX_BOOTSTRAP, check_number
    from bench.results import new_folder, stamp

    bootstrap = check_number("--bootstrap", args.bootstrap, int, "non_negative", high=MAX_BOOTSTRAP)  # 0: no intervals, as in `bench run`
    top = check_number("--top", args.top, int, "non_negative", high=100_000)
    folder = Path(args.output) if args.output else None
    doc = api.compare(args.runs, allow_mismatch=args.allow_mismatch, bootstrap=bootstrap, top=top)
    folder = folder or new_folder(Path("results"), f"compare-{stamp()}")
    from bench.comparison import write_compare

    write_compare(doc, folder)
    _print_comparison(doc, folder)
    from bench.gates import GATE_FAILED, failed_comparison

    failed = failed_comparison(doc, args.fail_on)
    for line in failed:
        print(line, file=sys.stderr)
    return GATE_FAILED if failed else 0


def _flag_kwargs(key) -> dict:
    """argparse options for one config key, from its type and metadata."""
    import typing

    from bench.config import _is_optional

    _, tp = _is_optional(key.type)
    kwargs: dict = {"dest": key.name, "default": None, "help": key.meta["help"]}
    if key.meta["metavar"]:
        kwargs["metavar"] = key.meta["metavar"]
    if tp is bool:
        return kwargs | {"action": "store_const", "const": not key.default}
    if typing.get_origin(tp) is typing.Literal:
        choices = typing.get_args(tp)
        return kwargs | {"type": type(choices[0]), "choices": choices}
    if typing.get_origin(tp) is list:
        return kwargs | ({"action": "append"} if key.name in ("model", "dataset_dirs", "by") else {"nargs": "+", "action": "extend"})
    return kwargs | {"type": tp}


def config_flags() -> list:
    """The config keys that are command-line flags of ``bench run``, in declaration order."""
    from bench.config import keys

    return [k for k in keys().values() if k.meta["cli"]]


def _shown_default(key) -> str:
    return "" if isinstance(key.default, bool) or key.default in (None, []) else f"{key.default}"


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    for key in config_flags():
        kwargs = _flag_kwargs(key)
        if _shown_default(key):
            kwargs["help"] += f" (default: {_shown_default(key)})"
        parser.add_argument(key.flag, **kwargs)


def config_overrides(args: argparse.Namespace) -> dict:
    return {k.name: getattr(args, k.name) for k in config_flags() if getattr(args, k.name) is not None}


def flag_reference() -> str:
    """The README's table of config keys and ``bench run`` flags (a test holds the README to it)."""
    from bench.config import keys

    lines = ["| flag | config key (flat / in its section) | default | what it does |", "|---|---|---|---|"]
    for key in keys().values():
        flag = "-"
        if key.meta["cli"]:
            kwargs = _flag_kwargs(key)
            value = ""
            if "choices" in kwargs:
                value = " " + "\\|".join(map(str, kwargs["choices"]))
            elif kwargs.get("action") != "store_const":
                value = " " + (key.meta["metavar"] or key.name.upper()) + (" ..." if typing_list(key) and key.name == "datasets" else "")
            flag = f"`{key.flag}{value}`"
        where = f"`{key.section}.{key.field}`" if key.section else "-"
        default = _shown_default(key)
        lines.append(f"| {flag} | `{key.name}` / {where} | {f'`{default}`' if default else ''} | {key.meta['help']} |")
    return "\n".join(lines)


def typing_list(key) -> bool:
    import typing

    return typing.get_origin(key.type) is list


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench", description="Score ONNX detectors of AI-generated media locally, the way the public benchmark does.")
    parser.add_argument("--version", action="version", version=f"bench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="score a model on datasets; writes results/<run>/")
    run.add_argument("config", nargs="?", help="run config YAML (default: configs/default.yaml)")
    add_config_flags(run)
    run.add_argument("--fail-under", action="append", metavar="METRIC=VALUE", help="exit 3 when a headline metric is below VALUE (repeatable), e.g. --fail-under sn34=0.6")
    run.add_argument("--resume", metavar="DIR", help="finish a run that was killed or interrupted (its result folder), scoring only what is missing")
    run.set_defaults(func=_run)

    check = sub.add_parser("check", help="check a model against the contract (exit 1 when a rule fails)")
    check.add_argument("model", help="an .onnx file, an upload .zip, or a submission folder or zip")
    check.add_argument("--modality", choices=modalities.names(), help="what the model must take (default: from the input's rank)")
    check.add_argument("--batch-size", type=int, default=16, help="batch size of the latency estimate (default 16)")
    check.add_argument("--json", action="store_true", help="print the findings as JSON")
    check.add_argument("--timeout", type=float, default=60.0, help="seconds a submission may take to load, or to answer one probe batch (default 60)")
    check.set_defaults(func=_check)

    pkg = sub.add_parser("package", help="check a model, then write image_detector.zip / video_detector.zip")
    pkg.add_argument("model", help="the .onnx file, or a submission folder (model_config.yaml, model.py, *.safetensors)")
    pkg.add_argument("--modality", choices=modalities.names(), help="an .onnx model's modality (a submission's is in its model_config.yaml)")
    pkg.add_argument("--output", default=".", help="folder for the zip (default: the working directory)")
    pkg.set_defaults(func=_package)

    exp = sub.add_parser("export-onnx", help="convert a PyTorch submission to a contract ONNX model and verify it against PyTorch")
    exp.add_argument("submission", help="a submission folder or zip (model_config.yaml, model.py, *.safetensors)")
    exp.add_argument("--output", help="the .onnx file to write (default: ./<submission>.onnx)")
    exp.set_defaults(func=_export_onnx)

    prof = sub.add_parser("profile", help="batch-size sweep: throughput, latency percentiles, memory, the best batch")
    prof.add_argument("model", help="an .onnx file or an upload .zip")
    prof.add_argument("--batch-sizes", default="auto", help="comma-separated sizes, or auto (double until throughput stops improving; default)")
    prof.add_argument("--provider", choices=["auto", "cpu", "cuda"], default="auto")
    prof.add_argument("--duration", type=float, default=3.0, help="seconds per batch size, at least (default 3)")
    prof.add_argument("--min-iters", type=int, default=10, help="batches per batch size, at least (default 10)")
    prof.add_argument("--latency-budget", type=float, metavar="MS", help="p95 batch latency budget; auto stops past it, and the best batch under it is reported")
    prof.add_argument("--data", metavar="CONFIG", help="run config whose datasets feed the full pipeline (default: model only, generated inputs)")
    prof.add_argument("--threads", type=int, default=0, help="ONNX Runtime intra-op threads (default: ONNX Runtime's choice)")
    prof.add_argument("--output", help="folder for profile.csv, profile.json, profile.png (default: results/<model>-profile-<timestamp>)")
    prof.set_defaults(func=_profile)

    cmp = sub.add_parser("compare", help="paired comparison of runs on the same samples (the first is the baseline)")
    cmp.add_argument("runs", nargs="+", metavar="RUN_DIR", help="result folders written by `bench run`")
    cmp.add_argument("--allow-mismatch", action="store_true", help="compare only the samples all runs share")
    cmp.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples, 0 for no intervals (default 1000)")
    cmp.add_argument("--top", type=int, default=20, help="how many most-disagreed samples to list (default 20)")
    cmp.add_argument("--output", help="folder for compare.md, compare.json and report.html (default: results/compare-<timestamp>)")
    cmp.add_argument("--fail-on", choices=["worse"], help="exit 3 when any model is significantly worse than the baseline on any metric")
    cmp.set_defaults(func=_compare)

    ds = sub.add_parser("datasets", help="list the dataset registry; `import` a public registry file; `pull` Hub datasets")
    ds.add_argument("--config", help="run config whose dataset_dirs to use (default: configs/default.yaml)")
    ds.set_defaults(func=_datasets)
    ds_sub = ds.add_subparsers(dest="datasets_command", metavar="{import,pull}")
    imp = ds_sub.add_parser("import", help="public benchmark registry file -> bench registry entries (source type hub)")
    imp.add_argument("file", help="YAML in the public benchmark's format: datasets: [{name, path, modality, media_type, ...}]")
    imp.add_argument("--output", help="bench registry file to write (default: ./configs/datasets/<FILE's name> in the working directory; with --config, its first dataset_dirs folder)")
    imp.add_argument("--cache-dir", help="where `pull` puts the datasets and `run` reads them (default: ~/.cache/bench/hub)")
    imp.add_argument("--config", default=argparse.SUPPRESS, help="run config whose dataset_dirs to use")
    imp.set_defaults(func=_datasets_import)
    pl = ds_sub.add_parser("pull", help="download a seeded, bounded selection of Hub datasets into the local cache")
    pl.add_argument("names", nargs="*", metavar="NAME", help="type: hub datasets of the registry")
    pl.add_argument("--all", action="store_true", help="every type: hub dataset of the registry")
    pl.add_argument("--per-dataset", type=int, metavar="N", help="at most N samples per dataset (archives past it are not downloaded)")
    pl.add_argument("--seed", type=int, default=0, help="selection seed (default 0): same seed, same files and samples")
    pl.add_argument("--cache-dir", help="pull here instead of the registry's cache_dir (then re-import with the same --cache-dir)")
    pl.add_argument("--registry", nargs="+", metavar="DIR", help="registry folders (default: the config's dataset_dirs)")
    pl.add_argument("--config", default=argparse.SUPPRESS, help="run config whose dataset_dirs to use")
    pl.add_argument("--no-progress", action="store_true", help="no progress bars")
    pl.set_defaults(func=_datasets_pull)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C (the finished batches are kept for --resume)."""


def _terminate(signum, frame) -> None:
    raise Terminated()


class _Stderr(logging.Handler):
    """The ``bench`` logger's warnings and notices, one line each, on the current stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        print(self.format(record), file=sys.stderr)


def _log_to_stderr() -> None:
    log = logging.getLogger("bench")
    if not any(isinstance(h, _Stderr) for h in log.handlers):
        log.addHandler(_Stderr())
        log.propagate = False


def main(argv: list[str] | None = None) -> int:
    _log_to_stderr()
    args = build_parser().parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    try:
        return args.func(args)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        folder = getattr(exc, "run_folder", None)
        hint = f"; the finished batches are kept: `bench run --resume {folder}` continues" if folder else ""
        print(("terminated" if isinstance(exc, Terminated) else "interrupted") + hint, file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    except BrokenPipeError:  # output piped into `head` and the like
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
