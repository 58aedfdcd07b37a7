"""Discovery: every namespace the caller can see, who holds it, and how they nest.

One pass over /proc, the way lsns(8) does it, and then some:

- processes: ``os.stat`` of each ``/proc/PID/ns/*`` link; (st_dev, st_ino) is a
  namespace's identity (namespaces(7), ioctl_ns(2));
- threads: ``/proc/PID/task/TID/ns/*`` of the threads that differ from their
  process (uts, net, ipc, mnt and cgroup are per thread: unshare(2));
- open fds: ``/proc/PID/fd/*`` whose readlink is ``type:[inode]``;
- bind mounts: ``nsfs`` lines of ``/proc/PID/mountinfo``, read once per mount
  namespace (proc(5));
- references: a user namespace owning, or a PID/user namespace parent of,
  one of the above is alive too; the nsfs ioctls (NS_GET_USERNS,
  NS_GET_PARENT, NS_GET_OWNER_UID, NS_GET_NSTYPE from ioctl_ns(2)) find them.

Only reads and ioctls on nsfs fds happen here: nothing calls unshare, setns or
mount, so the threaded Jupyter kernel may call it.  A process that exits
during the scan is skipped; one the caller may not read is listed as an
unreadable row with the reason (on some machines even root cannot read PID
1's links).  pandas is imported only when a frame is asked for, so the
command line (``nslab lsns --json``) starts fast.
"""

from __future__ import annotations

import errno as _errno
import fcntl
import os
import re
import struct

from . import _parse, _sys
from ._errors import translate_oserror
from ._ns import NAMESPACES, parse_namespaces

__all__ = [
    "NAMESPACE_COLUMNS",
    "PROCESS_TYPES",
    "TREE_COLUMNS",
    "Scan",
    "namespaces",
    "ns_tree",
    "processes",
    "read_namespaces",
    "tree_frame",
]

TYPES = tuple(NAMESPACES)  # uts, pid, net, mnt, ipc, user, time, cgroup
PROCESS_TYPES = TYPES  # the columns of processes(), in reading order
_FOR_CHILDREN = ("pid_for_children", "time_for_children")
_PER_THREAD = ("uts", "net", "ipc", "mnt", "cgroup")  # pid and user are per process (unshare(2))

# The fixed columns of namespaces(), one row per namespace (or per group of
# unreadable entries):
NAMESPACE_COLUMNS = (
    "type",  # one of the eight /proc/PID/ns names
    "inode",  # st_ino of its nsfs file (what readlink prints); <NA> if unreadable
    "dev",  # st_dev of its nsfs file; (dev, inode) is the identity
    "ref",  # "uts:[4026531838]", as readlink prints it
    "nprocs",  # processes whose /proc/PID/ns/TYPE is this one (threads not counted, as in lsns)
    "pid",  # lowest of those PIDs (<NA>: held otherwise)
    "comm",  # its /proc/PID/comm
    "command",  # its command line (comm in brackets for a kernel thread, like ps)
    "uid",  # owner of /proc/PID (the process's effective uid), as lsns's UID
    "userns",  # inode of the owning user namespace (NS_GET_USERNS); for a user namespace, its parent
    "parent",  # pid and user only: inode of the parent namespace (NS_GET_PARENT); <NA> at the top
    "depth",  # pid and user only: levels below the top the caller can see (0 = that top)
    "owner_uid",  # uid that created the owning user namespace (NS_GET_OWNER_UID); for user, of itself
    "held_by",  # how it is kept alive: "process", "thread", "fd", "bind", "for_children", "parent", "owner"
    "holders",  # the evidence, e.g. "fd 5 of pid 812 (python3)", "/run/x in mnt:[4026532200]"
    "readable",  # False for entries the caller may not read
    "reason",  # why not (errno name, message, path), else None
)

# The fixed columns of tree_frame(type): one row per user or PID namespace,
# parents before children.
TREE_COLUMNS = ("type", "inode", "ref", "parent", "depth", "userns", "owner_uid", "nprocs", "pid", "comm", "held_by")

_TARGET = re.compile(r"([a-z]+):\[([0-9]+)\]")
_NSTYPE_OF_FLAG = {ns.flag: ns.name for ns in NAMESPACES.values()}
# A process gone between listdir("/proc") and open(): skip it (psutil does too).
_GONE = (FileNotFoundError, ProcessLookupError)


