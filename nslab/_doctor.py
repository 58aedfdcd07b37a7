"""doctor(): what this machine lets this user do, found by trying.

Each namespace type is tried in a throwaway child, the way spawn() would make
it (the uid_map write included), and a refusal is explained by its named
cause: seccomp, AppArmor's userns restriction, a max_*_namespaces limit, no
CONFIG_TIME_NS, not Linux, no /proc.
"""

from __future__ import annotations

import html
import json
import os
import platform
import sys

from ._errors import NslabError
from ._ns import NAMESPACES

__all__ = ["Report", "doctor"]

COLUMNS = ["type", "works", "how", "error", "cause"]


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _status_field(name):
    text = _read("/proc/self/status") or ""
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    return None


def _facts():
    from ._api import privilege

    facts = {
        "platform": sys.platform,
        "kernel": platform.release(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "uid": os.geteuid() if hasattr(os, "geteuid") else None,
        "privilege": privilege() if sys.platform == "linux" else None,
        "seccomp": _status_field("Seccomp"),
        "apparmor_restrict_unprivileged_userns": _read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"),
        "unprivileged_userns_clone": _read("/proc/sys/kernel/unprivileged_userns_clone"),
        "max_namespaces": {t: _read(f"/proc/sys/user/max_{t}_namespaces") for t in NAMESPACES},
    }
    return facts


class Report:
    """doctor()'s answer: ``rows`` (one dict per type), ``facts`` (the machine), ``ok`` (all eight work)."""

    def __init__(self, rows, facts, verdict):
        self.rows = rows
        self.facts = facts
        self.verdict = verdict

    @property
    def ok(self):
        return all(r["works"] for r in self.rows)

    def works(self, nstype):
        return next(r["works"] for r in self.rows if r["type"] == nstype)

    def to_dict(self):
        return {"facts": self.facts, "namespaces": self.rows, "verdict": self.verdict, "ok": self.ok}

    def to_json(self):
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def frame(self):
        import pandas as pd

        return pd.DataFrame([[r[c] for c in COLUMNS] for r in self.rows], columns=COLUMNS)

    def __repr__(self):
        f = self.facts
        lines = [
            f"nslab doctor: Linux {f['kernel']} ({f['machine']}), Python {f['python']}, privilege {f['privilege']}",
        ]
        for r in self.rows:
            mark = "yes" if r["works"] else "NO "
            extra = f"  {r['error']}: {r['cause']}" if not r["works"] else ""
            lines.append(f"  {r['type']:<7}{mark} {r['how']}{extra}")
        lines.append(self.verdict)
        return "\n".join(lines)

    def _repr_html_(self):
        body = "".join(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>".format(
                r["type"], "✔" if r["works"] else "✘", html.escape(r["how"]), html.escape(r["cause"] or "")
            )
            for r in self.rows
        )
        f = self.facts
        head = html.escape(f"Linux {f['kernel']}, Python {f['python']}, privilege: {f['privilege']}")
        return (
            f"<p><b>nslab doctor</b> — {head}</p><table><tr><th>type</th><th>works</th><th>how</th><th>cause and fix</th></tr>"
            f"{body}</table><p>{html.escape(self.verdict)}</p>"
        )


def doctor(types=None):
    """Try each namespace type here; return a Report."""
    from ._api import spawn

    facts = _facts()
    names = list(types or NAMESPACES)
    rows = []
    if sys.platform != "linux":
        cause = f"namespaces are a Linux kernel feature; this is {sys.platform}: read the stored notebook outputs, or use a Linux VM"
        rows = [dict(type=t, works=False, how="-", error="not Linux", cause=cause) for t in names]
        return Report(rows, facts, "Nothing can run here; the notebooks' stored outputs still show the lesson.")
    if not os.path.exists("/proc/self/ns"):
        cause = "no /proc/self/ns: mount procfs on /proc"
        rows = [dict(type=t, works=False, how="-", error="no /proc", cause=cause) for t in names]
        return Report(rows, facts, "Mount /proc first.")
    via = "via a user namespace" if facts["privilege"] == "user" else "directly"
    for t in names:
        # The time write is part of using the type, so try it with an offset.
        opts = {"monotonic": 1} if t == "time" else {}
        how = "directly" if t == "user" else via
        try:
            with spawn([t], **opts) as child:
                child.view()
            rows.append(dict(type=t, works=True, how=how, error=None, cause=None))
        except NslabError as err:
            code = err.errno
            name = os.strerror(code) if code else type(err).__name__
            rows.append(dict(type=t, works=False, how=how, error=name, cause=err.hint or err.message))
    bad = [r["type"] for r in rows if not r["works"]]
    if not bad and len(names) == len(NAMESPACES):
        verdict = "All eight namespace types work here: every notebook runs."
    elif not bad:
        verdict = f"{', '.join(names)}: {'works' if len(names) == 1 else 'all work'} here."
    elif len(bad) == len(rows):
        verdict = (
            "Nothing can run here: no namespace type can be created (the causes above say what to change). "
            "The notebooks' stored outputs still show the lesson."
        )
    else:
        verdict = f"Not available here: {', '.join(bad)}. Their demos explain why; the other notebooks run."
    return Report(rows, facts, verdict)
