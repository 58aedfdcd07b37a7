"""python -m bench: what one nslab "spawn + view + close" costs.

For each namespace type alone and for all eight together, three ways in the
same run: raw (bench/raw.c, the floor), nslab (the library API) and the
command line (unshare(1) + util-linux tools).  Then the mount-count scaling,
measured inside a private mount namespace so the host's table never changes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import _cli, _nslab, _raw

TYPES = ("uts", "pid", "net", "mnt", "ipc", "user", "time", "cgroup")
FLAGS = {
    "uts": 0x04000000, "pid": 0x20000000, "net": 0x40000000, "mnt": 0x00020000,
    "ipc": 0x08000000, "user": 0x10000000, "time": 0x00000080, "cgroup": 0x02000000,
}
SCALING_N = (0, 100, 500, 1000, 2000)
SCALING_N_QUICK = (0, 500, 2000)
TARGET_NSLAB_RAW = 3.0
TARGET_CLI_NSLAB = 5.0
REPO = Path(__file__).resolve().parent.parent


def flags_of(types, rootless):
    mask = 0
    for t in types:
        mask |= FLAGS[t]
    if rootless:
        mask |= FLAGS["user"]  # unprivileged: every type goes through a user namespace
    return mask


def host_mounts():
    with open("/proc/self/mountinfo") as f:
        return f.read().splitlines()


def fmt(x, digits=0):
    return "n/a" if x is None else f"{x:,.{digits}f}"


def ratio(a, b):
    return a / b if a is not None and b else None


# ---------------------------------------------------------------- per type

def run_types(binary, rows, iters, rootless, progress):
    results = []
    for label, types in rows:
        progress(f"  {label} ...")
        raw = _raw.measure(binary, flags_of(types, rootless), iters["raw"]) if binary else {"error": "no binary"}
        ns = _nslab.measure(types, iters["nslab"]) if types else {"error": "not measured"}
        cli = _cli.measure(types, iters["cli"], rootless=rootless)
        results.append({"type": label, "types": list(types), "raw": raw, "nslab": ns, "cli": cli})
    return results


def print_table(results, mode, raw_reason, baseline):
    print(f"nslab benchmark ({mode}): median wall time of one spawn + view + close")
    print(f"target: all eight within {TARGET_NSLAB_RAW:g}x of raw; "
          f"nslab at least {TARGET_CLI_NSLAB:g}x faster than the command line")
    maps = ("setgroups deny + '0 <uid> 1'" if mode.startswith("rootless") else "'0 100000 65536'")
    print(f"raw: bench/raw.c (fork, unshare, id maps {maps} written by the parent, / made private, "
          "init fork for pid/time, /proc reads + one rtnetlink link dump)")
    print("cli: unshare(1) ... --fork -- sh -c 'hostname; ps -e; ip -j link; ip -j route; ipcs; "
          "findmnt -J; cat ...'")
    if raw_reason:
        print(f"raw: not available ({raw_reason})")
    header = f"{'type':<8} | {'raw µs':>9} | {'nslab µs':>9} | {'cli µs':>9} | {'nslab/raw':>9} | {'cli/nslab':>9}"
    print(header)
    print("-" * len(header))
    errors = {}
    for r in results:
        med = {k: r[k].get("median_us") for k in ("raw", "nslab", "cli")}
        for k in med:
            if "error" in r[k]:
                errors.setdefault((k, r[k]["error"]), []).append(r["type"])
        print(f"{r['type']:<8} | {fmt(med['raw']):>9} | {fmt(med['nslab']):>9} | {fmt(med['cli']):>9} | "
              f"{fmt(ratio(med['nslab'], med['raw']), 2):>9} | {fmt(ratio(med['cli'], med['nslab']), 1):>9}")
    for (k, reason), labels in errors.items():
        print(f"{k}: not available ({reason}) [{', '.join(labels)}]")
    if baseline.get("median_us") is not None:
        print(f"baseline: raw fork + view with no new namespace: {fmt(baseline['median_us'])} µs")
    # Verdicts, only where the numbers exist.
    ok1 = [ratio(r["nslab"].get("median_us"), r["raw"].get("median_us")) for r in results if r["type"] != "none"]
    ok2 = [ratio(r["cli"].get("median_us"), r["nslab"].get("median_us")) for r in results if r["type"] != "none"]
    if any(x is None for x in ok1 + ok2):
        print("verdict: n/a (nslab or raw column missing)")
    else:
        bad1 = [r["type"] for r, x in zip(results, ok1) if x > TARGET_NSLAB_RAW]
        bad2 = [r["type"] for r, x in zip(results, ok2) if x < TARGET_CLI_NSLAB]
        print(f"verdict: nslab/raw <= {TARGET_NSLAB_RAW:g}: " + ("yes" if not bad1 else "NO for " + ", ".join(bad1)))
        print(f"verdict: cli/nslab >= {TARGET_CLI_NSLAB:g}: " + ("yes" if not bad2 else "NO for " + ", ".join(bad2)))


# ---------------------------------------------------------------- scaling

def _libc_mount():
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]

    def mount(source, target, fstype, flags, data):
        if libc.mount(source.encode(), target.encode(), fstype.encode(), flags, data.encode()) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"mount {fstype} on {target}: {os.strerror(err)}")
    return mount


def scaling_worker(n, binary, base, iters, host_ns):
    """Runs inside `unshare --mount --propagation private` (plus --user
    --map-root-user when rootless): nothing done here reaches the host."""
    # Refuse to add a single mount unless we really are in another mount
    # namespace than the parent benchmark (identity = (st_dev, st_ino)).
    st = os.stat("/proc/self/ns/mnt")
    if not host_ns or f"{st.st_dev}:{st.st_ino}" == host_ns:
        print(json.dumps({"N": n, "error": "refusing: not in a private mount namespace"}))
        return 1
    mount = _libc_mount()
    mount("tmpfs", base, "tmpfs", 0, "size=1m,mode=0755")
    for i in range(n):
        d = os.path.join(base, str(i))
        os.mkdir(d)
        mount("tmpfs", d, "tmpfs", 0, "size=4k,nr_inodes=16")
    total = len(host_mounts())
    out = {"N": n, "mounts": total}
    # In here we hold CAP_SYS_ADMIN over our mount namespace (as root, or as
    # root of the user namespace unshare made), so plain CLONE_NEWNS works.
    out["raw_create_us"] = _raw.measure(binary, FLAGS["mnt"], iters, quiet=True).get("median_us")
    out["raw_view_us"] = _raw.measure(binary, FLAGS["mnt"], iters).get("median_us")
    ns = _nslab.measure(["mnt"], max(10, iters // 4), warmup=1)
    out["nslab_us"] = ns.get("median_us")
    out["nslab_error"] = ns.get("error")
    print(json.dumps(out))
    return 0


def slope(points):
    pts = [(x, y) for x, y in points if y is not None]
    if len(pts) < 2:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    return sum((x - mx) * (y - my) for x, y in pts) / sxx if sxx else None


def run_scaling(binary, tmpdir, ns_list, iters, rootless, progress):
    if shutil.which("unshare") is None:
        return {"error": "unshare(1) not found"}
    base = os.path.join(tmpdir, "mnt")
    os.mkdir(base)
    prefix = ["unshare"] + (["--user", "--map-root-user"] if rootless else []) + ["--mount", "--propagation", "private", "--"]
    st = os.stat("/proc/self/ns/mnt")
    host_ns = f"{st.st_dev}:{st.st_ino}"
    rows = []
    for n in ns_list:
        progress(f"  scaling N={n}")
        argv = prefix + [sys.executable, "-m", "bench", "--scaling-worker", str(n),
                         "--scaling-raw", binary, "--scaling-base", base, "--scaling-iters", str(iters),
                         "--scaling-host-ns", host_ns]
        proc = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, timeout=300, stdin=subprocess.DEVNULL)
        line = proc.stdout.strip().splitlines()[-1:] or [""]
        try:
            row = json.loads(line[0])
        except ValueError:
            err = proc.stderr.strip().splitlines()
            row = {"N": n, "error": err[-1] if err else f"exit status {proc.returncode}"}
        rows.append(row)
    return {"rows": rows,
            "slope_create_us_per_mount": slope([(r["N"], r.get("raw_create_us")) for r in rows]),
            "slope_view_us_per_mount": slope([(r["N"], r.get("raw_view_us")) for r in rows]),
            "slope_nslab_us_per_mount": slope([(r["N"], r.get("nslab_us")) for r in rows])}


def print_scaling(sc):
    print()
    print("mount-count scaling: new mount namespace (raw -f CLONE_NEWNS), inside a private mount namespace")
    if "error" in sc:
        print(f"scaling: not available ({sc['error']})")
        return
    print(f"{'N added':>8} | {'mounts':>6} | {'raw create µs':>13} | {'raw +view µs':>12} | {'nslab µs':>9}")
    nslab_err = None
    for r in sc["rows"]:
        if "error" in r:
            print(f"{r['N']:>8} | error: {r['error']}")
            continue
        nslab_err = nslab_err or r.get("nslab_error")
        print(f"{r['N']:>8} | {r['mounts']:>6} | {fmt(r['raw_create_us']):>13} | {fmt(r['raw_view_us']):>12} | "
              f"{fmt(r['nslab_us']):>9}")
    print(f"slope: raw create {fmt(sc['slope_create_us_per_mount'], 2)} µs/mount; "
          f"raw create+view {fmt(sc['slope_view_us_per_mount'], 2)} µs/mount; "
          f"nslab {fmt(sc['slope_nslab_us_per_mount'], 2)} µs/mount")
    if nslab_err:
        print(f"nslab: not available ({nslab_err})")


# ---------------------------------------------------------------- main

def print_lsns(runs):
    """Issue 3's target: `nslab lsns --json` no slower than util-linux `lsns -J`."""
    from bench._lsns import bench_lsns

    r = bench_lsns(runs=runs)
    print()
    print(f"discovery: nslab lsns --json vs lsns -J, median of {runs}, with ~500 extra processes in ~50 namespaces")
    if "error" in r:
        print(f"lsns: not available ({r['error']})")
        return r
    print(f"  nslab in process {fmt(r['nslab_inproc_ms'], 1)} ms | as a command {fmt(r['nslab_subprocess_ms'], 1)} ms | "
          f"lsns -J {fmt(r['lsns_ms'], 1)} ms (cpu {fmt(r['lsns_cpu_ms'], 1)} ms)")
    print(f"  ratio nslab/lsns: {r['ratio']:.2f} in process, {r['ratio_subprocess']:.2f} as a command "
          f"(interpreter start included); sees every added namespace: nslab {r['nslab_sees_all_added']}, "
          f"lsns {r['lsns_sees_all_added']}")
    print(f"verdict: no slower than lsns: {'yes' if r['target_met'] else 'NO'}")
    return r


