"""Host-hygiene checks: prove that nothing the kit does stays on the host.

This module ships with the package (click's habit: the test helper travels
with the library) so that a notebook exercise, a CI job and the kit's own
tests all check the same things::

    from nslab.testing import snapshot, assert_host_unchanged
    before = snapshot()
    ...  # run a demo
    assert_host_unchanged(before)  # AssertionError with a readable diff

A snapshot records, for the calling process and the host around it:

=================  ==========================================================
label              source
=================  ==========================================================
hostname           ``os.uname().nodename``
domainname         ``/proc/sys/kernel/domainname``
mounts(1)          ``/proc/1/mountinfo`` (proc(5))
mounts(self)       ``/proc/self/mountinfo``
run-netns          listing of ``/run/netns`` (``<absent>`` is a valid state)
netns-mounts       mounts at or under ``/run/netns`` (``ip netns`` leftovers)
links              ``ip -j link show`` in the caller's network namespace
sysv-shm/msg/sem   ``/proc/sysvipc/*`` rows minus volatile columns (proc(5))
mqueue             POSIX message queues of the caller's IPC namespace
descendants        the caller's descendant processes, zombies included
fds                the caller's open file descriptors
ports              listening TCP and bound UDP sockets (``/proc/net/*``)
max-namespaces     ``/proc/sys/user/max_*_namespaces``
namespaces         ``/proc/self/ns/*`` link targets
=================  ==========================================================

A source that cannot be read raises :class:`SnapshotError`: an unreadable
file must never look like "nothing leaked".  The one exception is the mqueue
listing, which an unprivileged caller without a ``/dev/mqueue`` mount cannot
make at all; it is recorded as ``"unlistable: <reason>"`` and reported in
:attr:`HostSnapshot.unreadable`.

The /proc parsers here are deliberately small and local: the kit's own
parsers (``nslab._parse``) are what these checks check, so they are not used.
Only the standard library is imported.
"""

from __future__ import annotations

import collections
import dataclasses
import errno
import glob
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import time
from typing import NamedTuple

__all__ = [
    "Fd",
    "HostSnapshot",
    "Link",
    "Mount",
    "Port",
    "Proc",
    "SnapshotError",
    "assert_host_unchanged",
    "descendants",
    "open_fds",
    "really_root",
    "snapshot",
]


class SnapshotError(RuntimeError):
    """A snapshot source could not be read; ``source`` names it (a diff label)."""

    def __init__(self, source: str, message: str):
        super().__init__(f"{source}: {message}")
        self.source = source


# ---------------------------------------------------------------- row types


class Mount(NamedTuple):
    """One /proc/PID/mountinfo row (proc(5)); paths stay octal-escaped (``\\040``).

    ``mount_id`` is kept so that a new mount where another was is a change,
    but the kernel recycles the lowest free id at once: a remount identical
    in every field (same id, point, type, source, options) is invisible to
    mountinfo.  Kernels 6.8+ have unique 64-bit ids (statx
    STATX_MNT_ID_UNIQUE, listmount(2)) that could close that gap.
    """

    mount_id: int
    mount_point: str
    fstype: str
    source: str
    propagation: str  # the optional fields ("shared:1 master:2"), or "private"
    options: str  # per-mount options (rw,nosuid,...)
    root: str
    parent_id: int

    def __str__(self):
        return (
            f"{self.mount_id} {self.mount_point} {self.fstype} {self.source} "
            f"{self.propagation} {self.options} root={self.root} parent={self.parent_id}"
        )


class Link(NamedTuple):
    name: str
    ifindex: int
    operstate: str

    def __str__(self):
        return f"{self.ifindex} {self.name} {self.operstate}"


class Proc(NamedTuple):
    pid: int
    comm: str
    state: str  # the state letter of /proc/PID/stat ("Z" for a zombie)

    def __str__(self):
        return f"{self.pid} {self.comm} {self.state}"