def _reason(err, path=None):
    name = _errno.errorcode.get(err.errno, str(err.errno))
    where = f" ({path})" if path else ""
    return f"{name}: {err.strerror or err}{where}"


# Indirections the tests monkeypatch to simulate vanishing and forbidden processes.
_stat = os.stat
_listdir = os.listdir
_readlink = os.readlink


def _read(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "surrogateescape")


class _Ns:
    """One namespace while the scan accumulates its holders."""

    __slots__ = ("dev", "fd_path", "holders", "ino", "kinds", "pids", "type")

    def __init__(self, nstype, dev, ino):
        self.type = nstype
        self.dev = dev
        self.ino = ino
        self.pids = []
        self.kinds = []  # held_by, in order of discovery, no duplicates
        self.holders = []
        self.fd_path = None  # a path to open it by, for the ioctls

    def held(self, kind, text=None, path=None):
        if kind not in self.kinds:
            self.kinds.append(kind)
        if text is not None:
            self.holders.append(text)
        if self.fd_path is None and path is not None:
            self.fd_path = path


class Scan:
    """The result of one pass over /proc.  Build it with :func:`read_namespaces`.

    ``records()`` are plain dicts in NAMESPACE_COLUMNS (no pandas); ``frame()``,
    ``processes_frame()`` and ``tree_frame(type)`` are DataFrames;
    ``tree_text(type)`` is the indented tree.  ``errors`` lists what could not
    be read besides /proc/PID/ns links (fd tables, mountinfo, ioctls).
    """

    def __init__(self, proc):
        self.proc = proc
        self.ns = {}  # (dev, ino) -> _Ns
        self.procs = {}  # pid -> {type: (dev, ino) or None}
        self.unreadable = {}  # (type, held_by, reason) -> [pids]
        self.errors = []  # (path, reason)
        self.comm = {}
        self.command = {}
        self.uid = {}
        self.userns = {}  # key -> userns key
        self.parent = {}  # key -> parent key, or None at the top
        self.owner_uid = {}  # userns key -> uid
        self.caller = os.getpid()

    # -- output --------------------------------------------------------------
    def _depth(self, key):
        depth, seen = 0, {key}
        while True:
            key = self.parent.get(key)
            if key is None or key in seen:
                return depth
            seen.add(key)
            depth += 1

    def _describe(self, pid):
        if pid not in self.comm:
            self.comm[pid], self.command[pid], self.uid[pid] = _describe_pid(self.proc, pid)
        return self.comm[pid]

    def _row(self, ns):
        pid = min(ns.pids) if ns.pids else None
        if pid is not None:
            self._describe(pid)
        key = (ns.dev, ns.ino)
        userns = self.userns.get(key)
        owner = key if ns.type == "user" else userns
        hier = ns.type in ("user", "pid")
        parent = self.parent.get(key) if hier else None
        return {
            "type": ns.type,
            "inode": ns.ino,
            "dev": ns.dev,
            "ref": f"{ns.type}:[{ns.ino}]",
            "nprocs": len(ns.pids),
            "pid": pid,
            "comm": self.comm.get(pid),
            "command": self.command.get(pid),
            "uid": self.uid.get(pid),
            "userns": userns[1] if userns else None,
            "parent": parent[1] if parent else None,
            "depth": self._depth(key) if hier and key in self.parent else None,
            "owner_uid": self.owner_uid.get(owner),
            # pid_for_children of the unshare(1) that made a PID namespace is
            # the rule, not news: named in held_by only when no process is in it.
            "held_by": ",".join(k for k in ns.kinds if k != "for_children" or not ns.pids),
            "holders": "; ".join(ns.holders) or None,
            "readable": True,
            "reason": None,
        }

    def records(self, types=None):
        """One dict per namespace (NAMESPACE_COLUMNS), sorted by type then inode; unreadable groups last in their type."""
        types = TYPES if types is None else parse_namespaces(types)
        order = {t: i for i, t in enumerate(TYPES)}
        rows = [
            self._row(ns) for ns in sorted(self.ns.values(), key=lambda n: (order[n.type], n.ino)) if ns.type in types
        ]
        bad = []
        for (nstype, kind, reason), pids in self.unreadable.items():
            if nstype is not None and nstype not in types:
                continue
            pid = min(pids)
            self._describe(pid)
            bad.append(
                {
                    "type": nstype,
                    "inode": None,
                    "dev": None,
                    "ref": None,
                    "nprocs": len(pids) if kind == "process" else 0,
                    "pid": pid,
                    "comm": self.comm.get(pid),
                    "command": self.command.get(pid),
                    "uid": self.uid.get(pid),
                    "userns": None,
                    "parent": None,
                    "depth": None,
                    "owner_uid": None,
                    "held_by": kind,
                    "holders": f"{len(pids)} process{'es' if len(pids) != 1 else ''}: pid {_pid_list(pids)}",
                    "readable": False,
                    "reason": reason,
                }
            )
        bad.sort(key=lambda r: (order.get(r["type"], len(order)), r["pid"]))
        out = []
        for t in (*types, None):
            out += [r for r in rows if r["type"] == t]
            out += [r for r in bad if r["type"] == t]
        return out

    def frame(self, types=None):
        """namespaces() as a DataFrame with NAMESPACE_COLUMNS (nullable ints)."""
        import pandas as pd

        df = pd.DataFrame(self.records(types), columns=list(NAMESPACE_COLUMNS))
        for col in ("inode", "dev", "pid", "uid", "userns", "parent", "depth", "owner_uid"):
            df[col] = df[col].astype("Int64")
        df["nprocs"] = df["nprocs"].astype("int64")
        df["readable"] = df["readable"].astype(bool)
        df.attrs["errors"] = list(self.errors)
        return df

    def processes_frame(self):
        """Process x type: index (pid, comm), columns PROCESS_TYPES, values the inode (<NA>: unreadable)."""
        import pandas as pd

        pids = sorted(self.procs)
        rows = []
        for pid in pids:
            links = self.procs[pid]
            rows.append([None if links.get(t) is None else links[t][1] for t in PROCESS_TYPES])
        index = pd.MultiIndex.from_tuples([(p, self._describe(p)) for p in pids], names=["pid", "comm"])
        df = pd.DataFrame(rows, index=index, columns=list(PROCESS_TYPES), dtype="Int64")
        df.columns.name = "type"
        return df

    def tree_records(self, nstype="user"):
        """TREE_COLUMNS dicts for the user or PID namespaces, depth-first (parents before children)."""
        if nstype not in ("user", "pid"):
            raise _value_error(f"a namespace tree exists for 'user' and 'pid' only (NS_GET_PARENT), not {nstype!r}")
        rows = {(r["dev"], r["inode"]): r for r in self.records([nstype]) if r["readable"]}
        kids = {}
        for key in rows:
            kids.setdefault(self.parent.get(key), []).append(key)
        out = []

        def walk(key):
            r = rows[key]
            out.append({c: r[c] for c in TREE_COLUMNS})
            for k in sorted(kids.get(key, []), key=lambda k: k[1]):
                walk(k)

        roots = [k for k in rows if self.parent.get(k) not in rows]
        for key in sorted(roots, key=lambda k: k[1]):
            walk(key)
        return out

    def tree_frame(self, nstype="user"):
        import pandas as pd

        df = pd.DataFrame(self.tree_records(nstype), columns=list(TREE_COLUMNS))
        for col in ("inode", "parent", "depth", "userns", "owner_uid", "pid"):
            df[col] = df[col].astype("Int64")
        return df

    def tree_text(self, nstype="user"):
        """The user or PID namespace tree as indented text, one namespace a line."""
        rows = self.tree_records(nstype)
        lines = []
        last_at = {}
        for i, r in enumerate(rows):
            # Is this the last child of its parent?  (for the box-drawing glyphs)
            last_at[i] = not any(o["parent"] == r["parent"] and o["depth"] == r["depth"] for o in rows[i + 1 :])
        stack = []
        for i, r in enumerate(rows):
            depth = r["depth"] or 0
            del stack[depth:]
            prefix = "".join("   " if last else "│  " for last in stack[1:]) if depth else ""
            glyph = ("└─ " if last_at[i] else "├─ ") if depth else ""
            who = f"pid {r['pid']} ({r['comm']})" if r["pid"] is not None else "no process"
            n = r["nprocs"]
            extra = f", owner uid {r['owner_uid']}" if r["owner_uid"] is not None else ""
            if nstype == "pid" and r["userns"] is not None:
                extra += f", in user:[{r['userns']}]"
            held = "" if r["held_by"] == "process" else f", held by {r['held_by']}"
            lines.append(
                f"{prefix}{glyph}{r['ref']}  depth {depth}{extra}, {n} proc{'s' if n != 1 else ''}, {who}{held}"
            )
            stack.append(last_at[i])
        bad = [(k, p) for k, p in self.unreadable.items() if k[0] == nstype]
        for (_t, _kind, reason), pids in sorted(bad, key=lambda kv: min(kv[1])):
            lines.append(
                f"(unreadable: {len(pids)} process{'es' if len(pids) != 1 else ''}, pid {_pid_list(pids)}: {reason})"
            )
        return "\n".join(lines) + "\n"