def print_panel(runs):
    """Issue 4's target: a toggle updates the panel in under 50 ms (but net), and what the panel adds."""
    from bench._panel import bench_panel

    out = bench_panel(runs=runs)
    print()
    print(f"Lab panel: toggle -> updated output, median of {runs} (target {out['target_ms']:.0f} ms for all but net)")
    print(f"{'types':<8} | {'panel ms':>8} | {'engine ms':>9} | {'panel/engine':>12} | target")
    for r in out["rows"]:
        met = {True: "met", False: "MISSED", None: "-"}[r["meets_target"]]
        print(f"{r['types']:<8} | {r['panel_ms']:>8.1f} | {r['engine_ms']:>9.1f} | {r['ratio']:>12.1f} | {met}")
    return out


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer iterations and scaling points")
    p.add_argument("--types", default="all",
                   help="comma-separated rows to measure (uts,pid,...,all8); default: every type and all8")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    p.add_argument("--no-scaling", action="store_true", help="skip the mount-count scaling part")
    p.add_argument("--no-lsns", action="store_true", help="skip nslab lsns against lsns -J")
    p.add_argument("--no-panel", action="store_true", help="skip the Lab panel's toggle-to-output times")
    p.add_argument("--scaling-worker", type=int, help=argparse.SUPPRESS)
    p.add_argument("--scaling-raw", help=argparse.SUPPRESS)
    p.add_argument("--scaling-base", help=argparse.SUPPRESS)
    p.add_argument("--scaling-iters", type=int, default=100, help=argparse.SUPPRESS)
    p.add_argument("--scaling-host-ns", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.scaling_worker is not None:
        return scaling_worker(args.scaling_worker, args.scaling_raw, args.scaling_base, args.scaling_iters,
                              args.scaling_host_ns)

    rootless = os.geteuid() != 0
    mode = "rootless: every type goes through a user namespace" if rootless else "root"
    iters = {"raw": 50, "nslab": 30, "cli": 8} if args.quick else {"raw": 200, "nslab": 100, "cli": 20}
    scaling_iters = 40 if args.quick else 100

    wanted = [w.strip() for w in args.types.split(",") if w.strip()]
    rows = []
    for w in wanted:
        if w == "all":
            rows += [(t, (t,)) for t in TYPES] + [("all8", TYPES)]
        elif w in ("all8", "all-eight"):
            rows.append(("all8", TYPES))
        elif w in TYPES:
            rows.append((w, (w,)))
        else:
            p.error(f"unknown type {w!r} (one of {', '.join(TYPES)}, all8, all)")

    def progress(msg):
        print(msg, file=sys.stderr, flush=True)

    before = host_mounts()
    t_start = time.monotonic()
    tmpdir = tempfile.mkdtemp(prefix="nslab-bench-")
    try:
        binary, raw_reason = None, None
        try:
            binary = _raw.compile_raw(tmpdir)
        except _raw.RawUnavailable as err:
            raw_reason = str(err)
        progress(f"nslab bench ({'quick, ' if args.quick else ''}{'rootless' if rootless else 'root'})")
        results = run_types(binary, rows, iters, rootless, progress)
        baseline = _raw.measure(binary, 0, iters["raw"]) if binary else {}
        if args.no_scaling or binary is None:
            sc = {"error": "skipped" if args.no_scaling else raw_reason}
        else:
            sc = run_scaling(binary, tmpdir, SCALING_N_QUICK if args.quick else SCALING_N,
                             scaling_iters, rootless, progress)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    after = host_mounts()

    print_table(results, mode, raw_reason, baseline)
    print_scaling(sc)
    unchanged = before == after
    print(f"host mounts unchanged: {'yes' if unchanged else 'NO'}")
    if not unchanged:
        for line in sorted(set(after) - set(before)):
            print(f"  + {line}")
        for line in sorted(set(before) - set(after)):
            print(f"  - {line}")
    print(f"temp dir removed: {'yes' if not os.path.exists(tmpdir) else 'NO: ' + tmpdir}")
    extra = {}
    if not args.no_lsns:
        extra["lsns"] = print_lsns(3 if args.quick else 7)
    if not args.no_panel:
        extra["panel"] = print_panel(10 if args.quick else 50)
    print(f"elapsed: {time.monotonic() - t_start:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"mode": "rootless" if rootless else "root", "iterations": iters,
                       "types": results, "baseline_raw": baseline, "scaling": sc, "host_mounts_unchanged": unchanged,
                       "kernel": os.uname().release, **extra}, f, indent=2)
    return 0 if unchanged else 1


if __name__ == "__main__":
    sys.exit(main())
