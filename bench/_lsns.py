"""``nslab lsns --json`` against util-linux ``lsns -J`` on a busy machine.

The load: ``groups`` sets of new uts+ipc namespaces, each with ``per_group``
``sleep`` processes (50 x 10 = 500 extra processes by default).  The first
process of a set is ``unshare --uts --ipc -- sleep`` (unshare(1) execs sleep
inside the new namespaces); the other nine join it with ``nsenter --target``,
so no shell and no Python runs per process.  An unprivileged caller gets a
user namespace in front (``--user --map-root-user``; nsenter ``--user``).

Timings, median of ``runs`` after one warm-up each:

- ``nslab_inproc_ms``: ``nslab.__main__.main(["lsns", "--json"])`` in this
  process, what a notebook pays (the scan, JSON and all);
- ``nslab_subprocess_ms``: ``python -m nslab lsns --json`` as a new process
  (adds the interpreter's start-up);
- ``lsns_ms``: ``lsns -J`` as a subprocess, wall time (fork, exec and all),
  and ``lsns_cpu_ms``, its user+system time from getrusage(RUSAGE_CHILDREN).

``ratio`` is nslab_inproc_ms / lsns_ms (the target: at most 1);
``ratio_cpu`` compares with lsns's CPU time alone, ``ratio_subprocess`` the
two command lines.  Nothing is printed; everything started is killed by PID
and reaped.
"""

from __future__ import annotations

import io
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _root():
    return os.geteuid() == 0


def _start_load(groups, per_group, seconds):
    """[(leader Popen, [member Popen...])]; the leader's uts/ipc are the set's namespaces."""
    userns = [] if _root() else ["--user", "--map-root-user"]
    sets = []
    for _ in range(groups):
        leader = subprocess.Popen(["unshare", *userns, "--uts", "--ipc", "--", "sleep", str(seconds)])
        sets.append((leader, []))
    # unshare(1) execs sleep once the namespaces exist: wait for that before joining.
    own = os.stat("/proc/self/ns/uts").st_ino
    deadline = time.monotonic() + 30
    for leader, _ in sets:
        while True:
            try:
                if os.stat(f"/proc/{leader.pid}/ns/uts").st_ino != own and _comm(leader.pid) == "sleep":
                    break
            except FileNotFoundError:
                raise RuntimeError(f"unshare exited with {leader.wait()}") from None
            if time.monotonic() > deadline:
                raise RuntimeError("unshare did not start in 30 s")
            time.sleep(0.005)
    join = ["--user", "--preserve-credentials"] if userns else []
    for leader, members in sets:
        for _ in range(per_group - 1):
            members.append(
                subprocess.Popen(
                    ["nsenter", "--target", str(leader.pid), *join, "--uts", "--ipc", "--", "sleep", str(seconds)]
                )
            )
    return sets


def _comm(pid):
    with open(f"/proc/{pid}/comm") as f:
        return f.read().strip()


def _stop_load(sets):
    procs = [p for leader, members in sets for p in (leader, *members)]
    for p in procs:
        if p.poll() is None:
            p.kill()  # by the PID we started, nothing broader
    for p in procs:
        p.wait(timeout=30)


def _median_ms(fn, runs):
    fn()  # warm-up: page cache, dentries, imports
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - t0) / 1e6)
    return statistics.median(samples), min(samples)


def bench_lsns(runs=7, groups=50, per_group=10):
    """Time nslab lsns --json (in process and as a command) against lsns -J; returns a dict, prints nothing."""
    for tool in ("lsns", "unshare", "nsenter", "sleep"):
        if shutil.which(tool) is None:
            return {"error": f"missing {tool}"}
    from nslab.__main__ import main

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    sets = []
    try:
        sets = _start_load(groups, per_group, seconds=120)
        made = {("uts", os.stat(f"/proc/{leader.pid}/ns/uts").st_ino) for leader, _ in sets}

        last = {}

        def inproc():
            out = io.StringIO()
            if main(["lsns", "--json"], out=out) != 0:
                raise RuntimeError("nslab lsns --json failed")
            last["nslab"] = out.getvalue()

        def subproc():
            subprocess.run(
                [sys.executable, "-m", "nslab", "lsns", "--json"],
                stdout=subprocess.DEVNULL,
                check=True,
                env=env,
                cwd=REPO,
            )

        cpu = []

        def lsns():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            last["lsns"] = subprocess.run(["lsns", "-J"], capture_output=True, check=True).stdout
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1e3)

        lsns_ms, lsns_min = _median_ms(lsns, runs)
        lsns_cpu = statistics.median(cpu[1:])
        inproc_ms, inproc_min = _median_ms(inproc, runs)
        sub_ms, sub_min = _median_ms(subproc, runs)

        ours = json.loads(last["nslab"])["namespaces"]
        seen = {(r["type"], r["inode"]): r["nprocs"] for r in ours if r["readable"]}
        theirs = _flatten(json.loads(last["lsns"])["namespaces"])
        return {
            "runs": runs,
            "processes_added": groups * per_group,
            "namespaces_added": 2 * groups,
            "processes_seen": len(os.listdir("/proc")),
            "nslab_namespaces": len(seen),
            "lsns_namespaces": len(theirs),
            "nslab_sees_all_added": all(seen.get(k) == per_group for k in made),
            "lsns_sees_all_added": all(theirs.get(k) == per_group for k in made),
            "nslab_inproc_ms": inproc_ms,
            "nslab_inproc_min_ms": inproc_min,
            "nslab_subprocess_ms": sub_ms,
            "nslab_subprocess_min_ms": sub_min,
            "lsns_ms": lsns_ms,
            "lsns_min_ms": lsns_min,
            "lsns_cpu_ms": lsns_cpu,
            "ratio": inproc_ms / lsns_ms,
            "ratio_cpu": inproc_ms / lsns_cpu if lsns_cpu else None,
            "ratio_subprocess": sub_ms / lsns_ms,
            "target_met": inproc_ms <= lsns_ms,
        }
    finally:
        _stop_load(sets)


def _flatten(nodes, out=None):
    """lsns -J nests namespaces in a process tree ("children"); {(type, ns): nprocs}."""
    out = {} if out is None else out
    for n in nodes:
        out[(n["type"], int(n["ns"]))] = int(n["nprocs"])
        _flatten(n.get("children", []), out)
    return out
