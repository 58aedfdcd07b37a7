"""spawn(), Child and view(): the engine's public face.

Everything a reader passes is checked here, in the kernel process, before the
helper is even asked; then the helper forks the child.  Nothing in this module
calls unshare, setns or mount.
"""

from __future__ import annotations

import os
import socket
import threading
import weakref
from typing import NamedTuple

from . import _helper, _parse, _proto
from ._errors import ChildFailed, ChildTimeout, NslabError, NsValueError, UnsafeRequest
from ._ns import NAMESPACES, flags_of, parse_namespaces
from ._validate import check_hostname, check_idmap, check_offset, check_pid, covered, format_idmap
from ._view import View

__all__ = ["ROOT_RANGE", "Child", "RunResult", "enter", "privilege", "spawn", "veth", "view"]

# As root, a new user namespace maps its 0..65535 onto this unprivileged host
# range (the customary first /etc/subuid block), so that root inside is
# nobody special outside.
ROOT_RANGE = (100000, 65536)


class RunResult(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


def _read_map(path):
    try:
        with open(path) as f:
            return _parse.parse_idmap(f.read())
    except OSError:
        return []


def privilege():
    """"root" (uid 0 in the initial user namespace), "userns-root" (euid 0 inside a user namespace) or "user"."""
    if os.geteuid() != 0:
        return "user"
    if _read_map("/proc/self/uid_map") == [(0, 0, 4294967295)]:
        return "root"
    return "userns-root"


def _default_maps(priv):
    uid, gid = os.geteuid(), os.getegid()
    if priv == "root":
        return [(0, ROOT_RANGE[0], ROOT_RANGE[1])], [(0, ROOT_RANGE[0], ROOT_RANGE[1])]
    # An unprivileged writer may map only its own ids (user_namespaces(7)).
    return [(0, uid, 1)], [(0, gid, 1)]


def _build_spec(
    namespaces, hostname, domainname, monotonic, boottime, uid_map, gid_map, mount_proc, fail_at, userns=None, rootfs=False
):
    names = parse_namespaces(namespaces)
    new = set(names)
    priv = privilege()
    implicit_user = False
    userns_pid = None
    if userns is not None:
        if not isinstance(userns, Child):
            raise NsValueError(f"userns must be a Child, got {userns!r}", nstype="user")
        if "user" in new or uid_map is not None or gid_map is not None:
            raise NsValueError("userns= joins another child's user namespace: do not also ask for a new one or for maps", nstype="user")
        if not userns.alive:
            raise ChildFailed("the child given as userns= is closed or gone", pid=userns.pid, hint="spawn a new one")
        # Joining the user namespace we are already in is EINVAL (setns(2)): nothing to join then.
        if _ns_of(userns.pid).get("user") != _ns_of("self").get("user"):
            userns_pid = userns.pid
    elif priv == "user" and names and "user" not in new:
        # An ordinary user may create the others only from inside a user namespace it owns.
        new.add("user")
        implicit_user = True

    def need(opt, nstype, value):
        if nstype not in new:
            raise UnsafeRequest(
                f"{opt}={value!r} needs a new {nstype} namespace: without one it would change the {nstype} namespace shared with the host",
                nstype=nstype,
                hint=f"add '{nstype}' to the namespaces",
            )

    spec = {"flags": flags_of(new), "names": [n for n in NAMESPACES if n in new], "userns_pid": userns_pid}
    if hostname is not None:
        check_hostname(hostname)
        need("hostname", "uts", hostname)
        spec["hostname"] = hostname
    if domainname is not None:
        check_hostname(domainname, "domainname")
        need("domainname", "uts", domainname)
        spec["domainname"] = domainname
    for clock, val in (("monotonic", monotonic), ("boottime", boottime)):
        check_offset(val, clock)
        if val:
            need(clock, "time", val)
            spec[clock] = val
    if mount_proc is None:
        mount_proc = "pid" in new and "mnt" in new
    elif not isinstance(mount_proc, bool):
        raise NsValueError(f"mount_proc must be True, False or None, got {mount_proc!r}")
    elif mount_proc:
        need("mount_proc", "pid", True)
        need("mount_proc", "mnt", True)
    spec["mount_proc"] = mount_proc
    if not isinstance(rootfs, bool):
        raise NsValueError(f"rootfs must be True or False, got {rootfs!r}")
    if rootfs:
        need("rootfs", "mnt", True)
        spec["rootfs"] = True
    if (uid_map is not None or gid_map is not None) and "user" not in names:
        # Explicitly: the user namespace a rootless spawn adds on its own is not one you asked to map.
        opt, val = ("uid_map", uid_map) if uid_map is not None else ("gid_map", gid_map)
        raise UnsafeRequest(f"{opt}={val!r} needs a new user namespace", nstype="user", hint="add 'user' to the namespaces")
    if "user" in new:
        duid, dgid = _default_maps(priv)
        umap = check_idmap(uid_map, "uid_map") if uid_map is not None else duid
        gmap = check_idmap(gid_map, "gid_map") if gid_map is not None else (umap if uid_map is not None and priv == "root" else dgid)
        if priv == "user":
            for which, m, own in (("uid_map", umap, os.geteuid()), ("gid_map", gmap, os.getegid())):
                if len(m) != 1 or m[0][1] != own or m[0][2] != 1:
                    raise NsValueError(
                        f"{which} {m!r}: an unprivileged user can map only its own id ({own}), one line of count 1",
                        nstype="user",
                        hint=f"use [(0, {own}, 1)], or run as root to map a range",
                    )
            spec["setgroups"] = "deny"  # required before gid_map for an unprivileged writer
        else:
            for which, m, own in (("uid_map", umap, "/proc/self/uid_map"), ("gid_map", gmap, "/proc/self/gid_map")):
                if not covered(_read_map(own), [(o, c) for _i, o, c in m]):
                    raise NsValueError(
                        f"{which} {m!r} maps ids that do not exist in this user namespace (see {own})",
                        nstype="user",
                        hint="map only ids the caller owns",
                    )
            spec["setgroups"] = None
        spec["uid_map"] = format_idmap(umap)
        spec["gid_map"] = format_idmap(gmap)
        # Become the lowest mapped id inside: 0 when 0 is mapped ("root inside").
        spec["uid"] = min(r[0] for r in umap)
        spec["gid"] = min(r[0] for r in gmap)
    if fail_at is not None:
        if fail_at not in _helper.STEPS:
            raise NsValueError(f"fail_at must be one of {_helper.STEPS}")
        spec["fail_at"] = fail_at
    return spec, names, implicit_user


def spawn(
    namespaces=(),
    *,
    hostname=None,
    domainname=None,
    monotonic=0,
    boottime=0,
    uid_map=None,
    gid_map=None,
    mount_proc=None,
    rootfs=False,
    userns=None,
    timeout=30.0,
    _fail_at=None,
):
    """A live child in exactly ``namespaces`` new namespaces; every other one shared with the caller.

    ``namespaces``: names from NAMESPACES (a list, a comma string, or "all").
    Options are accepted only with their namespace: ``hostname``/``domainname``
    need uts; ``monotonic``/``boottime`` (whole seconds) need time;
    ``uid_map``/``gid_map`` (lists of (inside, outside, count)) need user;
    ``mount_proc=True`` needs pid and mnt (None: a fresh /proc whenever both are new).

    As an ordinary user the child also gets a new user namespace (your uid
    mapped to 0), and ``Child.implicit_user`` says so.  As root, ``user`` maps
    0-65535 inside to 100000-165535 outside unless ``uid_map`` says otherwise.
    ``rootfs=True`` (needs mnt) gives the child a root of its own: a tmpfs
    with read-only binds of the host's /usr, /etc and friends, entered by
    pivot_root(2) — the container of notebook 09.
    ``userns=other_child`` makes the new namespaces inside that child's user
    namespace instead (rootless, two children can be joined by veth only so).
    Use it as a context manager, or call ``close()``.
    """
    spec, names, implicit = _build_spec(
        namespaces, hostname, domainname, monotonic, boottime, uid_map, gid_map, mount_proc, _fail_at, userns, rootfs
    )
    helper = _helper.get_helper()
    info, fds = helper.request({"op": "spawn", "spec": spec}, timeout=timeout)
    return Child(helper, info, fds[0], spec, names, implicit)


class Child:
    """A process in its own namespaces, held by one socket to its init."""

    def __init__(self, helper, info, fd, spec, names, implicit_user):
        self._helper = helper
        self._helper_proc = helper.proc
        self.id = info["id"]
        self.pid = info["pid"]  # host PID of the child's init
        self.pid_inside = info["pid_inside"]
        self.setup_pid = info["setup_pid"]
        self.namespaces = tuple(spec["names"])  # what is new, implicit user included
        self.requested = tuple(names)
        self.implicit_user = implicit_user
        self.options = {k: spec[k] for k in ("hostname", "domainname", "monotonic", "boottime", "uid_map", "gid_map", "mount_proc", "rootfs") if k in spec}
        self._sock = socket.socket(fileno=fd)
        self._seq = 0
        self._lock = threading.RLock()
        self._closed = False
        self._dead = None
        self._finalizer = weakref.finalize(self, _finalize, self._sock, helper, self.id)

    def __repr__(self):
        state = "closed" if self._closed else ("dead" if self._dead else "live")
        return f"<nslab.Child pid={self.pid} ns={','.join(self.namespaces) or '-'} {state}>"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def alive(self):
        return not self._closed and self._dead is None

    def _request(self, req, timeout):
        with self._lock:
            if self._closed:
                raise ChildFailed("the child is closed", pid=self.pid, hint="spawn a new one")
            if self._dead:
                raise ChildFailed(self._dead, pid=self.pid, hint="spawn a new one")
            self._seq += 1
            req = dict(req, seq=self._seq)
            try:
                _proto.send(self._sock, req)
                while True:
                    reply, fds = _proto.recv(self._sock, timeout=timeout)
                    for fd in fds:
                        os.close(fd)
                    if reply.get("seq") == self._seq:
                        break
            except (_proto.Closed, BrokenPipeError, ConnectionResetError) as err:
                self._dead = "the child is gone (killed from outside, by an interrupt, or its helper died)"
                raise ChildFailed(self._dead, pid=self.pid, step=req["op"], hint="spawn a new one") from err
            except ChildTimeout as err:
                err.pid = self.pid
                raise
            if "error" in reply:
                err = NslabError.from_dict(reply["error"])
                err.pid = err.pid or self.pid
                raise err
            return reply["ok"]

    def view(self, timeout=10.0):
        """What the child sees, read by the child itself inside its namespaces."""
        return View(self._request({"op": "view"}, timeout), label="child")

    def run(self, argv, *, timeout=10.0, input=None, cwd=None, env=None):
        """Run argv (a list, no shell) as a child of this child's init; returns RunResult.

        Like ``docker run``'s process: it inherits every namespace of the child.
        """
        req = _run_request(argv, timeout, input, cwd, env)
        out = self._request(req, None if timeout is None else timeout + 10.0)
        return RunResult(out["returncode"], out["stdout"], out["stderr"])

    def start(self, argv, *, cwd=None, env=None):
        """Start argv in the background inside the child (a server); returns its PID inside. It ends with the child."""
        req = _run_request(argv, None, None, cwd, env)
        req["op"] = "start"
        return self._request(req, 10.0)["pid"]

    def enter(self, argv, **kw):
        """Run argv in this child's namespaces by joining them (setns), as ``docker exec`` does."""
        return enter(self, argv, **kw)

    def close(self):
        """Kill and reap everything in the child.  Idempotent; harmless after an external kill."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._finalizer.detach()
            _finalize(self._sock, self._helper, self.id, self._helper_proc)


def _finalize(sock, helper, cid, helper_proc=None):
    try:
        sock.close()
    except OSError:
        pass
    # Closing the socket alone ends the child (its init sees EOF); asking the
    # helper as well makes close() return only once everything is reaped.
    if helper.alive() and (helper_proc is None or helper.proc is helper_proc):
        try:
            helper.request({"op": "close", "id": cid}, timeout=10)
        except NslabError:
            pass


def _run_request(argv, timeout, input, cwd, env):
    if isinstance(argv, (str, bytes)) or not argv or not all(isinstance(a, str) for a in argv):
        raise NsValueError(f"argv must be a non-empty list of strings (no shell), got {argv!r}")
    if any("\0" in a for a in argv):
        raise NsValueError("argv contains a NUL byte")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
        raise NsValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if input is not None and not isinstance(input, str):
        raise NsValueError("input must be a string")
    if env is not None:
        if not (isinstance(env, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())):
            raise NsValueError("env must be a dict of strings")
        for k, v in env.items():
            if not k or "=" in k or "\0" in k or "\0" in v:
                raise NsValueError(f"env entry {k!r}: a name is non-empty without '=' or NUL, a value has no NUL")
    if cwd is not None and (not isinstance(cwd, str) or not cwd or "\0" in cwd):
        raise NsValueError(f"cwd must be a path string without NUL, got {cwd!r}")
    return {"op": "run", "argv": list(argv), "timeout": timeout, "input": input, "cwd": cwd, "env": env}


def _target_pid(target):
    if isinstance(target, Child):
        if not target.alive:
            raise ChildFailed("the child is closed or gone", pid=target.pid, hint="spawn a new one")
        return target.pid
    return check_pid(target)


def _ns_of(pid):
    from . import _gather

    ns, _ = _gather.read_ns(pid)
    if not any(ns.values()):
        raise ChildFailed(f"no process {pid} (or its namespaces are unreadable)", pid=pid, step="read /proc/PID/ns", hint="check the PID with ps")
    return ns


def _joins(pid, wanted):
    """The types among ``wanted`` whose namespace ``pid`` does not share with us, user first when needed.

    Unprivileged, setns into a namespace needs capabilities in its owning
    user namespace, which only joining that user namespace gives (setns(2)).
    """
    mine, theirs = _ns_of("self"), _ns_of(pid)
    join = [t for t in wanted if theirs.get(t) and theirs.get(t) != mine.get(t)]
    if join and "user" not in join and theirs.get("user") != mine.get("user") and privilege() != "root":
        join.insert(0, "user")
    return join


def _is_process(pid):
    """A thread ID that is not a thread-group leader has /proc/TID too, but is not a process."""
    try:
        with open(f"/proc/{pid}/status") as f:
            st = _parse.parse_status(f.read())
    except OSError:
        return False
    return st.get("tgid") == pid


def enter(target, argv, *, namespaces=None, timeout=10.0, input=None, env=None):
    """Run argv inside the namespaces of a running process or Child, the way nsenter(1) and ``docker exec`` do.

    A throwaway helper child opens /proc/PID/ns/*, calls setns(2) for each
    (user first, mnt last), then forks the command, which is how it lands in
    the target's PID and time namespaces.  ``namespaces`` limits the joins
    (default: every type whose namespace differs from the caller's).
    """
    pid = _target_pid(target)
    req = _run_request(argv, timeout, input, None, env)
    wanted = parse_namespaces(namespaces) if namespaces is not None else tuple(NAMESPACES)
    if not _is_process(pid):
        raise ChildFailed(f"{pid} is not a running process", pid=pid, step="enter", hint="pass the PID of a process (not a thread), or a Child")
    req.update(op="enter", pid=pid, join=_joins(pid, wanted))
    out, _ = _helper.get_helper().request(req, timeout=None if timeout is None else timeout + 15)
    return RunResult(out["returncode"], out["stdout"], out["stderr"])


def view(pid=None):
    """What one process sees (default: the caller), side by side-ready with a child's View.

    For another process, a throwaway helper child joins its uts, net, ipc,
    cgroup and time namespaces (and its user namespace first when needed) and
    reads there: the caller itself never setns-es.
    """
    from . import _gather

    if pid is None or pid == os.getpid():
        return View(_gather.gather(), label="this process")
    check_pid(pid)
    # The live parts of a view (hostname, links, IPC, clocks, cgroup paths)
    # need the target's namespaces; its /proc files can be read from here.
    join = _joins(pid, ("uts", "net", "ipc", "cgroup", "time"))
    if not join:
        return View(_gather.gather(pid=pid), label=f"pid {pid}")
    data, _ = _helper.get_helper().request({"op": "view_pid", "pid": pid, "join": join}, timeout=15)
    return View(data, label=f"pid {pid}")


def veth(a, b, *, names=("veth0", "veth1"), addresses=("10.0.0.1/24", "10.0.0.2/24"), up=True):
    """Join two children's network namespaces with a veth pair (veth(4)) and give each end an address.

    Both must have a new network namespace: a link is never added to the
    host's.  Rootless, both must share a user namespace (spawn the second with
    ``userns=a``).  Uses ip(8) from iproute2, run by argv in the children's
    namespaces; the pair disappears with either namespace.
    """
    import ipaddress
    import shutil

    from ._errors import NsPermissionError, NsUnsupportedError
    from ._validate import check_ifname

    for c in (a, b):
        if not isinstance(c, Child):
            raise NsValueError(f"veth joins two Child objects, got {c!r}", nstype="net")
        if "net" not in c.namespaces:
            raise UnsafeRequest(
                f"child {c.pid} shares the host's network namespace: a veth end there would change the host",
                nstype="net",
                hint="spawn both children with 'net'",
            )
        if not c.alive:
            raise ChildFailed("the child is closed or gone", pid=c.pid, nstype="net")
    if a is b:
        raise NsValueError("veth needs two different children", nstype="net")
    if len(names) != 2 or names[0] == names[1]:
        raise NsValueError(f"names must be two different interface names, got {names!r}", nstype="net")
    for n in names:
        check_ifname(n)
    addrs = []
    for addr in addresses or ():
        try:
            addrs.append(str(ipaddress.ip_interface(addr)) if addr is not None else None)
        except (ValueError, TypeError) as err:
            raise NsValueError(f"not an address with prefix: {addr!r} ({err})", nstype="net", hint="e.g. '10.0.0.1/24'") from None
    if shutil.which("ip") is None:
        raise NsUnsupportedError("the ip command (iproute2) is missing", nstype="net", hint="apt-get install iproute2")
    if privilege() != "root" and _ns_of(a.pid).get("user") != _ns_of(b.pid).get("user"):
        raise NsPermissionError(
            "rootless, both ends must be in one user namespace",
            nstype="net",
            hint="spawn the second child with userns=first_child",
        )
    net = ["net"]

    def ip(child, *args):
        r = enter(child, ["ip", *args], namespaces=net)
        if r.returncode != 0:
            raise ChildFailed(f"ip {' '.join(args)}: {r.stderr.strip()}", pid=child.pid, nstype="net", step="veth")
        return r

    ip(a, "link", "add", names[0], "type", "veth", "peer", "name", names[1], "netns", str(b.pid))
    for child, name, addr in zip((a, b), names, [*addrs, None, None][:2], strict=True):
        if addr:
            ip(child, "addr", "add", addr, "dev", name)
        if up:
            ip(child, "link", "set", "dev", name, "up")
            ip(child, "link", "set", "dev", "lo", "up")