def _value_error(msg, hint="use type='user' or type='pid'"):
    from ._errors import NsValueError

    return NsValueError(msg, hint=hint)


def _pid_list(pids, limit=8):
    pids = sorted(pids)
    text = ", ".join(map(str, pids[:limit]))
    return text + (f", ... ({len(pids) - limit} more)" if len(pids) > limit else "")


def _describe_pid(proc, pid):
    """(comm, command line, uid) of one process, None for what vanished or is unreadable."""
    base = f"{proc}/{pid}/"
    try:
        comm = _read(base + "comm").rstrip("\n")
    except OSError:
        comm = None
    try:
        argv = _read(base + "cmdline").rstrip("\0").split("\0")
        command = " ".join(argv) if argv != [""] else (f"[{comm}]" if comm is not None else None)
    except OSError:
        command = None
    try:
        uid = os.stat(base).st_uid
    except OSError:
        uid = None
    return comm, command, uid


# -- the scan ------------------------------------------------------------------


def _links_here(proc):
    """The /proc/PID/ns links this kernel has (no time ones before 5.6: namespaces(7))."""
    try:
        have = set(os.listdir(f"{proc}/self/ns"))
    except OSError:
        have = set(TYPES) | set(_FOR_CHILDREN)
    return tuple(t for t in TYPES if t in have), tuple(t for t in _FOR_CHILDREN if t in have)


