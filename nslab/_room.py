"""A room report: many machines' ``nslab doctor --json``, merged.

    nslab doctor --json > reports/$(hostname).json      (on each learner's machine)
    nslab doctor --merge reports/*.json                 (the facilitator; --json too)

For each namespace type: how many machines can create it, and why the others
cannot; for each machine: what fails and the one fix for each cause; for each
cause: which machines need that fix.  A machine is named by its report's file
name (``alice.json`` is ``alice``), or by ``facts.hostname`` when a report
carries one.

Causes are named from the report itself: first the cause text doctor wrote
(it ran on that machine, so it read that machine's sysctls and seccomp mode),
then the facts doctor recorded (``seccomp``, ``apparmor_restrict_unprivileged_userns``,
``unprivileged_userns_clone``, ``max_namespaces``), then the errno.
"""

from __future__ import annotations

import json
import os
from collections import Counter

from ._ns import NAMESPACES

__all__ = ["CAUSES", "RoomReport", "classify", "load_reports", "merge_main", "room"]

# key: (short label, what to do). The FACTS.md failure table, for a facilitator.
CAUSES = {
    "seccomp": (
        "seccomp filter (container default profile)",
        "run the container with a seccomp profile that allows unshare, setns and mount "
        "(docker run --security-opt seccomp=unconfined, or hub/z2jh-values.yaml's), or use a VM",
    ),
    "apparmor": (
        "AppArmor userns restriction",
        "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 "
        "(persist it in /etc/sysctl.d/60-nslab.conf), or an AppArmor profile that allows userns for the kit's python",
    ),
    "debian-userns-clone": (
        "kernel.unprivileged_userns_clone=0",
        "sudo sysctl -w kernel.unprivileged_userns_clone=1, or run the kit as root",
    ),
    "no-userns": (
        "user.max_user_namespaces=0",
        "sudo sysctl -w user.max_user_namespaces=15000, or run the kit as root",
    ),
    "limit": (
        "user.max_<type>_namespaces limit",
        "raise the limit named, e.g. sudo sysctl -w user.max_net_namespaces=1000, or close other children",
    ),
    "no-time-ns": (
        "no CONFIG_TIME_NS (WSL2, Linux < 5.6)",
        "skip 07-time (every other notebook runs), or use a VM or a kernel with CONFIG_TIME_NS=y",
    ),
    "not-linux": (
        "not Linux",
        "use a Linux VM or the class JupyterHub; meanwhile the notebooks' stored outputs carry the lesson",
    ),
    "no-proc": ("no /proc", "mount procfs on /proc"),
    "other": ("other", "see the machine's own nslab doctor output"),
}

_EPERM = {"Operation not permitted", "Permission denied"}


def _limit_sysctl(nstype, facts):
    limits = (facts or {}).get("max_namespaces") or {}
    return f"user.max_{nstype}_namespaces", limits.get(nstype)


def classify(row, facts):
    """The CAUSES key for one failing doctor row, and a detail (a sysctl, or doctor's own text)."""
    facts = facts or {}
    cause = row.get("cause") or ""
    error = row.get("error") or ""
    nstype = row.get("type")
    user_limit = ((facts.get("max_namespaces") or {}).get("user") or "").strip()
    if error == "not Linux" or (facts.get("platform") not in (None, "linux")):
        return "not-linux", facts.get("platform")
    if error == "no /proc":
        return "no-proc", None
    low = cause.lower()
    if "seccomp" in low:
        return "seccomp", None
    if "apparmor" in low:
        return "apparmor", None
    if "unprivileged_userns_clone" in low:
        return "debian-userns-clone", None
    if "config_time_ns" in low or (nstype == "time" and error == "Invalid argument"):
        return "no-time-ns", None
    if "max_user_namespaces" in low or (error == "No space left on device" and user_limit == "0" and row.get("how") != "directly"):
        return "no-userns", "user.max_user_namespaces"
    if "max_" in low or error == "No space left on device":
        name, _value = _limit_sysctl(nstype, facts)
        return "limit", name
    if error in _EPERM:
        # doctor's text did not say; fall back on the facts it recorded.
        if str(facts.get("seccomp")) == "2":
            return "seccomp", None
        if str(facts.get("apparmor_restrict_unprivileged_userns")) == "1" and facts.get("privilege") != "root":
            return "apparmor", None
        if str(facts.get("unprivileged_userns_clone")) == "0" and facts.get("privilege") != "root":
            return "debian-userns-clone", None
    return "other", cause or error or None


def _is_report(doc):
    return isinstance(doc, dict) and isinstance(doc.get("namespaces"), list) and all(
        isinstance(r, dict) and "type" in r and "works" in r for r in doc["namespaces"]
    )


def load_reports(paths):
    """[(machine name, report dict)] from doctor --json files (a directory means its *.json)."""
    files = []
    for path in paths:
        if os.path.isdir(path):
            files += sorted(os.path.join(path, f) for f in os.listdir(path) if f.endswith(".json"))
        else:
            files.append(path)
    out, seen = [], Counter()
    for path in files:
        with open(path, encoding="utf-8") as f:
            try:
                doc = json.load(f)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}: not JSON ({err.msg}, line {err.lineno}): make it with nslab doctor --json") from err
        if not _is_report(doc):
            raise ValueError(f"{path}: not an nslab doctor --json report (no 'namespaces' rows)")
        name = (doc.get("facts") or {}).get("hostname") or os.path.splitext(os.path.basename(path))[0]
        seen[name] += 1
        if seen[name] > 1:
            name = f"{name}#{seen[name]}"
        out.append((name, doc))
    return out


