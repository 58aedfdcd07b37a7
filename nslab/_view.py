"""View: what one process sees, parsed on demand, and diff() of two views.

A View holds the raw texts that `_gather.gather` collected inside the
process's namespaces; each attribute parses its text the first time it is
read, and ``frame(topic)`` builds a DataFrame only when asked (pandas is
imported then, not before: the helper and children never import it).
"""

from __future__ import annotations

import functools
import html
from typing import NamedTuple

from . import _parse
from ._errors import NsValueError
from ._ns import NAMESPACES

__all__ = ["DIFF_COLUMNS", "FRAME_COLUMNS", "NsRef", "View", "diff"]


class NsRef(NamedTuple):
    """One namespace: its type and the (st_dev, st_ino) of its nsfs file, which together are its identity."""

    type: str
    dev: int
    ino: int

    def __str__(self):
        return f"{self.type}:[{self.ino}]"  # what readlink prints (namespaces(7))


# Fixed, documented columns of every frame (tests hold the kit to these).
FRAME_COLUMNS = {
    "ns": ["type", "link", "ref", "inode", "dev"],
    "pid": ["name", "pid", "ppid", "nspid", "depth", "state"],
    "ids": ["map", "inside", "outside", "count"],
    "mounts": ["mount_id", "parent_id", "mount_point", "fstype", "source", "propagation", "options"],
    "links": ["index", "name", "kind", "state", "flags", "mtu", "addresses"],
    "routes": ["family", "dst", "gateway", "dev", "scope", "protocol", "type"],
    "ipc": ["kind", "key", "id", "perms", "uid", "size"],
    "clocks": ["clock", "seconds", "offset"],
    "cgroups": ["hierarchy", "controllers", "path"],
}
TOPICS = tuple(FRAME_COLUMNS)