class Fd(NamedTuple):
    fd: int
    target: str

    def __str__(self):
        return f"{self.fd} {self.target}"


class Port(NamedTuple):
    proto: str  # tcp, tcp6, udp, udp6
    address: str
    port: int

    def __str__(self):
        return f"{self.proto} {self.address} {self.port}"


def _fmt(row) -> str:
    if isinstance(row, str):
        return row
    if type(row).__str__ is not tuple.__str__:  # the NamedTuples above
        return str(row)
    return " ".join(str(x) for x in row)


# ---------------------------------------------------------------- the record


def _src(label):
    return dataclasses.field(metadata={"label": label})


@dataclasses.dataclass(frozen=True)
class HostSnapshot:
    """A frozen, comparable record of the host state the kit must not change.

    Collection fields are sorted tuples, so ``==`` compares content and a
    snapshot is hashable.  ``diff`` explains an inequality line by line.
    """

    hostname: str = _src("hostname")
    domainname: str = _src("domainname")
    mounts_init: tuple[Mount, ...] = _src("mounts(1)")
    mounts_self: tuple[Mount, ...] = _src("mounts(self)")
    run_netns: tuple[str, ...] = _src("run-netns")
    netns_mounts: tuple[str, ...] = _src("netns-mounts")
    links: tuple[Link, ...] = _src("links")
    sysv_shm: tuple[str, ...] = _src("sysv-shm")
    sysv_msg: tuple[str, ...] = _src("sysv-msg")
    sysv_sem: tuple[str, ...] = _src("sysv-sem")
    mqueue: str | tuple[str, ...] = _src("mqueue")
    descendants: tuple[Proc, ...] = _src("descendants")
    fds: tuple[Fd, ...] = _src("fds")
    ports: tuple[Port, ...] = _src("ports")
    max_namespaces: tuple[tuple[str, int], ...] = _src("max-namespaces")
    namespaces: tuple[tuple[str, str], ...] = _src("namespaces")

    @property
    def unreadable(self) -> tuple[str, ...]:
        """Sources recorded as "unlistable: <reason>" rather than read."""
        return tuple(
            f"{f.metadata['label']}: {v}"
            for f in dataclasses.fields(self)
            if isinstance(v := getattr(self, f.name), str) and v.startswith("unlistable:")
        )

    def diff(self, other: HostSnapshot) -> list[str]:
        """Lines ``label: - row`` (only in self) and ``label: + row`` (only in other)."""
        out = []
        for f in dataclasses.fields(self):
            label = f.metadata["label"]
            a, b = getattr(self, f.name), getattr(other, f.name)
            if a == b:
                continue
            ca = collections.Counter(_lines(a))
            cb = collections.Counter(_lines(b))
            out += [f"{label}: - {line}" for line in sorted((ca - cb).elements())]
            out += [f"{label}: + {line}" for line in sorted((cb - ca).elements())]
        return out


def _lines(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [_fmt(row) for row in value]


# ---------------------------------------------------------------- readers

# Every file read goes through _read_text, so a test can make one source
# unreadable by monkeypatching it and see the snapshot refuse.


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        return f.read()


def _read(source: str, path: str) -> str:
    try:
        return _read_text(path)
    except OSError as err:
        raise SnapshotError(source, f"cannot read {path}: {err}") from err


_OCTAL = re.compile(r"\\([0-7]{3})")


def _unescape(path: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo (proc(5)).
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), path)


def _parse_mountinfo(text: str, source: str) -> tuple[Mount, ...]:
    """proc(5): ``id parent maj:min root point opts [optional...] - fstype source superopts``."""
    rows = []
    for line in text.splitlines():
        f = line.split(" ")
        try:
            sep = f.index("-", 6)
            rows.append(
                Mount(
                    mount_id=int(f[0]),
                    parent_id=int(f[1]),
                    root=f[3],
                    mount_point=f[4],
                    options=f[5],
                    propagation=" ".join(f[6:sep]) or "private",
                    fstype=f[sep + 1],
                    source=f[sep + 2],
                )
            )
        except (ValueError, IndexError) as err:
            raise SnapshotError(source, f"unexpected mountinfo line {line!r}") from err
    # Super-block options (the last field) are left out: they describe the
    # filesystem, not the mount, and the mount's own options are kept.
    return tuple(sorted(rows))


