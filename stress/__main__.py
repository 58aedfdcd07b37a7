"""`make stress` (python -m stress): the long versions of the reliability tests, one summary line each.

The tests themselves are the normal ones in tests/; NSLAB_STRESS=1 makes them
long (2000 spawn/close cycles, 40x the hypothesis examples, 20 rounds of a
fault at every setup step) and NSLAB_STRESS_REPORT names a file where they
append JSON counters.  Leaks are the failures whose message is a host diff,
a count that grew, or a process that outlived its kernel.

    python -m stress [--only cycles|faults|fuzz ...] [-- PYTEST_ARGS...]
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = {
    "cycles": ["tests/test_cycles.py"],
    "faults": ["tests/test_faults.py"],
    "fuzz": ["tests/test_fuzz.py", "tests/test_intent.py"],
}
LEAK_SIGNS = ("the host changed", "counts at cycle", "outlived the kernel", "still alive")


def _failures(xml_path):
    """(failed test count, leak count) from a JUnit XML report."""
    failed = leaks = 0
    try:
        root = ET.parse(xml_path).getroot()  # noqa: S314 -- our own pytest run wrote it, in our temp dir
    except (OSError, ET.ParseError):
        return 1, 0
    for case in root.iter("testcase"):
        for bad in [*case.findall("failure"), *case.findall("error")]:
            failed += 1
            text = (bad.get("message") or "") + (bad.text or "")
            leaks += any(sign in text for sign in LEAK_SIGNS)
    return failed, leaks


def main(argv):
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    only = [a for a in (argv[: argv.index("--")] if "--" in argv else argv) if a != "--only"]
    names = only or list(RUNS)
    totals = collections.Counter()
    failed_runs = []
    with tempfile.TemporaryDirectory(prefix="nslab-stress.") as tmp:
        report = os.path.join(tmp, "counters.jsonl")
        env = dict(
            os.environ,
            NSLAB_STRESS="1",
            NSLAB_STRESS_REPORT=report,
            NSLAB_MUST_WORK=os.environ.get("NSLAB_MUST_WORK", "1"),
        )
        for name in names:
            xml = os.path.join(tmp, f"{name}.xml")
            start = time.monotonic()
            rc = subprocess.call(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "-q",
                    "-p",
                    "no:cacheprovider",
                    f"--junitxml={xml}",
                    "-o",
                    "timeout=3600",
                    *RUNS[name],
                    *extra,
                ],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
            )
            failed, leaks = _failures(xml)
            totals["leaks"] += leaks
            totals["failed"] += failed
            print(f"stress: {name}: pytest exited {rc} in {time.monotonic() - start:.0f} s", flush=True)
            if rc != 0:
                failed_runs.append(name)
        try:
            with open(report) as f:
                for line in f:
                    totals.update(json.loads(line))
        except FileNotFoundError:
            pass
    print(f"cycles run: {totals['cycles']}")
    print(f"faults injected: {totals['faults']}")
    print(f"inputs tried: {totals['inputs']}")
    print(f"leaks found: {totals['leaks']}")
    if failed_runs:
        print(f"stress: {totals['failed']} failing tests in: {' '.join(failed_runs)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
