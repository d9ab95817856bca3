"""Public-benchmark dataset registries -> bench's registry, and a seeded, bounded pull of each
dataset's files from the Hugging Face Hub into a local cache that ``bench run`` reads offline.

``import_registry`` turns a public registry file (``registry_format``) into bench registry
entries with ``source: {type: hub, repo, cache_dir, ...}`` (``importer``); ``pull`` (``puller``)
lists each repository through one fsspec file system and downloads a seeded choice of its files
(``choose``, ``fetch``), takes samples from archives and parquet shards (``extract``) and writes
the manifest that ``iter_pulled`` reads back offline (``pulled``); ``layout`` says where in the
cache each dataset lives.
"""

from bench.data.hub.importer import ImportReport, import_registry
from bench.data.hub.layout import dataset_dir, default_hub_cache_dir
from bench.data.hub.pulled import count_pulled, iter_pulled
from bench.data.hub.puller import PullResult, pull, pull_report, select_hub_specs
from bench.data.hub.registry_format import EntryAccount, HubEntry, format_kind, parse_hub_registry

__all__ = [
    "EntryAccount", "HubEntry", "ImportReport", "PullResult", "count_pulled", "dataset_dir",
    "default_hub_cache_dir", "format_kind", "import_registry", "iter_pulled", "parse_hub_registry",
    "pull", "pull_report", "select_hub_specs",
]