def _hostname() -> str:
    return os.uname().nodename


def _run_netns() -> tuple[str, ...]:
    try:
        names = os.listdir("/run/netns")
    except FileNotFoundError:
        return ("<absent>",)
    except OSError as err:
        raise SnapshotError("run-netns", f"cannot list /run/netns: {err}") from err
    return ("<dir>", *sorted(names))


def _netns_mounts(*tables: tuple[Mount, ...]) -> tuple[str, ...]:
    found = set()
    for who, table in zip(("1", "self"), tables, strict=True):
        for m in table:
            point = _unescape(m.mount_point)
            if point == "/run/netns" or point.startswith("/run/netns/"):
                found.add(f"{who} {m.mount_id} {m.mount_point} {m.fstype} {m.propagation}")
    return tuple(sorted(found))


def _which(tool: str) -> str | None:
    # Unprivileged PATHs often lack the sbin directories where `ip` lives.
    path = os.environ.get("PATH", os.defpath) + ":/usr/sbin:/sbin:/usr/bin:/bin"
    return shutil.which(tool, path=path)


def _run(source: str, argv: list[str], timeout: float = 10.0) -> str:
    try:
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            errors="surrogateescape",
            timeout=timeout,
            env={**os.environ, "LC_ALL": "C"},
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as err:
        raise SnapshotError(source, f"cannot run {argv[0]}: {err}") from err
    if proc.returncode != 0:
        raise SnapshotError(source, f"{argv[0]} exited {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


def _links() -> tuple[Link, ...]:
    # An independent tool, not the kit's netlink code: `ip -j` (iproute2 JSON).
    ip = _which("ip")
    if ip is None:
        raise SnapshotError("links", "`ip` (iproute2) not found; install it to check links")
    out = _run("links", [ip, "-j", "link", "show"])
    try:
        return tuple(
            sorted(Link(d["ifname"], int(d["ifindex"]), d.get("operstate", "UNKNOWN")) for d in json.loads(out))
        )
    except (ValueError, KeyError, TypeError) as err:
        raise SnapshotError("links", f"unexpected `ip -j link show` output: {out[:200]!r}") from err


# proc(5) /proc/sysvipc: columns that change while an object merely exists
# (times, attach counts, last-operation pids, usage counters) are dropped so
# that a host program using its own objects does not look like a leak; the
# identity columns (key, id, perms, owners, size) stay.
_SYSV_VOLATILE = frozenset("atime dtime ctime stime rtime otime nattch lpid lspid lrpid rss swap cbytes qnum".split())


def _sysv(kind: str) -> tuple[str, ...]:
    source = f"sysv-{kind}"
    lines = _read(source, f"/proc/sysvipc/{kind}").splitlines()
    if not lines:
        raise SnapshotError(source, f"/proc/sysvipc/{kind} has no header line")
    header = lines[0].split()
    rows = []
    for line in lines[1:]:
        values = line.split()
        if len(values) != len(header):
            raise SnapshotError(source, f"unexpected line {line!r}")
        rows.append(" ".join(f"{k}={v}" for k, v in zip(header, values, strict=True) if k not in _SYSV_VOLATILE))
    return tuple(sorted(rows))


# ---- POSIX message queues

# Listing through a private mount namespace costs a process start (~12 ms),
# so the *decision* whether that method works is cached per (euid, mount ns,
# IPC ns); the listing itself is always made afresh.
_MQ_PROBED: dict[tuple, str | None] = {}

# Runs as `unshare --mount --propagation private -- python -I -S -c CODE`:
# the mount exists only in the child's private mount namespace and dies with it.
# Queue names may hold any byte but "/" and NUL (mq_overview(7)): NUL-separated.
_MQ_CHILD = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.mount(b"mqueue", b"/tmp", b"mqueue", 0, None) != 0:
    sys.exit("mount mqueue on /tmp: " + os.strerror(ctypes.get_errno()))
sys.stdout.buffer.write(b"\\0".join([b"ok", *os.listdir(b"/tmp")]))
"""


def _mq_via_unshare() -> tuple[str, ...]:
    """The caller's IPC namespace's queues, listed by a child with a private mqueue mount."""
    unshare = _which("unshare")
    if unshare is None:
        raise SnapshotError("mqueue", "unshare(1) not found")
    out = _run(
        "mqueue", [unshare, "--mount", "--propagation", "private", "--", sys.executable, "-I", "-S", "-c", _MQ_CHILD]
    )
    ok, *names = out.split("\0")
    if ok != "ok":
        raise SnapshotError("mqueue", f"unexpected listing {out[:200]!r}")
    return tuple(sorted(names))


def _mqueue(mounts_self: tuple[Mount, ...]) -> str | tuple[str, ...]:
    # mqueue mounts show the queues of the IPC namespace that mounted them
    # (mq_overview(7)); the last mount on /dev/mqueue is the visible one.
    at_dev = [m for m in mounts_self if _unescape(m.mount_point) == "/dev/mqueue"]
    if at_dev and max(at_dev, key=lambda m: m.mount_id).fstype == "mqueue":
        try:
            return tuple(sorted(os.listdir("/dev/mqueue")))
        except OSError as err:
            raise SnapshotError("mqueue", f"cannot list /dev/mqueue: {err}") from err
    if os.geteuid() != 0:
        return "unlistable: /dev/mqueue is not an mqueue mount and the caller is not root"
    key = (os.geteuid(), os.readlink("/proc/self/ns/mnt"), os.readlink("/proc/self/ns/ipc"))
    if key not in _MQ_PROBED:
        try:
            _mq_via_unshare()
            _MQ_PROBED[key] = None
        except SnapshotError as err:
            # e.g. fake root: a user namespace may not mount the host's mqueue.
            _MQ_PROBED[key] = f"unlistable: no /dev/mqueue mount and a private mqueue mount failed ({err})"
    if _MQ_PROBED[key] is not None:
        return _MQ_PROBED[key]
    # The method worked before: a failure now is a real error, not "nothing there".
    return _mq_via_unshare()


# ---- processes and fds


def _proc_stat(pid: int) -> Proc | None:
    """proc(5) /proc/PID/stat: ``pid (comm) state ...``; comm may hold spaces and parens."""
    try:
        text = _read_text(f"/proc/{pid}/stat")
    except (FileNotFoundError, ProcessLookupError):
        return None  # vanished mid-walk
    except OSError as err:
        raise SnapshotError("descendants", f"cannot read /proc/{pid}/stat: {err}") from err
    head, _, tail = text.rpartition(")")
    return Proc(pid, head.partition("(")[2], tail.split()[0])


def _children(pid: int, must_exist: bool) -> list[int]:
    """Union of /proc/PID/task/*/children (proc(5); CONFIG_PROC_CHILDREN)."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except (FileNotFoundError, ProcessLookupError):
        if must_exist:
            raise SnapshotError("descendants", f"/proc/{pid}/task is missing") from None
        return []
    except OSError as err:
        raise SnapshotError("descendants", f"cannot list /proc/{pid}/task: {err}") from err
    kids = []
    for tid in tids:
        path = f"/proc/{pid}/task/{tid}/children"
        try:
            kids += [int(k) for k in _read_text(path).split()]
        except (FileNotFoundError, ProcessLookupError) as err:
            if must_exist and not os.path.exists(path) and os.path.exists(f"/proc/{pid}/task/{tid}"):
                raise SnapshotError("descendants", f"{path} is missing (kernel without CONFIG_PROC_CHILDREN?)") from err
        except OSError as err:
            raise SnapshotError("descendants", f"cannot read {path}: {err}") from err
    return kids


def descendants(pid: int | None = None) -> tuple[Proc, ...]:
    """All descendants of ``pid`` (default: the caller), zombies included, sorted by pid.

    Walks ``/proc/PID/task/*/children`` recursively; a process that exits
    mid-walk is skipped, a permission problem raises :class:`SnapshotError`.
    """
    root = os.getpid() if pid is None else pid
    found: dict[int, Proc] = {}
    stack = [(root, True)]
    while stack:
        parent, must_exist = stack.pop()
        for kid in _children(parent, must_exist):
            if kid in found or kid == root:
                continue
            info = _proc_stat(kid)
            if info is not None:
                found[kid] = info
                stack.append((kid, False))
    return tuple(found[p] for p in sorted(found))


def _liveness(state: str) -> str:
    # R/S/D/I flip from one instant to the next (a helper between requests);
    # only a zombie, a stopped process and a dead one differ in kind.
    return {"Z": "zombie", "X": "dead", "x": "dead", "T": "stopped", "t": "stopped"}.get(state, "alive")


def open_fds() -> tuple[Fd, ...]:
    """The caller's open fds and what they point to, sorted by number.

    The fd that ``listdir`` used for ``/proc/self/fd`` is closed by the time
    its entry is read back, so its readlink fails with ENOENT and it is
    skipped, like any fd closed meanwhile by another thread.
    """
    try:
        names = os.listdir("/proc/self/fd")
    except OSError as err:
        raise SnapshotError("fds", f"cannot list /proc/self/fd: {err}") from err
    fds = []
    for name in names:
        try:
            fds.append(Fd(int(name), os.readlink(f"/proc/self/fd/{name}")))
        except FileNotFoundError:
            continue
        except OSError as err:
            raise SnapshotError("fds", f"cannot readlink /proc/self/fd/{name}: {err}") from err
    return tuple(sorted(fds))


# ---- sockets


def _hex_address(text: str) -> str:
    # /proc/net/{tcp,udp}[6]: each 32-bit word is printed in host byte order.
    raw = bytes.fromhex(text)
    if sys.byteorder == "little":
        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(raw))


def _ports() -> tuple[Port, ...]:
    ports = []
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        path = f"/proc/net/{proto}"
        if proto.endswith("6") and not os.path.exists(path) and not os.path.exists("/proc/net/if_inet6"):
            continue  # a kernel without IPv6 has no such table, and no such ports
        lines = _read("ports", path).splitlines()[1:]
        for line in lines:
            f = line.split()
            try:
                local, remote, state = f[1], f[2], f[3]
                if proto.startswith("tcp") and state != "0A":  # TCP_LISTEN, include/net/tcp_states.h
                    continue
                # A connected UDP socket is a client (a resolver query), not a
                # bound service; only unconnected ones count.
                if proto.startswith("udp") and int(remote.rpartition(":")[2], 16) != 0:
                    continue
                addr, _, port = local.rpartition(":")
                ports.append(Port(proto, _hex_address(addr), int(port, 16)))
            except (IndexError, ValueError) as err:
                raise SnapshotError("ports", f"unexpected {path} line {line!r}") from err
    return tuple(sorted(ports))


def _max_namespaces() -> tuple[tuple[str, int], ...]:
    paths = sorted(glob.glob("/proc/sys/user/max_*_namespaces"))
    if not paths:
        raise SnapshotError("max-namespaces", "no /proc/sys/user/max_*_namespaces files")
    out = []
    for path in paths:
        text = _read("max-namespaces", path).strip()
        try:
            out.append((os.path.basename(path), int(text)))
        except ValueError as err:
            raise SnapshotError("max-namespaces", f"{path} holds {text!r}") from err
    return tuple(out)


def _namespaces() -> tuple[tuple[str, str], ...]:
    try:
        return tuple(sorted((n, os.readlink(f"/proc/self/ns/{n}")) for n in os.listdir("/proc/self/ns")))
    except OSError as err:
        raise SnapshotError("namespaces", f"cannot read /proc/self/ns: {err}") from err


# ---------------------------------------------------------------- public API


def _steady(p: Proc) -> Proc:
    """A descendant as the snapshot records it.

    The helper keeps one spare setup process (comm ``nslab-zygote``) forked
    ahead of the next spawn and replaces it after every spawn: it is part of
    the helper, so it is recorded without its PID, but only while it is the
    helper's child and still in every one of the caller's namespaces (a spare
    that had unshared anything would be a demo's process, and show).
    """
    # A spare forked a moment ago still carries the helper's comm until it renames itself.
    if p.comm in ("nslab-zygote", "nslab-helper"):
        try:
            ppid = int(_read_text(f"/proc/{p.pid}/stat").rpartition(")")[2].split()[1])
            parent = _read_text(f"/proc/{ppid}/comm").strip()
            same = all(
                os.stat(f"/proc/{p.pid}/ns/{n}").st_ino == os.stat(f"/proc/self/ns/{n}").st_ino
                for n in os.listdir("/proc/self/ns")
            )
        except (OSError, ValueError, IndexError):
            parent, same = None, False
        if parent == "nslab-helper" and same:
            return Proc(0, "nslab-zygote", _liveness(p.state))
    return Proc(p.pid, p.comm, _liveness(p.state))


def snapshot() -> HostSnapshot:
    """Record the host state; raise :class:`SnapshotError` if any source is unreadable."""
    mounts_self = _parse_mountinfo(_read("mounts(self)", "/proc/self/mountinfo"), "mounts(self)")
    mounts_init = _parse_mountinfo(_read("mounts(1)", "/proc/1/mountinfo"), "mounts(1)")
    # Sources that start a child come before descendants and fds, so that the
    # child is reaped and its pipes closed by the time those are recorded.
    links = _links()
    mq = _mqueue(mounts_self)
    return HostSnapshot(
        hostname=_hostname(),
        domainname=_read("domainname", "/proc/sys/kernel/domainname").rstrip("\n"),
        mounts_init=mounts_init,
        mounts_self=mounts_self,
        run_netns=_run_netns(),
        netns_mounts=_netns_mounts(mounts_init, mounts_self),
        links=links,
        sysv_shm=_sysv("shm"),
        sysv_msg=_sysv("msg"),
        sysv_sem=_sysv("sem"),
        mqueue=mq,
        ports=_ports(),
        max_namespaces=_max_namespaces(),
        namespaces=_namespaces(),
        descendants=tuple(_steady(p) for p in descendants()),
        fds=open_fds(),
    )


def assert_host_unchanged(
    before: HostSnapshot, after: HostSnapshot | None = None, *, settle: float = 2.0
) -> HostSnapshot:
    """Raise AssertionError listing the differences if the host changed since ``before``.

    Without ``after``, new snapshots are taken for up to ``settle`` seconds
    until one matches, because a killed child may take a moment to be reaped.
    Returns the matching snapshot.
    """
    deadline = time.monotonic() + settle
    while True:
        current = snapshot() if after is None else after
        lines = before.diff(current)
        if not lines:
            return current
        if after is not None or time.monotonic() >= deadline:
            raise AssertionError("the host changed:\n  " + "\n  ".join(lines))
        time.sleep(0.05)


def really_root() -> bool:
    """True for euid 0 in the initial user namespace (uid_map ``0 0 4294967295``).

    ``unshare --user --map-root-user`` gives euid 0 with a one-line map such
    as ``0 1000 1`` (user_namespaces(7)): that is fake root, and False here.
    """
    if os.geteuid() != 0:
        return False
    try:
        return _read_text("/proc/self/uid_map").split() == ["0", "0", "4294967295"]
    except OSError as err:
        if err.errno == errno.ENOENT:  # a kernel without user namespaces: only one kind of root
            return True
        raise
