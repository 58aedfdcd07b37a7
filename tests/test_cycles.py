"""Many start/stop cycles: nothing accumulates, in this process or in the helper.

A leak of one fd or one zombie per spawn is invisible in a single demo and
fatal in a classroom afternoon, so the counts are compared after a warm-up
(cycle 10) and at the end (cycle 200; `make stress` runs 2000).  The mix
covers every type, the PID-namespace path (setup forks an init) and the path
without one (setup is the child), run() and start() inside, and each way of
ending a child: close(), the context manager, and the garbage collector.
"""

from __future__ import annotations

import gc
import json
import os

import pytest

import nslab
from nslab import _helper
from nslab.testing import descendants, open_fds

pytestmark = pytest.mark.live

STRESS = int(os.environ.get("NSLAB_STRESS", "0") or 0)
CYCLES = 2000 if STRESS else 200
WARM = 10

TYPES = list(nslab.NAMESPACES)
MIX = [
    *([t] for t in TYPES),
    ["pid", "mnt"],
    ["uts", "net", "ipc"],
    "all",
]


def _tally(**counts):
    path = os.environ.get("NSLAB_STRESS_REPORT")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(counts) + "\n")


def _helper_counts():
    """(open fds, live descendants, zombie descendants) of the helper process."""
    pid = _helper._HELPER.pid
    procs = descendants(pid)
    return (
        len(os.listdir(f"/proc/{pid}/fd")),
        sum(p.state != "Z" for p in procs),
        sum(p.state == "Z" for p in procs),
    )


def _counts():
    gc.collect()
    procs = descendants()
    return {
        "fds": len(open_fds()),
        "descendants": len(procs),
        "zombies": sum(p.state == "Z" for p in procs),
        "helper": _helper_counts(),
    }


def _one(i):
    ns = MIX[i % len(MIX)]
    opts = {}
    if ns == "all" or "uts" in ns:
        opts["hostname"] = f"cycle-{i}"
    if ns == "all" or "time" in ns:
        opts["boottime"] = 60
    how = i % 3
    if how == 0:
        with nslab.spawn(ns, **opts) as child:
            if i % 7 == 0:
                assert child.run(["true"]).returncode == 0
            if i % 11 == 0:
                child.start(["sleep", "1000"])  # ends with the child
    elif how == 1:
        child = nslab.spawn(ns, **opts)
        child.view()
        child.close()
        child.close()
    else:
        child = nslab.spawn(ns, **opts)
        del child  # the finalizer closes it


@pytest.mark.timeout(60 + CYCLES)
def test_cycles_are_flat():
    helper = _helper._HELPER.pid
    at = {}
    for i in range(1, CYCLES + 1):
        _one(i)
        if i in (WARM, CYCLES):
            at[i] = _counts()
    _tally(cycles=CYCLES)
    assert at[WARM] == at[CYCLES], f"counts at cycle {WARM} and {CYCLES} differ: {at}"
    assert at[CYCLES]["zombies"] == 0
    assert at[CYCLES]["helper"][2] == 0
    assert _helper._HELPER.pid == helper  # one helper all along


def test_many_children_at_once_then_all_closed():
    """Forty live children at once (every type), then closed in reverse: nothing left."""
    before = _counts()
    kids = [nslab.spawn(MIX[i % len(MIX)]) for i in range(40)]
    try:
        assert all(k.alive for k in kids)
        assert len({k.pid for k in kids}) == 40
    finally:
        for k in reversed(kids):
            k.close()
    assert _counts() == before
