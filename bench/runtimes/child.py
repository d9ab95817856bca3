"""A runtime in a child process, each step under a time limit: for code we cannot trust to return.

``bench check`` loads a submission this way: a ``model.py`` that hangs, crashes the interpreter,
exits or raises takes down only the child, and the check reports what happened and when. The
child loads the model with the registered runtimes and answers ``run(batch)`` requests over a
pipe; the parent waits at most ``timeout`` seconds for each answer, then kills the child.
"""

from __future__ import annotations

import multiprocessing
import time

import numpy as np


class ChildFailure(Exception):
    """The child did not answer in time, died, or reported an error (one line)."""


def _serve(conn, path: str, provider: str, threads: int) -> None:
    from bench.errors import BenchError
    from bench.runtimes import load_runtime

    try:
        runtime = load_runtime(path, provider, threads)
    except BenchError as exc:
        conn.send(("error", str(exc)))
        return
    except BaseException as exc:  # the model's own code: anything may come out of it
        conn.send(("error", f"loading failed: {type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", (runtime.spec, runtime.environment, runtime.findings)))
    while True:
        batch = conn.recv()
        if batch is None:
            return
        try:
            conn.send(("ok", np.asarray(runtime.run(batch))))
        except BaseException as exc:  # a forward that raises (or exits) is that batch's answer
            conn.send(("error", f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"))


class ChildRuntime:
    """Load ``path`` in a fresh process (``spawn``: nothing of this process's state is shared),
    then ``run`` batches there. ``spec``, ``environment`` and ``findings`` come from the child."""

    def __init__(self, path: str, provider: str = "cpu", threads: int = 0, timeout: float = 60.0):
        self.timeout = timeout
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(child, str(path), provider, threads), daemon=True)
        self._process.start()
        child.close()
        started = time.perf_counter()
        self.spec, self.environment, self.findings = self._answer("loading the model")
        self.load_s = time.perf_counter() - started

    def _answer(self, what: str):
        deadline = time.perf_counter() + self.timeout
        while True:
            if self._conn.poll(0.05):
                try:
                    kind, value = self._conn.recv()
                except EOFError:
                    break
                if kind == "error":
                    raise ChildFailure(value)
                return value
            if not self._process.is_alive():
                break
            if time.perf_counter() > deadline:
                self.close()
                raise ChildFailure(f"{what} did not finish within {self.timeout:g} s (it may loop forever); the child process was stopped")
        self._process.join(1)
        code = self._process.exitcode
        self.close()
        raise ChildFailure(f"the model's process ended while {what} (exit code {code}): something in model.py exits or crashes the interpreter")

    def run(self, batch: np.ndarray) -> np.ndarray:
        if not self._process.is_alive():
            raise ChildFailure("the model's process is no longer running")
        self._conn.send(batch)
        return self._answer(f"running a batch of shape {list(batch.shape)}")

    def close(self) -> None:
        if self._conn.closed:
            return
        if self._process.is_alive():
            try:
                self._conn.send(None)
            except (OSError, BrokenPipeError):
                pass
            self._process.join(1)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)
        self._conn.close()

    def __enter__(self) -> ChildRuntime:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
