"""The single-threaded helper that does every unshare, setns and mount.

A Jupyter kernel is threaded, and CLONE_NEWUSER (and setns into user or mount
namespaces) is refused to threaded callers (unshare(2), setns(2)).  So the
kernel starts this module once as ``python -m nslab._helper`` and talks to it
over a socket; the helper forks everything else.  One spawn costs two forks
of a small process, not an interpreter start.

Process tree of one child (FACTS.md, "Jupyter specifics")::

    kernel ── helper (SIGINT ignored, subreaper, parent-death SIGKILL)
                └── setup   unshare(flags); maps written by the helper;
                    │       / made MS_REC|MS_PRIVATE; hostname; time offsets
                    └── init  PID 1 of a new PID namespace (or just the child):
                              fresh /proc, serves view/run requests on its socket

Every process below the kernel has a parent-death signal (checked against its
parent after prctl), SIGINT at its default, and no inherited descriptor but
its own.  The kernel holds each child by one socket: when the kernel dies,
the sockets close, init sees EOF, and the chain unwinds even without signals.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import os
import select
import signal
import socket
import sys
import threading
import time

from . import _proto, _sys
from ._errors import ChildFailed, ChildTimeout, HelperError, NslabError, translate_oserror
from ._ns import CLONE_FLAGS, NAMESPACES

STEPS = ("unshare", "maps", "mount_private", "hostname", "offsets", "fork_init", "mount_proc", "ready")


# ---------------------------------------------------------------- in children


def _close_fds(keep):
    """Close every inherited descriptor but stdio and ``keep`` (FACTS.md: inherited sockets keep ports bound)."""
    keep = set(keep) | {0, 1, 2}
    try:
        fds = [int(n) for n in os.listdir("/proc/self/fd")]
    except OSError:
        fds = range(3, 1024)
    for fd in fds:
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def _become_child(parent_pid, keep, name):
    """What every forked process does first."""
    gc.disable()  # short-lived: a collection would only dirty copy-on-write pages
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.set_wakeup_fd(-1)
    _sys.set_pdeathsig(signal.SIGKILL)
    # The parent may have died before prctl took effect (prctl(2)).
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)
    _close_fds(keep)
    _sys.set_name(name)


def _devnull_stdio():
    fd = os.open(os.devnull, os.O_RDWR)
    for std in (0, 1, 2):
        os.dup2(fd, std)
    if fd > 2:
        os.close(fd)


def _descendants(pid):
    """PIDs below ``pid`` (as this procfs numbers them), children first."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tasks:
            try:
                with open(f"/proc/{p}/task/{t}/children") as f:
                    kids = [int(x) for x in f.read().split()]
            except OSError:
                continue
            out.extend(kids)
            todo.extend(kids)
    return out


def _kill_descendants():
    me = os.getpid()
    for _ in range(10):
        kids = _descendants(me)
        if not kids:
            break
        for k in kids:
            try:
                os.kill(k, signal.SIGKILL)
            except OSError:
                pass
        _reap_all(block_for=0.5)


def _reap_all(block_for=0.0):
    deadline = time.monotonic() + block_for
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            if time.monotonic() >= deadline:
                return
            time.sleep(0.002)


class _Fault(OSError):
    pass


def _step(spec, name):
    if spec.get("fail_at") == name:
        raise _Fault(errno.EIO, f"fault injected at step {name!r}")


def _culprit(flags):
    """Which single type makes unshare fail.  Runs only in a doomed setup process."""
    order = ["user"] + [n for n in NAMESPACES if n != "user"]
    for name in order:
        if flags & CLONE_FLAGS[name]:
            try:
                _sys.unshare(CLONE_FLAGS[name])
            except OSError:
                return name
    return None


def _zygote_main(sock, helper_pid, life_r, life_w):
    """A spare setup process, forked ahead of need (as Android's zygote is).

    It pays the fork while nobody waits, then sleeps until a spawn hands it
    a spec.  (Warming its pages up as well was tried and measured slower:
    on two cores the warm-up competes with the caller.)  It lives
    in the helper's own namespaces and changes nothing until then.  Never returns.
    """
    try:
        _become_child(helper_pid, (sock.fileno(), life_r, life_w), "nslab-zygote")
        _devnull_stdio()
        _sys.set_subreaper()
        msg, _ = _proto.recv(sock)
    except BaseException:
        os._exit(0)
    if msg.get("op") != "go":
        os._exit(0)
    _sys.set_name("nslab-setup")
    _setup_main(msg["spec"], sock, life_r, life_w)