def _scan_process(scan, pid, types, for_children):
    """Stat the ns links of one process; False if it vanished."""
    base = f"{scan.proc}/{pid}/ns/"
    links = {}
    stat = _stat
    for t in types:
        try:
            st = stat(base + t)
        except _GONE:
            return False  # a zombie or an exited process: no links (lsns skips it too)
        except OSError as err:  # EACCES for another user's process: report, not drop
            links[t] = None
            scan.unreadable.setdefault((t, "process", _reason(err, f"/proc/{pid}/ns/{t}")), []).append(pid)
            continue
        links[t] = (st.st_dev, st.st_ino)
    scan.procs[pid] = links
    for t, key in links.items():
        if key is None:
            continue
        ns = scan.ns.get(key)
        if ns is None:
            ns = scan.ns[key] = _Ns(t, *key)
        ns.pids.append(pid)
        if "process" not in ns.kinds:
            ns.kinds.insert(0, "process")
        if ns.fd_path is None:
            ns.fd_path = base + t
    # pid_for_children/time_for_children: unshare(CLONE_NEWPID/NEWTIME) before
    # the first fork makes a namespace that no process is in yet.
    for link in for_children:
        t = link.partition("_")[0]
        try:
            st = stat(base + link)
        except OSError:
            continue  # pid_for_children is unreadable until the first child exists (pid_namespaces(7))
        key = (st.st_dev, st.st_ino)
        if key != links.get(t):
            _hold(scan, t, key, "for_children", f"{link} of pid {pid}", base + link)
    return True


def _hold(scan, t, key, kind, text, path):
    ns = scan.ns.get(key)
    if ns is None:
        ns = scan.ns[key] = _Ns(t, *key)
    ns.held(kind, text, path)


