"""The command-line way: unshare(1) plus the tools a learner would type.

Choice (documented as the brief asks): each sample is ONE unshare(1) process
that runs `sh -c SCRIPT` inside the new namespaces, SCRIPT being the fixed
literal below -- no user data is ever interpolated into it; the argv list is
built from a closed set of unshare(1) options only.  This is what a learner
does ("sudo unshare --uts --fork sh", then types the commands): every command
is its own process forked by a shell that lives inside the namespaces.  The
alternative -- a holder process plus one `nsenter` per command -- would add
an nsenter exec per command and a second terminal, which is not the usual
first-contact path and would only make the command line look slower.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import time

# FIXED literal, never formatted: the evidence a view() gathers.
SCRIPT = (
    "hostname; ps -e; ip -j link; ip -j route; ipcs; findmnt -J; "
    "cat /proc/self/uid_map /proc/self/cgroup /proc/self/timens_offsets"
)

OPTIONS = {
    "uts": "--uts",
    "pid": "--pid",
    "net": "--net",
    "mnt": "--mount",
    "ipc": "--ipc",
    "user": "--user",
    "time": "--time",  # no --monotonic/--boottime: zero offsets, like a default spawn
    "cgroup": "--cgroup",
}


def argv_for(types, rootless: bool) -> list[str]:
    argv = ["unshare"]
    chosen = list(types)
    if rootless and "user" not in chosen:
        chosen.append("user")
    for t in OPTIONS:  # canonical order
        if t in chosen:
            argv.append(OPTIONS[t])
    argv.append("--fork")
    if "pid" in chosen and "mnt" in chosen:
        argv.append("--mount-proc")
    if "user" in chosen:
        argv.append("--map-root-user")
    return argv + ["--", "sh", "-c", SCRIPT]


def measure(types, n: int, *, rootless: bool, warmup: int = 2, timeout: float = 30.0) -> dict:
    missing = [tool for tool in ("unshare", "sh", "hostname", "ps", "ip", "ipcs", "findmnt", "cat")
               if shutil.which(tool) is None]
    if missing:
        return {"error": "missing " + ", ".join(missing)}
    argv = argv_for(types, rootless)
    samples = []
    for i in range(warmup + n):
        t0 = time.perf_counter_ns()
        try:
            proc = subprocess.run(argv, capture_output=True, stdin=subprocess.DEVNULL, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout:.0f} s", "argv": argv}
        t1 = time.perf_counter_ns()
        # The evidence must have been produced: unshare itself must succeed
        # and the script must have printed something.  (The script's own
        # status is that of its last command, cat, which is what sh returns.)
        if proc.returncode != 0 or not proc.stdout:
            err = proc.stderr.decode(errors="replace").strip().splitlines()
            return {"error": err[0] if err else f"exit status {proc.returncode}", "argv": argv}
        if i >= warmup:
            samples.append((t1 - t0) / 1e3)
    return {"n": n, "median_us": statistics.median(samples), "min_us": min(samples), "argv": argv}
