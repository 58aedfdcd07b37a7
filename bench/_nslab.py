"""The library way: `with nslab.spawn(types) as c: c.view()`."""

from __future__ import annotations

import statistics
import time


def _reason(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__


def load():
    """Returns (spawn, None) or (None, reason). Imported lazily: the library
    may not exist yet, and a broken import must not stop the benchmark."""
    try:
        import nslab
        spawn = nslab.spawn
    except Exception as err:  # ImportError, AttributeError, anything the package raises
        return None, _reason(err)
    return spawn, None


def measure(types, n: int, *, warmup: int = 3) -> dict:
    spawn, reason = load()
    if spawn is None:
        return {"error": reason}
    types = list(types)
    samples = []
    for i in range(warmup + n):
        t0 = time.perf_counter_ns()
        try:
            with spawn(types) as c:
                c.view()
        except Exception as err:
            return {"error": _reason(err)}
        t1 = time.perf_counter_ns()
        if i >= warmup:
            samples.append((t1 - t0) / 1e3)
    return {"n": n, "median_us": statistics.median(samples), "min_us": min(samples)}
