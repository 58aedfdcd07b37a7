"""Faults: a Jupyter kernel interrupted, restarted and killed mid-demo; the helper killed; setup failing half way.

Whatever dies, every process the kit made must be gone within 2 s and the
host snapshot (conftest.py's ``host`` fixture) must not change.  The kernel
tests run a real ipykernel through jupyter_client, as JupyterLab does: an
interrupt is SIGINT and a restart SIGKILL to the kernel's process group
(FACTS.md, "Jupyter specifics"); ``kill -9`` of the kernel alone is the
harder case, where only parent-death signals and closed sockets unwind the
tree.

While a kernel runs, this process is a child subreaper (prctl(2)
PR_SET_CHILD_SUBREAPER): whatever the kernel's tree orphans is reparented
here instead of to PID 1, so an escaped process is still found among our
descendants rather than lost from view.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import json
import os
import queue
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import nslab
from nslab import _helper
from nslab.testing import descendants

pytestmark = pytest.mark.live

PRIV = nslab.privilege()
STRESS = int(os.environ.get("NSLAB_STRESS", "0") or 0)
# Where `import nslab` resolves for a fresh interpreter: the work tree or site-packages.
NSLAB_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(nslab.__file__)))
GONE_WITHIN = 2.0  # seconds, the bound


def _tally(**counts):
    """Add to `make stress`'s counters (a JSON line per call) when it asked for them."""
    path = os.environ.get("NSLAB_STRESS_REPORT")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(counts) + "\n")


# ---------------------------------------------------------------- process helpers


def _starttime(pid):
    """Field 22 of /proc/PID/stat (proc(5)), so a recycled PID is not taken for the old process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return int(text.rpartition(")")[2].split()[19])


def _state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return None


def _alive(pid, start):
    """The very process (pid, starttime) still exists and is not a zombie."""
    return _starttime(pid) == start and _state(pid) not in (None, "Z", "X")


def _wait_gone(procs, within=GONE_WITHIN):
    """Poll until none of {pid: starttime} is alive; return the ones still alive after ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        left = {p: s for p, s in procs.items() if _alive(p, s)}
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.02)


def _ns_ids(pid):
    out = {}
    for name in ("cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"):
        try:
            out[name] = os.readlink(f"/proc/{pid}/ns/{name}")
        except OSError:
            out[name] = None
    return out


def _comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_CHILD_SUBREAPER = 36  # include/uapi/linux/prctl.h


def _set_subreaper(on):
    if _libc.prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def _our_children():
    kids = set()
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/children") as f:
                kids |= {int(k) for k in f.read().split()}
        except FileNotFoundError:
            continue
    return kids