def _scan_threads(scan, pid):
    """Threads whose uts/net/ipc/mnt/cgroup differ from their process's."""
    task = f"{scan.proc}/{pid}/task"
    try:
        # proc_task_getattr (fs/proc/base.c): nlink of task/ is 2 + the number of threads.
        if _stat(task).st_nlink <= 3:
            return
        tids = _listdir(task)
    except _GONE:
        return
    except OSError as err:
        scan.errors.append((task, _reason(err)))
        return
    mine = scan.procs[pid]
    for tid in tids:
        if tid == str(pid):
            continue
        base = f"{task}/{tid}/ns/"
        for t in _PER_THREAD:
            try:
                st = _stat(base + t)
            except _GONE:
                break
            except OSError as err:
                scan.errors.append((base + t, _reason(err)))
                continue
            key = (st.st_dev, st.st_ino)
            if key != mine.get(t):
                _hold(scan, t, key, "thread", f"thread {tid} of pid {pid}", base + t)


def _scan_fds(scan, pid):
    """Open fds whose target is ``type:[inode]`` (an nsfs file, ioctl_ns(2))."""
    fddir = f"{scan.proc}/{pid}/fd"
    try:
        fds = _listdir(fddir)
    except _GONE:
        return
    except OSError as err:
        scan.unreadable.setdefault((None, "fd", _reason(err, f"/proc/{pid}/fd")), []).append(pid)
        return
    readlink = _readlink
    for fd in fds:
        path = f"{fddir}/{fd}"
        try:
            target = readlink(path)
        except OSError:
            continue  # closed meanwhile (the fd listdir itself used is one)
        if not target.endswith("]") or ":[" not in target:
            continue
        m = _TARGET.fullmatch(target)
        if m is None or m[1] not in NAMESPACES:
            continue  # socket:[...], pipe:[...], anon_inode:[...]
        try:
            st = _stat(path)  # the fd's (st_dev, st_ino): the identity, not the inode alone
        except OSError:
            continue
        _hold(scan, m[1], (st.st_dev, st.st_ino), "fd", f"fd {fd} of pid {pid}", path)


def _scan_mounts(scan):
    """nsfs bind mounts, from one mountinfo per mount namespace (mount_namespaces(7))."""
    for ns in [n for n in scan.ns.values() if n.type == "mnt" and n.pids]:
        text = None
        for pid in sorted(ns.pids):
            path = f"{scan.proc}/{pid}/mountinfo"
            try:
                text = _read(path)
                break
            except _GONE:
                continue
            except OSError as err:
                scan.unreadable.setdefault((None, "bind", _reason(err, f"/proc/{pid}/mountinfo")), []).append(pid)
                break
        if not text or " - nsfs " not in text:
            continue
        lines = "\n".join(line for line in text.splitlines() if " - nsfs " in line)
        try:
            mounts = _parse.parse_mountinfo(lines, source=path)
        except Exception as err:  # a ParseError: report it, keep the rest of the scan
            scan.errors.append((path, f"{type(err).__name__}: {err}"))
            continue
        for m in mounts:
            found = _TARGET.fullmatch(m["root"])
            if found is None or found[1] not in NAMESPACES:
                continue
            major, minor = (int(x) for x in m["dev"].split(":"))
            key = (os.makedev(major, minor), int(found[2]))
            where = f"{m['mount_point']} in mnt:[{ns.ino}]"
            _hold(scan, found[1], key, "bind", where, f"{scan.proc}/{pid}/root{m['mount_point']}")


# -- the nsfs ioctls (ioctl_ns(2)) ---------------------------------------------


def _ioctl_fd(fd, request):
    """NS_GET_USERNS / NS_GET_PARENT: a new O_RDONLY fd, or None for EPERM (outside the caller's scope)."""
    try:
        return fcntl.ioctl(fd, request)
    except PermissionError:
        return None


def nstype_of_fd(fd):
    """NS_GET_NSTYPE: the namespace type of an nsfs fd, as its /proc/PID/ns name."""
    return _NSTYPE_OF_FLAG.get(fcntl.ioctl(fd, _sys.NS_GET_NSTYPE))


