"""python -m bench._panel: how long a Lab panel takes from a toggle to its new output.

For each namespace type alone and all eight together: the panel's time from
setting the toggle's ``value`` (what a click does) to the updated tables and
figure, next to the engine's own spawn + view + close for the same request.
The difference is the panel's work: closing the previous child, the diff and
topic tables, and the figure.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

TYPES = ("uts", "pid", "net", "mnt", "ipc", "user", "time", "cgroup")
TARGET_MS = 50.0  # for every set without net; net's spawn alone is the costly one


def _sets():
    return [(t,) for t in TYPES] + [TYPES]


def _label(types):
    return "all" if len(types) == len(TYPES) else ",".join(types)


def _engine(types, runs, warmup, kw):
    import nslab

    samples = []
    for i in range(warmup + runs):
        t0 = time.perf_counter()
        with nslab.spawn(list(types), **kw) as c:
            c.view()
        if i >= warmup:
            samples.append(time.perf_counter() - t0)
    return samples


def bench_panel(runs=50, warmup=3):
    """Median toggle→output time of a Lab for each type alone and all eight, and the engine's for the same.

    Returns {"runs", "target_ms", "rows": [{"types", "panel_ms", "panel_min_ms",
    "update_ms" (Lab.update_seconds), "engine_ms", "ratio" (panel / engine),
    "meets_target" (None where net is in the set)}]}.  One panel is used for
    all rows; before each timed change every toggle is turned off (untimed).
    """
    from nslab.widgets import Lab

    lab = Lab()
    rows = []
    try:
        for types in _sets():
            panel, inner = [], []
            for i in range(warmup + runs):
                lab.set(namespaces=())
                t0 = time.perf_counter()
                if len(types) == 1:
                    lab.toggles[types[0]].value = True  # exactly what a click does
                else:
                    lab.set(namespaces=types)
                dt = time.perf_counter() - t0
                if lab.error is not None:
                    raise RuntimeError(f"{_label(types)}: the panel showed {lab.error!r}")
                if i >= warmup:
                    panel.append(dt)
                    inner.append(lab.update_seconds)
            kw = {"hostname": lab.options["hostname"].value} if "uts" in types else {}
            engine = _engine(types, runs, warmup, kw)
            p, e = statistics.median(panel) * 1e3, statistics.median(engine) * 1e3
            rows.append(
                {
                    "types": _label(types),
                    "panel_ms": round(p, 2),
                    "panel_min_ms": round(min(panel) * 1e3, 2),
                    "update_ms": round(statistics.median(inner) * 1e3, 2),
                    "engine_ms": round(e, 2),
                    "ratio": round(p / e, 2) if e else None,
                    "meets_target": None if "net" in types else p < TARGET_MS,
                }
            )
    finally:
        lab.close()
    return {"runs": runs, "target_ms": TARGET_MS, "rows": rows}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    runs = int(argv[0]) if argv and argv[0].isdigit() else 50
    out = bench_panel(runs)
    if "--json" in argv:
        print(json.dumps(out, indent=2))
        return 0
    print(f"Lab panel, toggle -> output, median of {runs} (target {TARGET_MS:.0f} ms without net)")
    print(f"{'types':<8}{'panel ms':>10}{'min ms':>9}{'engine ms':>11}{'ratio':>7}  target")
    for r in out["rows"]:
        met = {True: "met", False: "MISSED", None: "-"}[r["meets_target"]]
        print(
            f"{r['types']:<8}{r['panel_ms']:>10.1f}{r['panel_min_ms']:>9.1f}{r['engine_ms']:>11.1f}{r['ratio']:>7.1f}  {met}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