@contextlib.contextmanager
def _catching_orphans(keep):
    """Be a subreaper while the block runs; afterwards fail on any orphan that reached us alive.

    ``keep()`` returns the PIDs of our own children that are expected (the
    kernel's Popen, our own nslab helper).  Orphans that arrive as zombies
    (they died, as they should) are reaped here by PID; live ones are
    reported, then killed and reaped so that nothing stays behind.
    """
    _set_subreaper(True)
    escaped = {}
    try:
        yield escaped
    finally:
        _set_subreaper(False)
        deadline = time.monotonic() + GONE_WITHIN
        while True:
            strays = _our_children() - set(keep())
            live = {p for p in strays if _state(p) not in (None, "Z", "X")}
            for p in strays - live:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(p, os.WNOHANG)
            if not live or time.monotonic() >= deadline:
                break
            time.sleep(0.02)
        for p in live:
            escaped[p] = f"{_comm(p)} ns={_ns_ids(p)}"
            with contextlib.suppress(OSError):
                os.kill(p, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(p, 0)


# ---------------------------------------------------------------- a kernel, through jupyter_client


class _Kernel:
    """An ipykernel started by jupyter_client.KernelManager, with this nslab importable."""

    def __init__(self, tmp_path):
        from jupyter_client import KernelManager

        self.tmp = tmp_path
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (NSLAB_PARENT, env.get("PYTHONPATH")) if p)
        # Everything the kernel writes goes under tmp_path (uid 65534's HOME may be read-only).
        env["IPYTHONDIR"] = str(tmp_path / "ipython")
        env["JUPYTER_RUNTIME_DIR"] = str(tmp_path / "runtime")
        env["MPLBACKEND"] = "agg"
        env.pop("PYTEST_CURRENT_TEST", None)
        self.env = env
        self.km = KernelManager(kernel_name="python3")
        self.km.connection_file = str(tmp_path / "kernel.json")
        self.kc = None

    def start(self):
        self.km.start_kernel(env=self.env)
        self._connect()
        return self

    def _connect(self):
        if self.kc is not None:
            self.kc.stop_channels()
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    @property
    def pid(self):
        # jupyter_client 7+: the LocalProvisioner holds the Popen; km.kernel is gone in 8.
        return self.km.provisioner.process.pid

    def cell(self, code, timeout=60.0):
        """Run code; returns (stdout, error name or None)."""
        msg_id = self.kc.execute(textwrap.dedent(code))
        out, err = [], None
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"cell did not finish in {timeout} s: {code!r}")
            try:
                msg = self.kc.get_iopub_msg(timeout=left)
            except queue.Empty:
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream" and content["name"] == "stdout":
                out.append(content["text"])
            elif kind == "error":
                err = content["ename"]
            elif kind == "status" and content["execution_state"] == "idle":
                return "".join(out), err

    def start_cell(self, code):
        return self.kc.execute(textwrap.dedent(code))

    def wait_reply(self, msg_id, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = self.kc.get_shell_msg(timeout=deadline - time.monotonic())
            except queue.Empty:
                continue
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg["content"]
        raise TimeoutError("no execute_reply")

    def close(self):
        with contextlib.suppress(Exception):
            if self.kc is not None:
                self.kc.stop_channels()
        with contextlib.suppress(Exception):
            if self.km.has_kernel:
                self.km.shutdown_kernel(now=True)
        with contextlib.suppress(Exception):
            self.km.cleanup_resources()
        # The manager's own zmq context holds an eventfd and I/O threads.
        with contextlib.suppress(Exception):
            self.km.context.destroy(linger=0)
        # jupyter_core's run_sync keeps one asyncio loop per thread (an epoll fd
        # and a socketpair); close it, the next run_sync makes a fresh one.
        from jupyter_core.utils import ensure_event_loop

        ensure_event_loop().close()
        asyncio.set_event_loop(None)


# Spawns the demo's children in the kernel and prints every PID the kit made.
DEMO = """
import json, os, time, nslab
from nslab import _helper
init = nslab.spawn(["pid", "mnt"])
init.start(["sleep", "1000"])
web = nslab.spawn(["net"])
web.start(["python3", "-m", "http.server", "8080"])
# Wait until it listens inside its own network namespace: http.server binds
# "::" when it can, so tcp6 too (TCP_LISTEN is 0A, :1F90 is 8080; proc(5)).
def listening():
    text = web.run(["cat", "/proc/net/tcp", "/proc/net/tcp6"]).stdout
    return any(f[1].endswith(":1F90") and f[3] == "0A" for f in map(str.split, text.splitlines()) if len(f) > 3)
for _ in range(200):
    if listening():
        break
    time.sleep(0.05)
else:
    raise SystemExit("http.server never listened")
plain = nslab.spawn(["uts", "ipc"], hostname="kernel-demo")
print(json.dumps({"helper": _helper._HELPER.pid,
                  "children": [[c.pid, c.setup_pid] for c in (init, web, plain)],
                  "alive": [c.alive for c in (init, web, plain)]}))
"""


def _kit_processes(kernel_pid):
    """{pid: starttime} of every process below the kernel: the helper, its spare, setups, inits, servers."""
    return {p.pid: _starttime(p.pid) for p in descendants(kernel_pid) if _starttime(p.pid) is not None}


def _start_demo(k):
    out, err = k.cell(DEMO)
    assert err is None, out
    info = json.loads(out.strip().splitlines()[-1])
    procs = _kit_processes(k.pid)
    named = {info["helper"], *(p for pair in info["children"] for p in pair)}
    assert named <= set(procs), (named, procs)  # what the cell reports is what the host sees
    # The http.server and sleep are there too, one level below their inits.
    assert len(procs) >= len(named) + 2, procs
    return info, procs


def _foreign_descendants():
    """Our descendants in any namespace other than ours: a demo's process that reached us."""
    mine = _ns_ids("self")
    out = {}
    for p in descendants():
        theirs = _ns_ids(p.pid)
        if theirs != mine and _state(p.pid) not in (None, "Z", "X"):  # a zombie has no ns links; it is reaped later
            out[p.pid] = (p.comm, {k: v for k, v in theirs.items() if v != mine[k]})
    return out


@pytest.fixture
def kernel(tmp_path):
    k = _Kernel(tmp_path)
    own_helper = _helper._HELPER.pid

    def keep():
        pids = {own_helper}
        with contextlib.suppress(Exception):
            pids.add(k.pid)
        return pids

    with _catching_orphans(keep) as escaped:
        try:
            yield k.start()
        finally:
            k.close()
    assert not escaped, f"processes outlived the kernel and reached the test process: {escaped}"


@pytest.mark.timeout(180)
def test_kernel_interrupt_then_restart_leaves_nothing(kernel):
    k = kernel
    info, procs = _start_demo(k)
    # A cell busy in the kit (a run inside the PID-namespace child) is interrupted.
    msg_id = k.start_cell("import nslab\nsleeper = init.run(['sleep', '30'], timeout=60)\n")
    time.sleep(0.5)
    k.km.interrupt_kernel()
    reply = k.wait_reply(msg_id)
    assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt", reply
    # The kernel survives its interrupt, and so does the helper (it ignores SIGINT).
    out, err = k.cell("print(_helper._HELPER.alive(), _helper._HELPER.pid)")
    assert err is None and out.split() == ["True", str(info["helper"])], out
    # Each old child either still answers or says cleanly that it is gone: the
    # interrupt reaches their processes too (same process group, SIGINT at its
    # default, as _helper's docstring says), but never leaves one hanging.
    out, err = k.cell("""
        states = []
        for c in (init, web, plain):
            try:
                c.view(timeout=5)
                states.append("ok")
            except nslab.ChildFailed as e:
                states.append("ChildFailed")
        print(" ".join(states))
    """)
    assert err is None and set(out.split()) <= {"ok", "ChildFailed"}, (out, err)
    # The kit still works in this kernel after the interrupt.
    out, err = k.cell("with nslab.spawn(['uts'], hostname='after-int') as c: print(c.view().hostname)")
    assert (out.strip(), err) == ("after-int", None)
    # Children are running again (the interrupt may have ended the old ones: their
    # processes are in the kernel's process group, with SIGINT at its default).
    _info2, procs2 = _start_demo(k)
    everything = {**procs, **procs2}
    old_kernel = k.pid
    k.km.restart_kernel(now=True)
    k._connect()
    assert k.pid != old_kernel
    out, err = k.cell("import nslab\nwith nslab.spawn(['uts'], hostname='new-kernel') as c: print(c.view().hostname)")
    assert (out.strip(), err) == ("new-kernel", None)
    left = _wait_gone(everything)
    assert not left, f"still alive: { {p: _comm(p) for p in left} }"
    assert not _foreign_descendants()


@pytest.mark.timeout(180)
def test_kill_9_of_the_kernel_alone_leaves_nothing(kernel):
    k = kernel
    _info, procs = _start_demo(k)
    assert _alive(k.pid, _starttime(k.pid))
    os.kill(k.pid, signal.SIGKILL)  # the kernel process only, not its group
    left = _wait_gone(procs)
    assert not left, f"still alive: { {p: _comm(p) for p in left} }"
    assert not _foreign_descendants()
    # JupyterLab would restart it now; the new kernel works.
    k.km.restart_kernel(now=True)
    k._connect()
    out, err = k.cell("import nslab\nwith nslab.spawn(['uts'], hostname='after-kill') as c: print(c.view().hostname)")
    assert (out.strip(), err) == ("after-kill", None)


# ---------------------------------------------------------------- the helper killed from outside

HELPER_KILL = """
import json, os, signal, time, nslab
from nslab import _helper
a = nslab.spawn(["uts", "pid"], hostname="before")
b = nslab.spawn(["net"])
b.start(["sleep", "1000"])
old = {"helper": _helper._HELPER.pid, "kids": [a.pid, a.setup_pid, b.pid, b.setup_pid]}
print(json.dumps(old), flush=True)
input()  # the test records start times, then says go
os.kill(old["helper"], signal.SIGKILL)
time.sleep(0.2)
with nslab.spawn(["uts"], hostname="after") as c:
    host = c.view().hostname
errs = []
for child in (a, b):
    try:
        child.view()
    except nslab.NslabError as e:
        errs.append(type(e).__name__)
a.close(); b.close(); a.close()
print(json.dumps({"helper": _helper._HELPER.pid, "hostname": host, "errors": errs}), flush=True)
"""


def test_sigkill_of_the_helper_restarts_it_and_ends_its_children():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (NSLAB_PARENT, os.environ.get("PYTHONPATH")) if p))
    p = subprocess.Popen(
        [sys.executable, "-c", HELPER_KILL], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        old = json.loads(p.stdout.readline())
        procs = {pid: _starttime(pid) for pid in [old["helper"], *old["kids"]]}
        assert None not in procs.values(), old
        # Everything below the helper, the sleep included.
        procs |= {d.pid: _starttime(d.pid) for d in descendants(old["helper"])}
        p.stdin.write("go\n")
        p.stdin.flush()
        new = json.loads(p.stdout.readline())
        assert p.wait(timeout=30) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert new["helper"] != old["helper"]
    assert new["hostname"] == "after"
    assert new["errors"] == ["ChildFailed", "ChildFailed"]  # the old children say they are gone
    left = _wait_gone({k: v for k, v in procs.items() if v is not None})
    assert not left, f"still alive: { {pid: _comm(pid) for pid in left} }"


# ---------------------------------------------------------------- setup failing half way, with user and net

# test_engine covers every step with uts,pid,mnt,time,ipc (+user as real root).
# Here the user namespace is always asked for (fake root creates it directly,
# rootless it is the one spawn adds anyway) and net is added; the second
# combination has no PID or time namespace, so setup itself becomes the child.
COMBOS = {
    "user+net+pid+time": (
        ["user", "net", "uts", "pid", "mnt", "time", "ipc", "cgroup"],
        {"hostname": "faulty", "boottime": 10},
    ),
    "user+net, no fork": (["user", "net", "uts", "mnt"], {"hostname": "faulty"}),
}


def _reachable(names, opts):
    """The fault points a spawn with these namespaces passes through (see _helper._setup_main)."""
    s = set(names)
    steps = ["unshare", "maps"]
    if "mnt" in s:
        steps.append("mount_private")
    if "uts" in s:
        steps.append("hostname")
    if "time" in s:
        steps.append("offsets")
    steps.append("fork_init")
    if {"pid", "mnt"} <= s:
        steps.append("mount_proc")
    steps.append("ready")
    return steps


ROUNDS = 20 if STRESS else 1


@pytest.mark.parametrize("combo", sorted(COMBOS))
@pytest.mark.parametrize("step", _helper.STEPS)
def test_fault_at_every_step_with_user_and_net(step, combo):
    names, opts = COMBOS[combo]
    helper_before = _helper._HELPER.pid
    injected = 0
    for _ in range(ROUNDS):
        if step in _reachable(names, opts):
            with pytest.raises(nslab.ChildFailed) as info:
                nslab.spawn(names, _fail_at=step, **opts)
            assert "fault injected" in str(info.value)
            injected += 1
        else:
            # The step is not on this path: the spawn succeeds and is closed cleanly.
            with nslab.spawn(names, _fail_at=step, **opts) as child:
                assert child.view().hostname == "faulty"
    _tally(faults=injected)
    # Same helper, and it serves the next spawn.
    assert _helper._HELPER.pid == helper_before
    with nslab.spawn(["uts"], hostname="next") as child:
        assert child.view().hostname == "next"


def test_a_step_not_in_steps_is_refused(monkeypatch):
    monkeypatch.setattr(_helper, "get_helper", lambda: pytest.fail("the helper was asked"))
    with pytest.raises(nslab.NsValueError):
        nslab.spawn(["uts"], _fail_at="nowhere")


# ---------------------------------------------------------------- the tier is what it claims


def test_privilege_tier_is_detected():
    """`.ci/fakeroot` sets NSLAB_TIER=fakeroot; the rootless tier runs as a uid != 0."""
    from nslab.testing import really_root

    tier = os.environ.get("NSLAB_TIER")
    if tier == "fakeroot":
        assert os.geteuid() == 0 and not really_root()
        assert PRIV == "userns-root"
    elif os.geteuid() != 0:
        assert PRIV == "user"
    else:
        assert PRIV == ("root" if really_root() else "userns-root")
    # Whatever the tier, a user namespace can be made and is root inside.
    with nslab.spawn(["user"]) as child:
        assert child.view().uid == 0


def test_errno_is_kept_for_a_dead_target():
    dead = subprocess.Popen(["true"])
    dead.wait()
    with pytest.raises(nslab.ChildFailed) as info:
        nslab.enter(dead.pid, ["true"])
    assert info.value.pid == dead.pid
    assert info.value.errno in (None, errno.ESRCH)