def owner_uid_of_fd(fd):
    """NS_GET_OWNER_UID on a user namespace fd: the creator's uid (a uid_t written into 4 bytes)."""
    buf = bytearray(4)
    fcntl.ioctl(fd, _sys.NS_GET_OWNER_UID, buf, True)
    return struct.unpack("=I", buf)[0]


def _key(fd):
    st = os.fstat(fd)
    return (st.st_dev, st.st_ino)


def _hierarchy(scan):
    """Owning user namespace, owner uid, and the parents of user and PID namespaces."""
    todo = list(scan.ns.values())
    while todo:
        ns = todo.pop()
        key = (ns.dev, ns.ino)
        if key in scan.userns or ns.fd_path is None:
            continue
        # The process the path names may have exited since: try a few others in it.
        paths = [ns.fd_path, *(f"{scan.proc}/{p}/ns/{ns.type}" for p in ns.pids[1:4])]
        fd = None
        for path in paths:
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                break
            except _GONE:
                continue
            except OSError as err:
                scan.errors.append((path, _reason(err)))
                break
        if fd is None:
            continue
        try:
            _relatives(scan, ns, key, fd)
        except OSError as err:  # ENOTTY before Linux 4.9: no ioctls, no hierarchy
            scan.errors.append((ns.fd_path, f"nsfs ioctl: {_reason(err)}"))
        finally:
            os.close(fd)


def _relatives(scan, ns, key, fd):
    ufd = _ioctl_fd(fd, _sys.NS_GET_USERNS)
    if ufd is not None:
        try:
            ukey = _key(ufd)
            scan.userns[key] = ukey
            if ukey not in scan.owner_uid:
                scan.owner_uid[ukey] = owner_uid_of_fd(ufd)
            if ukey not in scan.ns:
                _hold(scan, "user", ukey, "owner", f"owns {ns.type}:[{ns.ino}]", None)
                _relatives(scan, scan.ns[ukey], ukey, ufd)
        finally:
            os.close(ufd)
    else:
        scan.userns[key] = None
    if ns.type == "user":
        scan.owner_uid[key] = owner_uid_of_fd(fd)
    if ns.type not in ("user", "pid"):
        return
    pfd = _ioctl_fd(fd, _sys.NS_GET_PARENT)
    if pfd is None:
        scan.parent[key] = None  # EPERM: the top of the caller's scope
        return
    try:
        pkey = _key(pfd)
        scan.parent[key] = pkey
        if pkey not in scan.ns:
            _hold(scan, ns.type, pkey, "parent", f"parent of {ns.type}:[{ns.ino}]", None)
        parent = scan.ns[pkey]
        if pkey not in scan.userns:
            _relatives(scan, parent, pkey, pfd)
    finally:
        os.close(pfd)


def read_namespaces(proc="/proc", *, fds=True, threads=True, mounts=True, hierarchy=True):
    """Scan ``proc`` once and return a :class:`Scan` (no pandas needed).

    ``fds``, ``threads``, ``mounts`` and ``hierarchy`` switch off the parts
    beyond what lsns(8) reads (process links), for speed.
    """
    try:
        entries = _listdir(proc)
    except OSError as err:
        raise translate_oserror(err, step=f"list {proc}") from err
    scan = Scan(proc)
    types, for_children = _links_here(proc)
    pids = sorted(int(e) for e in entries if e.isdigit())
    for pid in pids:
        if not _scan_process(scan, pid, types, for_children):
            continue
        if all(v is None for v in scan.procs[pid].values()):
            continue  # its ns links are unreadable: so are its fds and threads; listed once
        if threads:
            _scan_threads(scan, pid)
        if fds:
            _scan_fds(scan, pid)
    if mounts:
        _scan_mounts(scan)
    if hierarchy:
        _hierarchy(scan)
    return scan


# -- public functions ----------------------------------------------------------