def _setup_main(spec, sock, life_r, life_w):
    """The process that unshares.  Never returns."""
    status = 1
    try:
        flags = spec["flags"]
        step = "unshare"
        nstype = None
        try:
            if spec.get("userns_pid"):
                # Join a sibling's user namespace instead of making one, so that
                # both children's namespaces share an owner (veth needs that).
                step, nstype = "join the user namespace of the other child", "user"
                fd = os.open(f"/proc/{spec['userns_pid']}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
                _sys.setns(fd, CLONE_FLAGS["user"])
                os.close(fd)
                _become_root_inside()
            step, nstype = "unshare", None
            try:
                _sys.unshare(flags)
            except OSError as err:
                nstype = _culprit(flags) if bin(flags).count("1") > 1 else _single(flags)
                raise err
            _step(spec, "unshare")
            if flags & CLONE_FLAGS["user"]:
                step, nstype = "write uid_map/gid_map", "user"
                _proto.send(sock, {"op": "maps"})
                reply, _ = _proto.recv(sock, timeout=30)
                if reply.get("op") != "maps_ok":
                    os._exit(3)  # the helper reports the failure itself
                os.setresgid(spec["gid"], spec["gid"], spec["gid"])
                if spec.get("setgroups") == "allow":
                    os.setgroups([])
                os.setresuid(spec["uid"], spec["uid"], spec["uid"])
                # Changing credentials clears "dumpable", which hands our /proc
                # files to the host's root and then EACCES on timens_offsets (proc(5)).
                _sys.prctl(_sys.PR_SET_DUMPABLE, 1)
                _step(spec, "maps")
            if flags & CLONE_FLAGS["mnt"]:
                # A copied mount table keeps its propagation: on systemd hosts
                # / is shared and the next mount would leak (mount_namespaces(7)).
                step, nstype = "make / MS_REC|MS_PRIVATE", "mnt"
                _sys.mount(None, "/", None, _sys.MS_REC | _sys.MS_PRIVATE)
                _step(spec, "mount_private")
            if flags & CLONE_FLAGS["uts"]:
                step, nstype = "sethostname", "uts"
                if spec.get("hostname") is not None:
                    _sys.sethostname(spec["hostname"])
                if spec.get("domainname") is not None:
                    step = "setdomainname"
                    _sys.setdomainname(spec["domainname"])
                _step(spec, "hostname")
            if flags & CLONE_FLAGS["time"]:
                # Before the first child enters; EACCES after (time_namespaces(7)).
                step, nstype = "write timens_offsets", "time"
                lines = []
                if spec.get("monotonic"):
                    lines.append(f"1 {int(spec['monotonic'])} 0\n")  # CLOCK_MONOTONIC
                if spec.get("boottime"):
                    lines.append(f"7 {int(spec['boottime'])} 0\n")  # CLOCK_BOOTTIME
                if lines:
                    _write_all("/proc/self/timens_offsets", "".join(lines))
                _step(spec, "offsets")
            if not flags & (CLONE_FLAGS["pid"] | CLONE_FLAGS["time"]):
                # Nothing needs a second process: this one is the child.
                _sys.set_name("nslab-init")
                os.close(life_r)
                os.close(life_w)
                _step(spec, "fork_init")
                _proto.send(sock, {"op": "init", "pid": os.getpid()})
                status = _be_the_child(spec, sock)
                os._exit(status)
            # PID and time namespaces take effect in the next child only (pid_namespaces(7), time_namespaces(7)).
            step, nstype = "fork the child's init", "pid" if flags & CLONE_FLAGS["pid"] else "time"
            _step(spec, "fork_init")
            me = os.getpid()
            init = os.fork()
            if init == 0:
                _init_main(spec, sock, me, life_r, life_w)
            os.close(life_r)
            _proto.send(sock, {"op": "init", "pid": init})
            os.write(life_w, b"g")  # init may answer now
            sock.close()
        except OSError as err:
            e = err.errno if not isinstance(err, _Fault) else errno.EIO
            exc = translate_oserror(err, nstype=nstype, step=step)
            if isinstance(err, _Fault):
                exc = ChildFailed(str(err), nstype=nstype, errno=e, step=step, hint="a fault injected by a test")
            try:
                _proto.send(sock, {"op": "error", "error": exc.to_dict()})
            except OSError:
                pass
            os._exit(2)
        # Wait for init; afterwards reap whatever was orphaned to us (we are a subreaper).
        while True:
            try:
                pid, _st = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            if pid == init:
                _kill_descendants()
                break
        _reap_all()
        status = 0
    except BaseException:
        status = 4
    finally:
        os._exit(status)


def _single(flags):
    for name, flag in CLONE_FLAGS.items():
        if flags == flag:
            return name
    return None


def _write_all(path, text):
    data = text.encode()
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        n = os.write(fd, data)
    finally:
        os.close(fd)
    if n != len(data):  # a short write to a map file is a refusal (user_namespaces(7))
        raise OSError(errno.EIO, f"short write to {path}: {n} of {len(data)} bytes")


def _init_main(spec, sock, setup_pid, life_r, life_w):
    """The child proper, forked by setup for a new PID or time namespace.  Never returns."""
    status = 4
    try:
        os.close(life_w)
        # getppid() is 0 in a new PID namespace, so the liveness check is the
        # pipe: setup writes one byte once it has told the helper our PID.
        _become_child(None, (sock.fileno(), life_r), "nslab-init")
        if os.read(life_r, 1) != b"g":
            os._exit(1)
        os.close(life_r)
        _sys.set_subreaper()
        status = _be_the_child(spec, sock)
    finally:
        os._exit(status)


def _be_the_child(spec, sock):
    """Finish the child's set-up, say ready, serve until told to stop; returns an exit status."""
    flags = spec["flags"]
    notes = {}
    step = "start"
    try:
        try:
            if spec.get("rootfs"):
                step = "build the root filesystem"
                _build_rootfs(spec, notes)
            elif spec.get("mount_proc"):
                # procfs shows the PID namespace of its mounter (proc(5)).
                step = "mount /proc"
                _sys.mount("proc", "/proc", "proc", _sys.MS_NOSUID | _sys.MS_NODEV | _sys.MS_NOEXEC)
                _step(spec, "mount_proc")
            if flags & CLONE_FLAGS["ipc"]:
                # The mqueue fs shows the IPC namespace of its mounter (mq_overview(7)).
                if flags & CLONE_FLAGS["mnt"] and os.path.isdir("/dev/mqueue"):
                    try:
                        _sys.mount("mqueue", "/dev/mqueue", "mqueue", _sys.MS_NOSUID | _sys.MS_NODEV | _sys.MS_NOEXEC)
                    except OSError as err:
                        notes["mqueue"] = f"could not mount a fresh mqueue: {err.strerror}"
                else:
                    notes["mqueue"] = "new IPC namespace without a fresh mqueue mount: /dev/mqueue would show another namespace's queues"
            _step(spec, "ready")
        except OSError as err:
            exc = translate_oserror(err, nstype="mnt", step=step)
            if isinstance(err, _Fault):
                exc = ChildFailed(str(err), errno=errno.EIO, step=step, hint="a fault injected by a test")
            _proto.send(sock, {"op": "error", "error": exc.to_dict()})
            return 2
        _proto.send(sock, {"op": "ready", "pid": os.getpid()})
        _serve(sock, spec, notes)
        return 0
    except BaseException:
        return 4
    finally:
        if not (flags & CLONE_FLAGS["pid"]):
            # Without a PID namespace nothing kills what run() left behind
            # but us: we are its subreaper.
            _kill_descendants()


ROOTFS_DIRS = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc")
ROOTFS_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
# statvfs(2) flag -> the mount flag that must be kept on a read-only remount:
# in a mount namespace of a less privileged user namespace these are locked
# (mount_namespaces(7)), and dropping one fails with EPERM.
_KEEP = ((2, _sys.MS_NOSUID), (4, _sys.MS_NODEV), (8, _sys.MS_NOEXEC), (1024, 1024), (2048, 2048), (4096, 1 << 21))


def _bind_ro(src, dst):
    _sys.mount(src, dst, None, _sys.MS_BIND | _sys.MS_REC)
    keep = 0
    f = os.statvfs(src).f_flag
    for st, ms in _KEEP:
        if f & st:
            keep |= ms
    _sys.mount(None, dst, None, _sys.MS_REMOUNT | _sys.MS_BIND | _sys.MS_RDONLY | keep)


def _build_rootfs(spec, notes):
    """A root of our own: a tmpfs with read-only binds of the host's /usr and friends, then pivot_root(2).

    The tmpfs goes over /tmp *in this private mount namespace*: the host's
    /tmp is untouched and no directory is created on the host.  /proc is
    mounted before the pivot, while the old one is still visible: a user
    namespace may mount procfs only where a full one is already seen
    (mount_namespaces(7), "mount_too_revealing").
    """
    new = "/tmp"
    _sys.mount("nslab-rootfs", new, "tmpfs", _sys.MS_NOSUID | _sys.MS_NODEV, "mode=0755,size=16m")
    for d in ROOTFS_DIRS:
        src = "/" + d
        if os.path.islink(src):
            os.symlink(os.readlink(src), f"{new}/{d}")  # merged /usr: bin -> usr/bin
        elif os.path.isdir(src):
            os.mkdir(f"{new}/{d}")
            _bind_ro(src, f"{new}/{d}")
    os.mkdir(f"{new}/dev")
    _sys.mount("nslab-dev", f"{new}/dev", "tmpfs", _sys.MS_NOSUID | _sys.MS_NOEXEC, "mode=0755,size=64k")
    for dev in ROOTFS_DEVICES:
        if os.path.exists(f"/dev/{dev}"):
            open(f"{new}/dev/{dev}", "w").close()
            _sys.mount(f"/dev/{dev}", f"{new}/dev/{dev}", None, _sys.MS_BIND)
    # /dev/shm is a tmpfs of its own (POSIX shm follows the mount namespace,
    # shm_overview(7)); /dev/mqueue gets its mount below, once ipc is known.
    os.mkdir(f"{new}/dev/shm")  # the tmpfs mounted on it sets mode 1777, as /dev/shm always is
    _sys.mount("nslab-shm", f"{new}/dev/shm", "tmpfs", _sys.MS_NOSUID | _sys.MS_NODEV, "mode=1777,size=1m")
    os.mkdir(f"{new}/dev/mqueue")
    for d, mode in (("proc", 0o555), ("tmp", 0o1777), ("root", 0o700), ("oldroot", 0o700)):
        os.mkdir(f"{new}/{d}", mode)
        os.chmod(f"{new}/{d}", mode)
    if spec.get("mount_proc"):
        _sys.mount("proc", f"{new}/proc", "proc", _sys.MS_NOSUID | _sys.MS_NODEV | _sys.MS_NOEXEC)
    else:
        # No PID namespace of its own: keep seeing the procfs we have (a new
        # one would need privilege over the host's PID namespace).
        _sys.mount("/proc", f"{new}/proc", None, _sys.MS_BIND | _sys.MS_REC)
    os.chdir(new)
    _sys.pivot_root(".", "oldroot")
    os.chdir("/")
    _sys.umount2("/oldroot", _sys.MNT_DETACH)
    os.rmdir("/oldroot")
    notes["rootfs"] = "own root: tmpfs with read-only binds of " + ", ".join(d for d in ROOTFS_DIRS if os.path.exists("/" + d))


def _serve(sock, spec, notes):
    from . import _gather

    started = []
    while True:
        _reap_all()
        try:
            req, fds = _proto.recv(sock)
        except (_proto.Closed, OSError):
            return
        for fd in fds:
            os.close(fd)
        seq = req.get("seq")
        op = req.get("op")
        try:
            if op == "view":
                data = _gather.gather()
                for k, v in notes.items():
                    if k == "rootfs":
                        data["rootfs"] = v
                        continue
                    data["errors"][k] = v
                    if k == "mqueue":
                        data["mqueue"] = None
                reply = {"ok": data}
            elif op == "run":
                reply = {"ok": _run(req)}
            elif op == "start":
                reply = {"ok": _start(req, started)}
            elif op == "exit":
                _proto.send(sock, {"seq": seq, "ok": True})
                return
            else:
                reply = {"error": HelperError(f"unknown request {op!r}").to_dict()}
        except NslabError as err:
            reply = {"error": err.to_dict()}
        except OSError as err:
            reply = {"error": translate_oserror(err, step=op).to_dict()}
        except Exception as err:  # nothing a request carries may end the child
            reply = {"error": HelperError(f"{op} failed inside the child: {type(err).__name__}: {err}", step=op).to_dict()}
        reply["seq"] = seq
        try:
            _proto.send(sock, reply)
        except OSError:
            return


def _run(req):
    import subprocess

    argv = req["argv"]
    try:
        p = subprocess.run(
            argv,
            input=(req.get("input") or "").encode(),
            capture_output=True,
            timeout=req.get("timeout"),
            cwd=req.get("cwd"),
            env=req.get("env"),
            close_fds=True,
            restore_signals=True,
            preexec_fn=_run_preexec,
        )
    except subprocess.TimeoutExpired as err:
        raise ChildTimeout(
            f"{argv[0]} did not finish within {req.get('timeout')} s", step="run", hint="raise timeout=, or check the command waits for nothing"
        ) from err
    except FileNotFoundError as err:
        raise _not_found(err, req, "run") from err
    return {
        "returncode": p.returncode,
        "stdout": p.stdout.decode("utf-8", "replace"),
        "stderr": p.stderr.decode("utf-8", "replace"),
    }


def _not_found(err, req, step):
    cwd = req.get("cwd")
    if cwd is not None and err.filename == cwd:
        return ChildFailed(f"cwd {cwd!r} does not exist inside the child", errno=err.errno, step=step)
    return ChildFailed(f"{req['argv'][0]}: command not found inside the child", errno=err.errno, step=step)


def _start(req, started):
    """Start argv in the background (a server, say); it lives until the child closes."""
    import subprocess

    try:
        p = subprocess.Popen(
            req["argv"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=req.get("cwd"),
            env=req.get("env"),
            close_fds=True,
            restore_signals=True,
            preexec_fn=_run_preexec,
        )
    except FileNotFoundError as err:
        raise _not_found(err, req, "start") from err
    started.append(p)
    return {"pid": p.pid}


def _run_preexec():
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    _sys.set_pdeathsig(signal.SIGKILL)


# ---------------------------------------------------------------- the helper


class _Server:
    def __init__(self, ctl, parent):
        self.ctl = ctl
        self.parent = parent
        self.children = {}  # id -> {"setup": pid, "init": pid, "init_fd": pidfd}
        self.zygote = None  # (pid, socket) of the spare setup process
        self.exited = {}  # pid -> wait status, for tracked pids reaped early
        self.next_id = 1

    def reap(self):
        while True:
            try:
                pid, st = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if self.zygote is not None and self.zygote[0] == pid:
                self.zygote[1].close()  # the spare died (an interrupt): fork another when needed
                self.zygote = None
                continue
            for cid, info in list(self.children.items()):
                if info["setup"] == pid:  # died on its own (an interrupt, an external kill)
                    os.close(info["init_fd"])
                    del self.children[cid]
                    break
            else:
                self.exited[pid] = st

    def wait_pid(self, pid, timeout):
        """Reap our child ``pid`` within ``timeout`` s; its wait status, or None."""
        if pid in self.exited:
            return self.exited.pop(pid)
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            fd = None
        try:
            if fd is not None:
                select.select([fd], [], [], timeout)  # readable once it has exited
            got, st = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return self.exited.pop(pid, None)
        finally:
            if fd is not None:
                os.close(fd)
        return st if got else None

    def serve(self):
        rfd, wfd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(wfd)
        while True:
            r, _, _ = select.select([self.ctl, rfd], [], [])
            if rfd in r:
                try:
                    os.read(rfd, 4096)
                except BlockingIOError:
                    pass
                self.reap()
            if self.ctl not in r:
                continue
            try:
                req, fds = _proto.recv(self.ctl)
            except (_proto.Closed, OSError):
                break
            for fd in fds:
                os.close(fd)
            reply_fds = []
            try:
                reply, reply_fds = self.handle(req)
            except NslabError as err:
                reply = {"error": err.to_dict()}
            except OSError as err:
                reply = {"error": translate_oserror(err, step=req.get("op")).to_dict()}
            except Exception as err:  # a bug: report it rather than die silently
                reply = {"error": HelperError(f"helper bug: {type(err).__name__}: {err}").to_dict()}
            reply["seq"] = req.get("seq")
            try:
                _proto.send(self.ctl, reply, reply_fds)
            except OSError:
                break
            finally:
                for fd in reply_fds:
                    os.close(fd)
            # The next spawn's fork happens now, while the caller reads its view.
            self.fork_zygote()
        self.shutdown()

    def shutdown(self):
        self.drop_zygote()
        for info in list(self.children.values()):
            _pidfd_kill(info["init_fd"])
        _kill_descendants()
        _reap_all(block_for=0.2)

    def handle(self, req):
        op = req.get("op")
        if op == "ping":
            return {"ok": {"pid": os.getpid()}}, []
        if op == "spawn":
            return self.spawn(req["spec"])
        if op == "close":
            return self.close(req["id"]), []
        if op in ("view_pid", "enter"):
            return self.view_pid(req), []
        raise HelperError(f"unknown request {op!r}")

    def fork_zygote(self):
        if self.zygote is not None:
            return
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        life_r, life_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            a.close()
            _zygote_main(b, self.helper_pid, life_r, life_w)
        b.close()
        os.close(life_r)
        os.close(life_w)
        self.zygote = (pid, a)

    def drop_zygote(self):
        if self.zygote is None:
            return
        pid, a = self.zygote
        self.zygote = None
        a.close()  # it sees EOF and exits
        if self.wait_pid(pid, 1.0) is None:
            os.kill(pid, signal.SIGKILL)  # unreaped, so still ours
            self.wait_pid(pid, 1.0)

    def spawn(self, spec):
        self.fork_zygote()
        pid, a = self.zygote
        self.zygote = None
        init = init_fd = None
        try:
            _proto.send(a, {"op": "go", "spec": spec})
            while True:
                try:
                    msg, fds = _proto.recv(a, timeout=30)
                except _proto.Closed:
                    st = self.wait_pid(pid, 2.0)
                    raise ChildFailed(
                        f"the child died during setup ({_describe(st)})", step="setup", pid=pid
                    ) from None
                for fd in fds:
                    os.close(fd)
                op = msg.get("op")
                if op == "maps":
                    try:
                        self.write_maps(pid, spec)
                    except OSError as err:
                        os.kill(pid, signal.SIGKILL)
                        self.wait_pid(pid, 2.0)
                        step = f"write {getattr(err, 'nslab_file', 'uid_map')}"
                        raise translate_oserror(err, nstype="user", step=step, pid=pid) from err
                    _proto.send(a, {"op": "maps_ok"})
                elif op == "init":
                    init = msg["pid"]
                    # A pidfd, so that a kill later can never hit a recycled PID.
                    init_fd = os.pidfd_open(init)
                elif op == "error":
                    if init_fd is not None:
                        _pidfd_kill(init_fd)
                    self.wait_pid(pid, 2.0)
                    raise NslabError.from_dict(msg["error"])
                elif op == "ready":
                    break
        except BaseException:
            a.close()
            if init_fd is not None:
                _pidfd_kill(init_fd)
                os.close(init_fd)
            try:
                os.kill(pid, signal.SIGKILL)  # still our unreaped child: the PID cannot be reused
            except OSError:
                pass
            self.wait_pid(pid, 2.0)
            raise
        cid = self.next_id
        self.next_id += 1
        self.children[cid] = {"setup": pid, "init": init, "init_fd": init_fd}
        fd = os.dup(a.fileno())
        a.close()
        return {"ok": {"id": cid, "pid": init, "setup_pid": pid, "pid_inside": msg["pid"]}}, [fd]

    def write_maps(self, pid, spec):
        # Written by the helper, in the parent user namespace: a process inside
        # can map only its own id (user_namespaces(7)).
        for name, text in (("setgroups", spec.get("setgroups")), ("uid_map", spec["uid_map"]), ("gid_map", spec["gid_map"])):
            if text is None:
                continue
            try:
                _write_all(f"/proc/{pid}/{name}", text)
            except OSError as err:
                err.nslab_file = name
                raise

    def close(self, cid):
        info = self.children.pop(cid, None)
        if info is None:
            return {"ok": "already closed"}
        # The caller closed its socket first: init sees EOF, cleans up and
        # exits.  Wait for that, then make sure with SIGKILL.
        st = self.wait_pid(info["setup"], 2.0)
        if st is None:
            _pidfd_kill(info["init_fd"])
            os.kill(info["setup"], signal.SIGKILL)  # not reaped yet, so still ours
            st = self.wait_pid(info["setup"], 3.0)
        os.close(info["init_fd"])
        return {"ok": _describe(st)}

    def view_pid(self, req):
        """Fork a reader that joins the target's namespaces and gathers there."""
        target = int(req["pid"])
        join = req.get("join", [])
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:
            a.close()
            _reader_main(target, join, b, self.helper_pid, req)
        b.close()
        wait = 10 if req["op"] == "view_pid" else (req.get("timeout") or 3600) + 10
        try:
            msg, _ = _proto.recv(a, timeout=wait)
        except _proto.Closed:
            st = self.wait_pid(pid, 2.0)
            raise ChildFailed(f"the reader died ({_describe(st)})", step="view", pid=target) from None
        finally:
            a.close()
            self.wait_pid(pid, 2.0)
        if "error" in msg:
            raise NslabError.from_dict(msg["error"])
        return {"ok": msg["ok"]}


def _reader_main(target, join, sock, helper_pid, req):
    """Join the target's namespaces (setns), then read a view or run a command there."""
    status = 1
    try:
        _become_child(helper_pid, (sock.fileno(),), "nslab-reader")
        _devnull_stdio()
        from . import _gather

        step, nstype = "open namespaces", None
        try:
            fds = {}
            for name in join:
                nstype = name
                fds[name] = os.open(f"/proc/{target}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC)
            # user first: it grants the capabilities the other joins need;
            # mnt last: it resets our root and cwd (setns(2)).
            for name in sorted(fds, key=lambda n: (n != "user", n == "mnt")):
                step, nstype = f"setns into {name}", name
                _sys.setns(fds[name], CLONE_FLAGS[name])
                os.close(fds[name])
                if name == "user":
                    _become_root_inside()
            if req["op"] == "enter":
                # PID and time namespaces apply to our children: _run forks (setns(2)).
                step, nstype = "run", None
                reply = {"ok": _run(req)}
            else:
                step, nstype = "read the view", None
                reply = {"ok": _gather.gather(pid=target)}
        except NslabError as err:
            reply = {"error": err.to_dict()}
        except (ValueError, TypeError) as err:  # what subprocess raises for bad arguments
            reply = {"error": HelperError(f"{step} failed: {type(err).__name__}: {err}", step=step, pid=target).to_dict()}
        except OSError as err:
            exc = translate_oserror(err, nstype=nstype, step=step, pid=target)
            if err.errno == errno.ENOENT and step == "open namespaces":
                exc = ChildFailed(f"no process {target}", errno=errno.ESRCH, pid=target, step="view")
            reply = {"error": exc.to_dict()}
        _proto.send(sock, reply)
        status = 0
    except BaseException:
        status = 4
    finally:
        os._exit(status)


def _become_root_inside():
    """After joining a user namespace, be its root when 0 is mapped there, as nsenter(1) does."""
    try:
        os.setgroups([])
    except OSError:
        pass  # setgroups is "deny" in a namespace an unprivileged user made
    try:
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
    except OSError:
        return  # 0 is not mapped: stay the overflow id
    _sys.prctl(_sys.PR_SET_DUMPABLE, 1)


def _pidfd_kill(fd):
    try:
        signal.pidfd_send_signal(fd, signal.SIGKILL)
    except OSError:
        pass  # already gone


def _describe(st):
    if st is None:
        return "not reaped"
    if os.WIFSIGNALED(st):
        return f"killed by {signal.Signals(os.WTERMSIG(st)).name}"
    return f"exit status {os.WEXITSTATUS(st)}"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    ctl_fd, parent = int(argv[0]), int(argv[1])
    # An interrupt is for the kernel's cell, not for the helper (FACTS.md).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _sys.set_pdeathsig(signal.SIGKILL)
    if os.getppid() != parent:
        return 1
    _sys.set_subreaper()
    _sys.set_name("nslab-helper")
    # Import now what children need, so that a fork costs no import.
    import subprocess  # noqa: F401

    from . import _gather  # noqa: F401

    try:
        from . import _netlink  # noqa: F401
    except ImportError:
        pass
    ctl = socket.socket(fileno=ctl_fd)
    _close_fds((ctl_fd,))
    gc.freeze()  # keep the startup heap out of collections, so forks share its pages
    server = _Server(ctl, parent)
    server.helper_pid = os.getpid()
    server.serve()
    return 0


# ---------------------------------------------------------------- the caller's side


class Helper:
    """The kernel's handle on its helper process; one per process, restarted if it dies."""

    def __init__(self):
        self.lock = threading.RLock()
        self.proc = None
        self.sock = None
        self.seq = 0
        self.owner = None

    def start(self):
        import subprocess

        if threading.current_thread() is not threading.main_thread():
            # The parent-death signal follows the forking *thread* (prctl(2)):
            # fork from one that lives as long as the process.
            return _run_in_keeper(self._start, subprocess)
        return self._start(subprocess)

    def _start(self, subprocess):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        boot = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_boot.py")
        debug = os.environ.get("NSLAB_DEBUG")
        self.proc = subprocess.Popen(
            [sys.executable, "-S", "-E", boot, str(theirs.fileno()), str(os.getpid())],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=None if debug else subprocess.DEVNULL,
            stderr=None if debug else subprocess.DEVNULL,
            close_fds=True,
        )
        theirs.close()
        self.sock = ours
        self.owner = os.getpid()
        return self

    def alive(self):
        return self.proc is not None and self.owner == os.getpid() and self.proc.poll() is None

    def ensure(self):
        with self.lock:
            if not self.alive():
                self.stop()
                self.start()
                self.request({"op": "ping"}, timeout=30)
            return self

    def request(self, req, timeout=30.0):
        with self.lock:
            self.seq += 1
            req = dict(req, seq=self.seq)
            try:
                _proto.send(self.sock, req)
                while True:
                    reply, fds = _proto.recv(self.sock, timeout=timeout)
                    if reply.get("seq") == self.seq:
                        break
                    for fd in fds:  # a late answer to an interrupted request
                        os.close(fd)
            except (_proto.Closed, BrokenPipeError, ConnectionResetError) as err:
                self.stop()
                raise HelperError("the nslab helper process died", step=req.get("op"), hint="it restarts on the next call") from err
            if "error" in reply:
                for fd in fds:
                    os.close(fd)
                raise NslabError.from_dict(reply["error"])
            return reply["ok"], fds

    def stop(self):
        with self.lock:
            if self.sock is not None:
                self.sock.close()
                self.sock = None
            if self.proc is not None and self.owner == os.getpid():
                try:
                    self.proc.wait(timeout=5)
                except Exception:
                    self.proc.kill()
                    self.proc.wait()
            self.proc = None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None


_keeper = None
_keeper_lock = threading.Lock()


def _run_in_keeper(fn, *args):
    """Run fn in a daemon thread that lives as long as the process."""
    import queue

    global _keeper
    with _keeper_lock:
        if _keeper is None:
            q = queue.Queue()

            def loop():
                while True:
                    f, a, out = q.get()
                    try:
                        out.put((True, f(*a)))
                    except BaseException as err:  # handed back to the caller
                        out.put((False, err))

            threading.Thread(target=loop, name="nslab-helper-parent", daemon=True).start()
            _keeper = q
    out = queue.Queue()
    _keeper.put((fn, args, out))
    ok, val = out.get()
    if not ok:
        raise val
    return val


_HELPER = Helper()


def _at_exit():
    # Let our own helper exit and be reaped by us, not orphaned to PID 1.
    with contextlib.suppress(Exception):
        _HELPER.stop()


import atexit  # noqa: E402

atexit.register(_at_exit)


def get_helper():
    return _HELPER.ensure()


def ensure_started():
    """Start the helper (if needed) and return its PID; tests call this before their first snapshot."""
    return get_helper().pid


def stop_helper():
    _HELPER.stop()


if __name__ == "__main__":
    sys.exit(main())