class RoomReport:
    """The merged view: ``types`` (per type), ``machines`` (per machine), ``fixes`` (per cause)."""

    def __init__(self, reports):
        self.reports = list(reports)
        order = list(NAMESPACES)
        for _name, doc in self.reports:
            for r in doc["namespaces"]:
                if r["type"] not in order:
                    order.append(r["type"])
        self.machines = []
        by_cause = {}
        for name, doc in self.reports:
            facts = doc.get("facts") or {}
            failing = {}
            for r in doc["namespaces"]:
                if not r["works"]:
                    key, detail = classify(r, facts)
                    failing[r["type"]] = {"cause": key, "detail": detail, "error": r.get("error"), "text": r.get("cause")}
            causes = []
            for t, f in failing.items():
                if f["cause"] not in causes:
                    causes.append(f["cause"])
                entry = by_cause.setdefault(f["cause"], {"machines": [], "types": [], "details": []})
                if name not in entry["machines"]:
                    entry["machines"].append(name)
                if t not in entry["types"]:
                    entry["types"].append(t)
                if f["detail"] and f["cause"] in ("limit", "no-userns", "other") and f["detail"] not in entry["details"]:
                    entry["details"].append(f["detail"])
            works = [r["type"] for r in doc["namespaces"] if r["works"]]
            self.machines.append(
                {
                    "machine": name,
                    "ok": not failing,
                    "works": works,
                    "failing": failing,
                    "causes": causes,
                    "fixes": [CAUSES[c][1] for c in causes],
                    "privilege": facts.get("privilege"),
                    "kernel": facts.get("kernel"),
                }
            )
        self.types = []
        for t in order:
            rows = [(m["machine"], t in m["works"], m["failing"].get(t)) for m in self.machines]
            present = [x for x in rows if x[1] or x[2]]
            counts = Counter(f["cause"] for _n, ok, f in present if not ok)
            self.types.append({"type": t, "works": sum(1 for x in present if x[1]), "of": len(present), "causes": dict(counts)})
        self.fixes = [
            {
                "cause": key,
                "label": CAUSES[key][0],
                "fix": CAUSES[key][1],
                "machines": v["machines"],
                "types": [t for t in order if t in v["types"]],
                "details": v["details"],
            }
            for key, v in sorted(by_cause.items(), key=lambda kv: (-len(kv[1]["machines"]), list(CAUSES).index(kv[0])))
        ]

    @property
    def ok(self):
        return bool(self.machines) and all(m["ok"] for m in self.machines)

    def to_dict(self):
        return {
            "machines": self.machines,
            "types": self.types,
            "fixes": self.fixes,
            "summary": {"machines": len(self.machines), "ready": sum(m["ok"] for m in self.machines)},
            "ok": self.ok,
        }

    def to_json(self):
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def __repr__(self):
        n = len(self.machines)
        ready = sum(m["ok"] for m in self.machines)
        lines = [f"nslab room: {n} machine{'s' if n != 1 else ''}, {ready} can run every notebook", ""]
        lines.append(f"{'type':<8}{'works':>7}  why not")
        for t in self.types:
            why = ", ".join(f"{CAUSES[c][0]} ×{k}" for c, k in sorted(t["causes"].items(), key=lambda kv: -kv[1]))
            lines.append(f"{t['type']:<8}{str(t['works']) + '/' + str(t['of']):>7}  {why}".rstrip())
        lines += ["", "machines"]
        width = max([len(m["machine"]) for m in self.machines] + [7])
        for m in self.machines:
            if m["ok"]:
                lines.append(f"  {m['machine']:<{width}}  all {len(m['works'])} types work")
            else:
                bad = ", ".join(m["failing"])
                labels = "; ".join(CAUSES[c][0] for c in m["causes"])
                lines.append(f"  {m['machine']:<{width}}  NO: {bad} ({labels})")
        if self.fixes:
            lines += ["", "fixes"]
            for f in self.fixes:
                detail = f" [{', '.join(f['details'])}]" if f["details"] else ""
                lines.append(f"  {f['label']}{detail}: {', '.join(f['machines'])}")
                lines.append(f"      {f['fix']}")
        return "\n".join(lines)


def room(paths_or_reports):
    """A RoomReport from doctor --json paths, or from [(name, report dict)] pairs."""
    items = list(paths_or_reports)
    if items and all(isinstance(x, (str, os.PathLike)) for x in items):
        items = load_reports(items)
    return RoomReport(items)


def merge_main(paths, *, json_out, out, err=None):
    """``nslab doctor --merge FILES``: 0 when every machine runs everything, 1 when some need a fix, 2 on bad input."""
    import sys

    err = err or sys.stderr
    try:
        rep = room(load_reports(paths))
    except (OSError, ValueError) as exc:
        print(f"nslab doctor --merge: {exc}", file=err)
        return 2
    if not rep.machines:
        print("nslab doctor --merge: no reports found", file=err)
        return 2
    print(rep.to_json() if json_out else repr(rep), file=out)
    return 0 if rep.ok else 1