class View:
    """What one process sees.  Build one with `nslab.view()` or `Child.view()`."""

    def __init__(self, data, label=None):
        self._d = data
        self.label = label or f"pid {data.get('pid')}"

    # --- identity ---------------------------------------------------------
    @functools.cached_property
    def ns(self):
        """{link name: NsRef} for every readable /proc/PID/ns link (ten on Linux 5.6+)."""
        out = {}
        for link, val in self._d["ns"].items():
            if val:
                out[link] = NsRef(link.replace("_for_children", ""), val[0], val[1])
        return out

    @property
    def rootfs(self):
        """How the child's own root was made (spawn(rootfs=True)), or None."""
        return self._d.get("rootfs")

    @property
    def errors(self):
        """{part: reason} for everything that could not be read (nothing is dropped silently)."""
        return dict(self._d.get("errors", {}))

    @property
    def raw(self):
        return self._d

    def _file(self, name):
        return self._d["files"].get(name)

    # --- uts --------------------------------------------------------------
    @property
    def hostname(self):
        return self._d["uts"]["nodename"]

    @property
    def domainname(self):
        return self._d["uts"].get("domainname")

    # --- pid --------------------------------------------------------------
    @functools.cached_property
    def status(self):
        text = self._file("status")
        return _parse.parse_status(text) if text is not None else {}

    @property
    def pid(self):
        """The PID the process has in its own PID namespace (getpid())."""
        nspid = self.nspid
        if self._d.get("proc_pid") == "self":
            return self._d["pid"]
        return nspid[-1] if nspid else self._d["pid"]

    @property
    def nspid(self):
        """The NSpid chain: leftmost relative to the PID namespace of the procfs read (proc(5))."""
        return list(self.status.get("nspid") or [])

    @property
    def name(self):
        return self.status.get("name")

    # --- user -------------------------------------------------------------
    @functools.cached_property
    def uid_map(self):
        text = self._file("uid_map")
        return _parse.parse_idmap(text) if text is not None else []

    @functools.cached_property
    def gid_map(self):
        text = self._file("gid_map")
        return _parse.parse_idmap(text) if text is not None else []

    @property
    def setgroups(self):
        text = self._file("setgroups")
        return _parse.parse_setgroups(text) if text is not None else None

    @property
    def uid(self):
        """The effective uid, as this process sees itself."""
        return self._d.get("creds", {}).get("euid", (self.status.get("uid") or [None, None])[1])

    @property
    def gid(self):
        return self._d.get("creds", {}).get("egid", (self.status.get("gid") or [None, None])[1])

    # --- mnt --------------------------------------------------------------
    @functools.cached_property
    def mounts(self):
        text = self._file("mountinfo")
        return _parse.parse_mountinfo(text) if text is not None else []

    # --- net --------------------------------------------------------------
    @functools.cached_property
    def links(self):
        """Links with their addresses: dicts from the rtnetlink dump, plus ``addresses`` ("10.0.0.1/24")."""
        net = self._d.get("net") or {}
        addrs = {}
        for a in net.get("addrs", []):
            addrs.setdefault(a["index"], []).append(f"{a['address']}/{a['prefixlen']}")
        out = []
        for link in sorted(net.get("links", []), key=lambda link: link["index"]):
            link = dict(link, addresses=addrs.get(link["index"], []))
            out.append(link)
        return out

    @functools.cached_property
    def routes(self):
        """Routes of the main table (RT_TABLE_MAIN, 254): what `ip route` shows."""
        net = self._d.get("net") or {}
        names = {link["index"]: link["name"] for link in net.get("links", [])}
        return [dict(r, dev=names.get(r.get("oif"))) for r in net.get("routes", []) if r.get("table") == 254]

    # --- ipc --------------------------------------------------------------
    @functools.cached_property
    def ipc(self):
        """{"shm": [...], "msg": [...], "sem": [...], "mqueue": [names] or None when it cannot be known}."""
        out = {}
        for kind, text in (self._d.get("sysvipc") or {}).items():
            out[kind] = _parse.parse_sysvipc(kind, text) if text is not None else None
        out["mqueue"] = self._d.get("mqueue")
        return out

    # --- time -------------------------------------------------------------
    @property
    def clocks(self):
        """Seconds on CLOCK_MONOTONIC, CLOCK_BOOTTIME and CLOCK_REALTIME, read inside."""
        return {k: v / 1e9 for k, v in self._d["clocks"].items()}

    @functools.cached_property
    def offsets(self):
        """{"monotonic": s, "boottime": s}: this time namespace's offsets (time_namespaces(7))."""
        text = self._file("timens_offsets")
        if text is None:
            return None
        return {k: v / 1e9 for k, v in _parse.parse_timens_offsets(text).items()}

    # --- cgroup -----------------------------------------------------------
    @functools.cached_property
    def cgroups(self):
        text = self._file("cgroup")
        return _parse.parse_cgroup(text) if text is not None else []

    @property
    def cgroup(self):
        """The unified (v2) hierarchy's path, or the first one listed."""
        for hier, _ctl, path in self.cgroups:
            if hier == 0:
                return path
        return self.cgroups[0][2] if self.cgroups else None

    # --- frames -----------------------------------------------------------
    def frame(self, topic):
        """One topic as a DataFrame with the columns in FRAME_COLUMNS[topic]."""
        if topic not in FRAME_COLUMNS:
            raise NsValueError(f"unknown topic {topic!r}", hint=f"topics: {', '.join(TOPICS)}")
        import pandas as pd

        rows = getattr(self, f"_rows_{topic}")()
        return pd.DataFrame(rows, columns=FRAME_COLUMNS[topic])

    def _rows_ns(self):
        return [(r.type, link, str(r), r.ino, r.dev) for link, r in self.ns.items()]

    def _rows_pid(self):
        s = self.status
        return [(s.get("name"), self.pid, s.get("ppid"), " ".join(map(str, self.nspid)), len(self.nspid), s.get("state"))]

    def _rows_ids(self):
        return [("uid", *r) for r in self.uid_map] + [("gid", *r) for r in self.gid_map]

    def _rows_mounts(self):
        return [
            (m["mount_id"], m["parent_id"], m["mount_point"], m["fstype"], m["source"], m["propagation"], m["mount_options"])
            for m in self.mounts
        ]

    def _rows_links(self):
        return [
            (link["index"], link["name"], link.get("kind"), link.get("state"), ",".join(link.get("flags") or []), link.get("mtu"), " ".join(link["addresses"]))
            for link in self.links
        ]

    def _rows_routes(self):
        return [(r.get("family"), r.get("dst"), r.get("gateway"), r.get("dev"), r.get("scope"), r.get("protocol"), r.get("type")) for r in self.routes]

    def _rows_ipc(self):
        rows = []
        size_col = {"shm": "size", "msg": "cbytes", "sem": "nsems"}
        for kind in ("shm", "msg", "sem"):
            for o in self.ipc.get(kind) or []:
                rows.append((kind, o.get("key"), o.get("id"), oct(o.get("perms", 0)), o.get("uid"), o.get(size_col[kind])))
        for name in self.ipc.get("mqueue") or []:
            rows.append(("mqueue", None, name, None, None, None))
        return rows

    def _rows_clocks(self):
        off = self.offsets or {}
        return [(c, s, off.get(c, 0.0) if c != "realtime" else 0.0) for c, s in self.clocks.items()]

    def _rows_cgroups(self):
        return [tuple(r) for r in self.cgroups]

    # --- summaries (one line per namespace type, used by diff) ----------
    def sees(self, nstype):
        """A one-line summary of what this process sees of one namespace type."""
        if nstype == "uts":
            dn = self.domainname
            return self.hostname + (f" (domain {dn})" if dn and dn != "(none)" else "")
        if nstype == "pid":
            return f"pid {self.pid}, NSpid {' '.join(map(str, self.nspid))}"
        if nstype == "net":
            return ", ".join(f"{link['name']} {link.get('state')}" for link in self.links) or "no links"
        if nstype == "mnt":
            root = next((m for m in self.mounts if m["mount_point"] == "/"), None)
            text = f"{len(self.mounts)} mounts, / {root['propagation'] if root else '?'}"
            # NSpid has one entry exactly when the procfs read belongs to the
            # process's own PID namespace (proc(5)): the /proc-not-remounted trap.
            if len(self.nspid) == 1:
                text += ", /proc of its own PID namespace"
            elif self.nspid:
                text += ", /proc of an outer PID namespace"
            return text
        if nstype == "ipc":
            return ", ".join(f"{k} {len(v or [])}" for k, v in self.ipc.items() if k != "mqueue")
        if nstype == "user":
            maps = "; ".join(" ".join(map(str, r)) for r in self.uid_map)
            return f"uid {self.uid}, uid_map {maps}"
        if nstype == "time":
            off = self.offsets
            if off is None:
                return "no time namespaces on this kernel"
            return f"monotonic {off.get('monotonic', 0):+.0f} s, boottime {off.get('boottime', 0):+.0f} s"
        if nstype == "cgroup":
            return f"cgroup {self.cgroup}"
        raise NsValueError(f"unknown namespace type {nstype!r}")

    # --- rendering --------------------------------------------------------
    def _summary_rows(self):
        return [(t, str(self.ns[t]) if t in self.ns else "?", self.sees(t)) for t in NAMESPACES]

    def __repr__(self):
        width = max(len(r[1]) for r in self._summary_rows())
        lines = [f"View of {self.label}"]
        lines += [f"  {t:<7}{ref:<{width + 2}}{sees}" for t, ref, sees in self._summary_rows()]
        return "\n".join(lines)

    def _repr_html_(self):
        rows = "".join(
            f"<tr><td>{t}</td><td><code>{html.escape(ref)}</code></td><td>{html.escape(sees)}</td></tr>"
            for t, ref, sees in self._summary_rows()
        )
        return f"<b>View of {html.escape(self.label)}</b><table><tr><th>type</th><th>namespace</th><th>sees</th></tr>{rows}</table>"


DIFF_COLUMNS = ["type", "a", "b", "shared", "a_sees", "b_sees", "differs"]


def diff(a, b, labels=None):
    """One row per namespace type: both namespaces, whether they are shared, and what each process sees.

    Columns (with the default labels "a" and "b"): type, a, b (namespace
    references such as ``uts:[4026531838]``), shared (same st_dev and
    st_ino), a_sees, b_sees (one-line summaries), differs (the summaries
    differ).  ``labels=("host", "child")`` renames a and b.
    """
    import pandas as pd

    la, lb = labels or ("a", "b")
    rows = []
    for t in NAMESPACES:
        ra, rb = a.ns.get(t), b.ns.get(t)
        sa, sb = a.sees(t), b.sees(t)
        rows.append((t, str(ra) if ra else None, str(rb) if rb else None, ra is not None and ra == rb, sa, sb, sa != sb))
    cols = ["type", la, lb, "shared", f"{la}_sees", f"{lb}_sees", "differs"]
    return pd.DataFrame(rows, columns=cols)
