"""The other processes' CPU while a benchmark block ran: on a shared machine, the reading to
judge a measurement by (used by pipeline_speed.py and pushed_score.py)."""

from __future__ import annotations

import os
import resource
import time

BUSY = 0.25  # cores: a pair measured while others used more is read with care


class Load:
    """Cores used by other processes while the block ran (``/proc/stat`` less this process and
    its children): on a shared machine, the reading to judge a pair by."""

    def __enter__(self) -> Load:
        self.other_cores = None
        self._start = self._sample()
        return self

    def __exit__(self, *exc) -> None:
        end = self._sample()
        if self._start is None or end is None:
            return
        (busy0, total0, own0, t0), (busy1, total1, own1, t1) = self._start, end
        if total1 > total0 and t1 > t0:
            busy = (busy1 - busy0) / (total1 - total0) * (os.cpu_count() or 1)
            self.other_cores = max(0.0, busy - (own1 - own0) / (t1 - t0))

    @staticmethod
    def _sample():
        try:
            with open("/proc/stat") as f:
                ticks = [int(x) for x in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        own = sum(getattr(resource.getrusage(w), a) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN) for a in ("ru_utime", "ru_stime"))
        idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
        return sum(ticks) - idle, sum(ticks), own, time.perf_counter()

    def busy(self) -> bool:
        """Others used more than a quarter of a core meanwhile: a pair to read with care."""
        return self.other_cores is not None and self.other_cores > BUSY

    def text(self) -> str:
        return "-" if self.other_cores is None else f"{self.other_cores:.2f}"