def namespaces(type=None, *, proc="/proc"):
    """One row per namespace visible to the caller, as a DataFrame with fixed columns.

    Columns (NAMESPACE_COLUMNS): ``type``, ``inode``, ``dev``, ``ref``
    (``uts:[4026531838]``), ``nprocs`` (processes in it), ``pid`` (the lowest),
    ``comm``, ``command``, ``uid`` (of that process), ``userns`` (owning user
    namespace's inode; a user namespace's parent), ``parent`` and ``depth``
    (pid and user only, via NS_GET_PARENT; depth 0 is the top the caller can
    see), ``owner_uid`` (NS_GET_OWNER_UID of the owning user namespace),
    ``held_by`` (``process``, ``thread``, ``fd``, ``bind``, ``for_children``
    when no process is in it yet, ``parent`` and ``owner`` for a namespace
    kept only by a child or owned namespace), ``holders`` (which fd, which
    mount point...),
    ``readable`` and ``reason``.

    What the caller may not read is not dropped: such processes show as
    ``readable=False`` rows, one per type and reason, with the PIDs in
    ``holders``.  ``type`` limits the rows to some types (a name, a list or a
    comma string).
    """
    return read_namespaces(proc).frame(type)


def processes(*, proc="/proc"):
    """Process x namespace type: index (pid, comm), columns uts pid net mnt ipc user time cgroup, values the inode.

    Two processes share a namespace when their inodes in that column are
    equal; <NA> marks a link the caller may not read.
    """
    return read_namespaces(proc, fds=False, threads=False, mounts=False, hierarchy=False).processes_frame()


def tree_frame(type="user", *, proc="/proc"):
    """The user or PID namespace hierarchy as a DataFrame (TREE_COLUMNS), parents first, ``parent`` linking them."""
    return read_namespaces(proc).tree_frame(type)


def ns_tree(type="user", *, proc="/proc"):
    """The user or PID namespace hierarchy as indented text, walked with NS_GET_PARENT.

    Each line: the namespace, its depth below the top the caller can see, the
    owner uid, how many processes are in it and the lowest one.  The
    structured twin is :func:`tree_frame`.
    """
    return read_namespaces(proc).tree_text(type)


# -- the command line: nslab lsns ------------------------------------------------

_TABLE = (
    ("NS", "inode"),
    ("TYPE", "type"),
    ("NPROCS", "nprocs"),
    ("PID", "pid"),
    ("UID", "uid"),
    ("HELD_BY", "held_by"),
    ("COMMAND", "command"),
)


def _nest(rows):
    """Tree records (depth-first) to lsns -J -T style nesting: each node's "children"."""
    out, stack = [], []
    for r in rows:
        node = dict(r, children=[])
        del stack[r["depth"] or 0 :]
        (stack[-1]["children"] if stack else out).append(node)
        stack.append(node)
    return out


def lsns_main(types=None, *, json_out=False, tree=False, out):
    """``nslab lsns [--json] [--tree] [--type T]``: print, return the exit status."""
    chosen = parse_namespaces(types) if types else None
    scan = read_namespaces()
    if tree:
        kinds = [t for t in (chosen or ("user", "pid")) if t in ("user", "pid")]
        if not kinds:
            raise _value_error(
                "--tree shows user and pid namespaces only (NS_GET_PARENT)", hint="use --type user or --type pid"
            )
        if json_out:
            import json

            doc = {f"{t}_tree": _nest(scan.tree_records(t)) for t in kinds}
            out.write(json.dumps(doc, indent=2) + "\n")
        else:
            out.write("\n".join(scan.tree_text(t) for t in kinds))
        return 0
    rows = scan.records(chosen)
    if json_out:
        import json

        doc = {"namespaces": rows, "errors": [{"path": p, "reason": r} for p, r in scan.errors]}
        out.write(json.dumps(doc, indent=2) + "\n")
        return 0
    cells = [[h for h, _ in _TABLE]]
    for r in rows:
        line = ["-" if r[k] is None else str(r[k]) for _, k in _TABLE]
        if not r["readable"]:
            line[-1] = f"unreadable ({r['reason']}): {r['holders']}"
        elif r["pid"] is None:
            line[-1] = r["holders"] or ""
        cells.append(line)
    widths = [max(len(c[i]) for c in cells) for i in range(len(_TABLE) - 1)]
    for c in cells:
        out.write(
            " ".join(
                v.rjust(w) if i in (0, 2, 3, 4) else v.ljust(w)
                for i, (v, w) in enumerate(zip(c[:-1], widths, strict=True))
            )
            + " "
            + c[-1]
            + "\n"
        )
    for path, reason in scan.errors:
        out.write(f"nslab lsns: {path}: {reason}\n")
    return 0
