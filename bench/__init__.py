"""bench: local, leaderboard-faithful scoring of detectors of AI-generated media.

``bench.run``, ``bench.check``, ``bench.compare``, ``bench.profile`` (see ``bench.api``); they
import their dependencies when first called, so ``import bench`` stays light."""

__version__ = "0.2.0"
__all__ = ["run", "check", "compare", "profile", "ModelResult"]


def __getattr__(name: str):
    if name == "ModelResult":
        from bench.results import ModelResult

        return ModelResult
    if name in __all__:
        from bench import api

        return getattr(api, name)
    raise AttributeError(f"module 'bench' has no attribute {name!r}")
