"""Compile and run bench/raw.c, the C floor under nslab's spawn + view + close."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

SOURCE = Path(__file__).with_name("raw.c")


class RawUnavailable(Exception):
    pass


def compile_raw(tmpdir: str) -> str:
    """cc -O2 bench/raw.c into tmpdir; returns the binary's path."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise RawUnavailable("no C compiler (cc) on PATH")
    out = os.path.join(tmpdir, "raw")
    proc = subprocess.run([cc, "-O2", "-o", out, str(SOURCE)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RawUnavailable(f"cc failed: {proc.stderr.strip()[:300]}")
    return out


def parse(line: str) -> dict:
    result = {}
    for field in line.split():
        key, _, value = field.partition("=")
        result[key] = int(value) if key == "n" else float(value)
    return result


def measure(binary: str, flags: int, n: int, *, quiet: bool = False, user_map: str | None = None,
            netlink: bool = True, timeout: float = 120.0) -> dict:
    """Run `raw -f flags -n n`; returns {"n", "median_us", "p10_us", "p90_us", "min_us"}
    or {"error": reason}."""
    argv = [binary, "-f", hex(flags), "-n", str(n)]
    if quiet:
        argv.append("-q")
    if not netlink:
        argv.append("-L")
    if user_map:
        argv += ["-u", user_map]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        msg = proc.stderr.strip().splitlines()
        return {"error": msg[0] if msg else f"exit status {proc.returncode}"}
    return parse(proc.stdout.strip())
