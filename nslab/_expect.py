"""expect(): check an exercise against the kernel's actual state, with hints.

    >>> child = nslab.spawn(["uts"], hostname="lab-01")
    >>> nslab.expect(child, new=["uts"], hostname="lab-01")
    ✔ 2 checks passed

Each claim is read from the kernel: the child's View (read inside its
namespaces) against the caller's.  When one is wrong, ExerciseFailed (an
AssertionError) names what the kernel shows and hints at the fix, so a
notebook that stops proving its point fails under nbval.
"""

from __future__ import annotations

import html

from ._errors import NslabError, NsValueError
from ._ns import NAMESPACES, parse_namespaces

__all__ = ["Checked", "ExerciseFailed", "expect"]


class ExerciseFailed(NslabError, AssertionError):
    """An exercise's claim does not match the kernel's state."""

    def __init__(self, results):
        self.results = results
        bad = [r for r in results if not r[1]]
        msg = "; ".join(f"{name}: {seen}" for name, _ok, seen, _hint in bad)
        hints = " ".join(h for _n, _ok, _s, h in bad if h)
        super().__init__(f"{len(bad)} of {len(results)} checks failed — {msg}", hint=hints or None)

    def _render_traceback_(self):
        # IPython shows these lines instead of a traceback: the hint is the lesson.
        lines = [f"✘ {len([r for r in self.results if not r[1]])} of {len(self.results)} checks failed"]
        for name, ok, seen, hint in self.results:
            lines.append(f"  {'✔' if ok else '✘'} {name}: {seen}")
            if not ok and hint:
                lines.append(f"      hint: {hint}")
        return lines


class Checked:
    """What expect() returns when every claim holds; renders as a short list."""

    def __init__(self, results):
        self.results = results

    @property
    def ok(self):
        return all(r[1] for r in self.results)

    def __repr__(self):
        lines = [f"✔ {len(self.results)} checks passed"]
        lines += [f"  ✔ {name}: {seen}" for name, _ok, seen, _h in self.results]
        return "\n".join(lines)

    def _repr_html_(self):
        items = "".join(f"<li>✔ {html.escape(n)}: {html.escape(str(s))}</li>" for n, _o, s, _h in self.results)
        return f"<div style='color:#1e7e34'><b>✔ {len(self.results)} checks passed</b><ul>{items}</ul></div>"


def _view_of(target):
    from ._api import Child
    from ._view import View

    if isinstance(target, View):
        return target
    if isinstance(target, Child):
        return target.view()
    raise NsValueError(f"expect() checks a Child or a View, got {type(target).__name__}", hint="pass the child you spawned")


def expect(target, *, host=None, **claims):
    """Check claims about a child (or View) against the kernel; raise ExerciseFailed with hints if any is wrong.

    Claims: ``new`` / ``shared`` (namespace types that must differ from /
    equal the host's), ``hostname``, ``pid`` (as the child sees itself),
    ``nspid`` (its NSpid chain), ``uid`` (inside), ``uid_map``, ``links``
    (names, in order), ``routes`` (how many in the main table), ``boottime``
    / ``monotonic`` (offsets in seconds), ``cgroup`` (path inside),
    ``mounted`` (a mount point that must exist inside), ``not_mounted_on_host``
    (a mount source that must not be visible to the caller), ``rootfs`` (its
    own root, from spawn(rootfs=True)), ``ipc_objects``
    (how many System V objects inside).
    """
    from ._api import view

    if not claims:
        raise NsValueError("expect() needs at least one claim, e.g. hostname='lab-01'")
    inside = _view_of(target)
    outside = host or view()
    results = []

    def add(name, ok, seen, hint):
        results.append((name, bool(ok), seen, None if ok else hint))

    for key in ("new", "shared"):
        if key in claims:
            for t in parse_namespaces(claims.pop(key)):
                same = inside.ns.get(t) == outside.ns.get(t)
                want_new = key == "new"
                # Say it without inode numbers: they differ on every machine (and nbval compares).
                seen = "the host's" if same else "its own"
                hint = (
                    f"the {t} namespace is shared with the host: add '{t}' to the namespaces you spawn"
                    if want_new
                    else f"the {t} namespace is new: leave '{t}' out to share the host's ({NAMESPACES[t].man})"
                )
                add(f"{t} is {'new' if want_new else 'shared'}", same != want_new, seen, hint)
    if "hostname" in claims:
        want = claims.pop("hostname")
        add("hostname", inside.hostname == want, inside.hostname, f"pass hostname={want!r} and include 'uts'")
    if "pid" in claims:
        want = claims.pop("pid")
        add("pid inside", inside.pid == want, inside.pid, "a new PID namespace makes its first process PID 1: include 'pid'")
    if "nspid" in claims:
        want = list(claims.pop("nspid"))
        add("NSpid", inside.nspid == want, inside.nspid, "without a fresh /proc (pid and mnt together) NSpid still lists the host's number")
    if "uid" in claims:
        want = claims.pop("uid")
        add("uid inside", inside.uid == want, inside.uid, "map the id with uid_map= in a new user namespace")
    if "uid_map" in claims:
        want = [tuple(r) for r in claims.pop("uid_map")]
        add("uid_map", inside.uid_map == want, inside.uid_map, "uid_map lines are (inside, outside, count) (user_namespaces(7))")
    if "links" in claims:
        want = list(claims.pop("links"))
        names = [link["name"] for link in inside.links]
        add("links", names == want, names, "a new network namespace starts with only lo: include 'net'")
    if "routes" in claims:
        want = claims.pop("routes")
        add("routes in main table", len(inside.routes) == want, len(inside.routes), "a fresh network namespace has no routes until links are up and addressed")
    for clock in ("boottime", "monotonic"):
        if clock in claims:
            want = claims.pop(clock)
            got = (inside.offsets or {}).get(clock)
            add(f"{clock} offset", got == want, got, f"pass {clock}={want} and include 'time'")
    if "cgroup" in claims:
        want = claims.pop("cgroup")
        add("cgroup inside", inside.cgroup == want, inside.cgroup, "a new cgroup namespace makes the creator's cgroup its root '/': include 'cgroup'")
    if "mounted" in claims:
        want = claims.pop("mounted")
        points = [m["mount_point"] for m in inside.mounts]
        # Not the mount count: it differs from host to host.
        add(f"{want} mounted inside", want in points, "mounted" if want in points else "not mounted", "mount it inside the child (child.run(['mount', ...])) with 'mnt' new")
    if "rootfs" in claims:
        want = bool(claims.pop("rootfs"))
        root = next((m for m in inside.mounts if m["mount_point"] == "/"), None)
        own = root is not None and root["source"] == "nslab-rootfs"
        add("own root filesystem" if want else "the host's root", own == want, "its own" if own else "the host's", "spawn with rootfs=True (and 'mnt')")
    if "not_mounted_on_host" in claims:
        src = claims.pop("not_mounted_on_host")
        leaked = [m["mount_point"] for m in outside.mounts if m["source"] == src]
        add(f"{src} invisible on the host", not leaked, leaked or "not visible", "the mount leaked: a new mount namespace needs / made private first")
    if "ipc_objects" in claims:
        want = claims.pop("ipc_objects")
        got = sum(len(inside.ipc.get(k) or []) for k in ("shm", "msg", "sem"))
        add("System V objects inside", got == want, got, "a new IPC namespace starts empty: include 'ipc'")
    if claims:
        raise NsValueError(f"unknown claims: {', '.join(sorted(claims))}")
    if all(r[1] for r in results):
        return Checked(results)
    raise ExerciseFailed(results)
