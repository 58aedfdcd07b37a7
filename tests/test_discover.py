"""Discovery: namespaces(), processes(), the user/PID trees, enter(), and ``nslab lsns``.

Live values are cross-checked against util-linux ``lsns -J`` on the same
machine.  The same file runs as root and as uid 65534 (setpriv): as nobody,
root's processes are unreadable, and both nslab and lsns then see only the
caller's own; nslab says so in unreadable rows, lsns says nothing.
"""

from __future__ import annotations

import errno
import fcntl
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

import pytest

import nslab
from nslab import _discover, _sys
from nslab.__main__ import main

TYPES = ["uts", "pid", "net", "mnt", "ipc", "user", "time", "cgroup"]
ROOT = nslab.privilege() == "root"
live = pytest.mark.live
needs_lsns = pytest.mark.skipif(shutil.which("lsns") is None, reason="util-linux lsns not installed")
needs_unshare = pytest.mark.skipif(shutil.which("unshare") is None, reason="util-linux unshare not installed")


def _key(path):
    st = os.stat(path)
    return (st.st_dev, st.st_ino)


def _ino(path):
    return os.stat(path).st_ino


def _lsns(*args):
    """{(type, inode): {"nprocs", "pid"}} from ``lsns -J -l`` (flat list, not the default tree)."""
    out = subprocess.run(
        ["lsns", "-J", "-l", "-o", "NS,TYPE,NPROCS,PID", *args], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    return {
        (n["type"], int(n["ns"])): {"nprocs": int(n["nprocs"]), "pid": int(n["pid"])}
        for n in json.loads(out)["namespaces"]
    }


def _ours(scan):
    """{(type, inode): row} for the readable rows of one scan."""
    return {(r["type"], r["inode"]): r for r in scan.records() if r["readable"]}


def _wait_for(pred, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        val = pred()
        if val:
            return val
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _children_of(pid):
    kids = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids += [int(k) for k in f.read().split()]
    except (FileNotFoundError, ProcessLookupError):
        pass
    return kids


def _descendants(pid):
    out, todo = [], [pid]
    while todo:
        for kid in _children_of(todo.pop()):
            out.append(kid)
            todo.append(kid)
    return out


def _kill_and_reap(proc, timeout=10.0):
    """Kill a Popen we started (by its PID) and wait until its whole tree has gone."""
    tree = _descendants(proc.pid)
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=timeout)
    _wait_for(lambda: not any(os.path.exists(f"/proc/{p}/ns") for p in tree), "the tree to exit")


def _userns_prefix():
    """unshare(1) options that give an unprivileged caller the rights for the rest."""
    return [] if ROOT else ["--user", "--map-root-user"]


# ---------------------------------------------------------------- the frames


def test_frames_have_the_documented_columns():
    df = nslab.namespaces()
    assert tuple(df.columns) == nslab.NAMESPACE_COLUMNS
    for col in nslab.NAMESPACE_COLUMNS:
        assert f"``{col}``" in _discover.namespaces.__doc__, f"{col} is not documented in namespaces()"
    assert set(df["type"].dropna()) <= set(TYPES)
    readable = df[df.readable]
    assert (readable["ref"] == readable["type"] + ":[" + readable["inode"].astype(str) + "]").all()
    # Identity is (dev, inode): no pair twice.
    assert not readable.duplicated(["dev", "inode"]).any()
    # The caller's own namespaces are there, whoever it is.
    for t in TYPES:
        if os.path.exists(f"/proc/self/ns/{t}"):
            dev, ino = _key(f"/proc/self/ns/{t}")
            assert ((readable.type == t) & (readable.inode == ino) & (readable.dev == dev)).sum() == 1


def test_processes_is_one_pivot_away():
    df = nslab.processes()
    assert list(df.columns) == TYPES
    assert list(df.index.names) == ["pid", "comm"]
    me = df.xs(os.getpid(), level="pid")
    for t in TYPES:
        if os.path.exists(f"/proc/self/ns/{t}"):
            assert int(me[t].iloc[0]) == _ino(f"/proc/self/ns/{t}")
    # "Who shares my net namespace?" is one comparison.
    sharing = df[df["net"] == _ino("/proc/self/ns/net")]
    assert os.getpid() in sharing.index.get_level_values("pid")


def test_tree_frame_columns_and_ns_tree_text():
    for t in ("user", "pid"):
        tf = nslab.tree_frame(t)
        assert tuple(tf.columns) == nslab.TREE_COLUMNS
        assert (tf.depth.dropna() >= 0).all()
        text = nslab.ns_tree(t)
        assert f"{t}:[{_ino(f'/proc/self/ns/{t}')}]" in text
    with pytest.raises(nslab.NsValueError):
        nslab.ns_tree("net")


def test_own_user_namespace_owner_uid_matches_the_ioctl():
    """NS_GET_OWNER_UID writes a uid_t into a 4-byte buffer (ioctl_ns(2))."""
    fd = os.open("/proc/self/ns/user", os.O_RDONLY)
    try:
        assert _discover.nstype_of_fd(fd) == "user"
        uid = _discover.owner_uid_of_fd(fd)
    finally:
        os.close(fd)
    rows = nslab.namespaces("user")
    me = rows[rows.inode == _ino("/proc/self/ns/user")]
    assert int(me.owner_uid.iloc[0]) == uid


# ------------------------------------------------ vanished and forbidden processes


@pytest.mark.parametrize("exc", [FileNotFoundError, ProcessLookupError])
def test_a_process_that_exits_during_the_scan_is_skipped(monkeypatch, exc):
    victim = os.getpid()
    real = _discover._stat

    def stat(path, *a, **kw):
        if path.startswith(f"/proc/{victim}/"):
            raise exc(errno.ENOENT if exc is FileNotFoundError else errno.ESRCH, "gone")
        return real(path, *a, **kw)

    monkeypatch.setattr(_discover, "_stat", stat)
    scan = nslab.read_namespaces()
    assert victim not in scan.procs
    rows = scan.records()
    assert all(r["pid"] != victim for r in rows if not r["readable"]), "a vanished process is not an unreadable one"
    assert not scan.errors


def test_a_permission_problem_is_reported_not_swallowed(monkeypatch):
    victim = os.getpid()
    real = _discover._stat

    def stat(path, *a, **kw):
        if path == f"/proc/{victim}/ns/net":
            raise PermissionError(errno.EACCES, "Permission denied")
        return real(path, *a, **kw)

    monkeypatch.setattr(_discover, "_stat", stat)
    df = nslab.read_namespaces().frame()
    bad = df[~df.readable & (df.type == "net")]
    mine = bad[bad.holders.str.contains(rf"\b{victim}\b")]
    assert len(mine) == 1
    assert mine.reason.iloc[0].startswith("EACCES")
    assert f"/proc/{victim}/ns/net" in mine.reason.iloc[0]
    # The other types of the same process are still read.
    ok = df[df.readable & (df.type == "uts") & (df.inode == _ino("/proc/self/ns/uts"))]
    assert len(ok) == 1


def test_an_unreadable_fd_table_is_reported(monkeypatch):
    victim = os.getpid()
    real = _discover._listdir

    def listdir(path):
        if path == f"/proc/{victim}/fd":
            raise PermissionError(errno.EACCES, "Permission denied")
        return real(path)

    monkeypatch.setattr(_discover, "_listdir", listdir)
    rows = [r for r in nslab.read_namespaces().records() if not r["readable"] and r["held_by"] == "fd"]
    assert any(str(victim) in r["holders"] and r["reason"].startswith("EACCES") for r in rows)


@pytest.mark.skipif(os.geteuid() == 0, reason="as root, other users' processes are readable")
def test_unprivileged_root_processes_show_as_unreadable():
    df = nslab.namespaces()
    # PID 2 (kthreadd) or 1 belongs to root: its links need ptrace access (proc(5)).
    bad = df[~df.readable]
    assert len(bad), "root's processes must be listed as unreadable"
    assert bad.reason.str.startswith(("EACCES", "EPERM")).all()
    assert set(bad.type.dropna()) == {t for t in TYPES if os.path.exists(f"/proc/self/ns/{t}")}


# ---------------------------------------------------------------- live: lsns


@live
@needs_lsns
@needs_unshare
def test_same_namespaces_as_lsns():
    held = nslab.spawn(["uts", "ipc", "net"])
    fd = None
    binder = None
    tmp = tempfile.mkdtemp(prefix="nslab-bind-")
    try:
        # 1. Held by processes.
        made = {(t, _ino(f"/proc/{held.pid}/ns/{t}")) for t in held.namespaces}
        # 2. Held by an fd only: open it, then close the only process in it.
        with nslab.spawn(["net"]) as gone:
            fd = os.open(f"/proc/{gone.pid}/ns/net", os.O_RDONLY)
        fd_net = ("net", os.fstat(fd).st_ino)
        # 3. Held by a bind mount inside a private mount namespace, which
        #    takes the mount with it when it exits.
        binder = _start_binder(tmp)
        bind_uts = ("uts", int(binder.stdout.readline()))
        own = {(t, _ino(f"/proc/self/ns/{t}")) for t in TYPES if os.path.exists(f"/proc/self/ns/{t}")}

        before = _lsns()
        scan = nslab.read_namespaces()
        after = _lsns()
        ours = _ours(scan)

        # What lsns sees of ours and of the host's, nslab sees too.
        for key in made | own:
            assert key in before and key in after, f"lsns misses {key}"
            assert key in ours, f"nslab misses {key}"
        # Only the test's own namespaces are steady: other engineers' tests
        # start and stop processes in the host's initial ones between the
        # two scans, so those counts are compared only for the created ones.
        for key in made:
            assert before[key] == after[key], f"{key} changed while scanning: rerun"
            assert ours[key]["nprocs"] == before[key]["nprocs"], key
            assert ours[key]["pid"] == before[key]["pid"], key
            assert "process" in ours[key]["held_by"]
        # ... and explains more: namespaces that no process is in.
        assert fd_net in ours and "fd" in ours[fd_net]["held_by"]
        assert f"pid {os.getpid()}" in ours[fd_net]["holders"]
        assert ours[fd_net]["nprocs"] == 0 and ours[fd_net]["pid"] is None
        assert bind_uts in ours and ours[bind_uts]["held_by"] == "bind"
        assert tmp in ours[bind_uts]["holders"]
        # lsns 2.38 lists neither; a newer one may list both.
        for key in (fd_net, bind_uts):
            if key in before:
                assert before[key]["nprocs"] == 0

        # lsns -t TYPE agrees type by type.
        for t in held.namespaces:
            by_type = _lsns("-t", t)
            assert {k[0] for k in by_type} == {t}
            nslab_t = {(r["type"], r["inode"]) for r in scan.records([t]) if r["readable"] and r["nprocs"]}
            for key in (made | own) & set(by_type):
                assert key in nslab_t
            df = nslab.namespaces(t)
            assert set(df.type.dropna()) == {t}
    finally:
        held.close()
        if fd is not None:
            os.close(fd)
        if binder is not None:
            binder.stdin.close()
            binder.wait(timeout=10)
            binder.stdout.close()
        shutil.rmtree(tmp)


BINDER = textwrap.dedent(
    """
    import os, subprocess, sys, time
    target = os.path.join(sys.argv[1], "uts")
    sleeper = subprocess.Popen(["unshare", "--uts", "--", "sleep", "60"])
    mine = os.stat("/proc/self/ns/uts").st_ino
    while os.stat(f"/proc/{sleeper.pid}/ns/uts").st_ino == mine:
        time.sleep(0.01)
    ino = os.stat(f"/proc/{sleeper.pid}/ns/uts").st_ino
    open(target, "w").close()
    subprocess.run(["mount", "--bind", "--", f"/proc/{sleeper.pid}/ns/uts", target], check=True)
    sleeper.kill()
    sleeper.wait()
    print(ino, flush=True)
    sys.stdin.read()  # until the test closes our stdin
    """
)


def _start_binder(tmp):
    argv = [
        "unshare",
        *_userns_prefix(),
        "--mount",
        "--propagation",
        "private",
        "--",
        sys.executable,
        "-c",
        BINDER,
        tmp,
    ]
    return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


@live
@needs_unshare
def test_a_thread_in_another_namespace_is_a_holder():
    code = textwrap.dedent(
        """
        import ctypes, os, sys, threading
        libc = ctypes.CDLL(None, use_errno=True)
        ready = threading.Event()
        def run():
            if libc.unshare(0x04000000) != 0:  # CLONE_NEWUTS, this thread only
                print("ERR", ctypes.get_errno(), flush=True)
            else:
                print(os.stat(f"/proc/self/task/{threading.get_native_id()}/ns/uts").st_ino, flush=True)
            ready.set()
            sys.stdin.read()
        t = threading.Thread(target=run)
        t.start()
        t.join()
        """
    )
    proc = subprocess.Popen(
        ["unshare", *_userns_prefix(), "--", sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline().strip()
        assert not line.startswith("ERR"), line
        key = ("uts", int(line))
        ours = _ours(nslab.read_namespaces())
        assert key in ours
        assert ours[key]["held_by"] == "thread" and ours[key]["nprocs"] == 0
        assert f"of pid {proc.pid}" in ours[key]["holders"]
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)
        proc.stdout.close()


@live
@needs_unshare
def test_time_for_children_namespace_is_listed():
    if not os.path.exists("/proc/self/ns/time_for_children"):
        pytest.skip("no time namespaces on this kernel")
    # unshare(CLONE_NEWTIME) moves no one: only children would enter the new
    # namespace (time_namespaces(7)).  unshare(1) setns-es itself into it, so
    # a bare Python calls unshare(2) instead and never forks.
    code = textwrap.dedent(
        """
        import ctypes, os, sys
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(0x80) != 0:  # CLONE_NEWTIME
            print("ERR", ctypes.get_errno(), flush=True)
        else:
            print(os.stat("/proc/self/ns/time_for_children").st_ino, flush=True)
        sys.stdin.read()
        """
    )
    argv = ["unshare", *_userns_prefix(), "--", sys.executable, "-c", code]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        if line == f"ERR {errno.EINVAL}":
            pytest.skip("CLONE_NEWTIME refused with EINVAL: no CONFIG_TIME_NS")
        assert not line.startswith("ERR"), line
        key = ("time", int(line))
        ours = _ours(nslab.read_namespaces())
        assert key in ours and ours[key]["held_by"] == "for_children" and ours[key]["nprocs"] == 0
        assert f"time_for_children of pid {proc.pid}" in ours[key]["holders"]
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)
        proc.stdout.close()


# ------------------------------------------------- live: nested user and PID namespaces


def _ioctl_parent(path):
    """inode chain of NS_GET_PARENT from path up to EPERM (the top of the caller's scope)."""
    chain = []
    fd = os.open(path, os.O_RDONLY)
    try:
        while True:
            try:
                parent = fcntl.ioctl(fd, _sys.NS_GET_PARENT)
            except PermissionError:
                return chain
            os.close(fd)
            fd = parent
            assert _discover.nstype_of_fd(fd) == os.path.basename(path)
            chain.append(os.fstat(fd).st_ino)
    finally:
        os.close(fd)


@live
@needs_unshare
def test_nested_user_and_pid_namespaces_have_the_right_parents():
    level = ["unshare", "--user", "--map-root-user", "--pid", "--fork", "--kill-child", "--"]
    # --kill-child: when the outer unshare is killed, its child (the init
    # of the outer PID namespace) gets SIGKILL, and with it everything below.
    proc = subprocess.Popen([*level, *level, "sleep", "30"])
    try:
        own_user, own_pid = _ino("/proc/self/ns/user"), _ino("/proc/self/ns/pid")

        def sleeper():
            for p in _descendants(proc.pid):
                try:
                    with open(f"/proc/{p}/comm") as f:
                        if f.read().strip() == "sleep" and _ino(f"/proc/{p}/ns/user") != own_user:
                            return p
                except FileNotFoundError:
                    pass
            return None

        inner_pid = _wait_for(sleeper, "the nested sleep")
        outer_user = _ino(f"/proc/{proc.pid}/ns/user")
        inner_user = _ino(f"/proc/{inner_pid}/ns/user")
        outer_pidns = _ino(f"/proc/{proc.pid}/ns/pid_for_children")
        inner_pidns = _ino(f"/proc/{inner_pid}/ns/pid")

        scan = nslab.read_namespaces()
        for t, outer, inner, own in (
            ("user", outer_user, inner_user, own_user),
            ("pid", outer_pidns, inner_pidns, own_pid),
        ):
            tf = scan.tree_frame(t).set_index("inode")
            base = int(tf.loc[own, "depth"])
            assert int(tf.loc[outer, "depth"]) == base + 1
            assert int(tf.loc[inner, "depth"]) == base + 2
            assert int(tf.loc[inner, "parent"]) == outer
            assert int(tf.loc[outer, "parent"]) == own
            # The kernel's own answer, asked directly.
            assert _ioctl_parent(f"/proc/{inner_pid}/ns/{t}")[:2] == [outer, own]
            text = scan.tree_text(t)
            line = next(x for x in text.splitlines() if f"{t}:[{inner}]" in x)
            assert f"depth {base + 2}" in line
            assert line.index(f"{t}:[{inner}]") > next(x for x in text.splitlines() if f"{t}:[{outer}]" in x).index(
                f"{t}:[{outer}]"
            ), "the inner namespace is indented below the outer one"
        # The inner user namespace is owned by the outer one, created by uid 0 there (the caller's uid outside).
        rows = _ours(scan)
        assert rows[("user", inner_user)]["userns"] == outer_user
        assert rows[("user", outer_user)]["owner_uid"] == os.geteuid()
        assert rows[("pid", inner_pidns)]["userns"] == inner_user
    finally:
        _kill_and_reap(proc)


# ---------------------------------------------------------------- live: enter


@live
def test_enter_sees_the_childs_links_and_hostname():
    with nslab.spawn(["net", "uts"], hostname="nslab-enter") as child:
        r = nslab.enter(child, ["hostname"])
        assert r.returncode == 0 and r.stdout.strip() == "nslab-enter"
        r = child.enter(["cat", "/proc/net/dev"])  # /proc/net follows the reader's net namespace
        names = {line.split(":")[0].strip() for line in r.stdout.splitlines()[2:]}
        assert names == {"lo"}
        r = nslab.enter(child.pid, [sys.executable, "-c", "import os; print(os.uname().nodename)"], namespaces=["uts"])
        assert r.stdout.strip() == "nslab-enter"
    assert os.uname().nodename != "nslab-enter"


@live
def test_enter_refuses_bad_targets():
    with pytest.raises(nslab.NsValueError, match="PID 0"):
        nslab.enter(0, ["true"])
    with pytest.raises(nslab.NsValueError):
        nslab.enter(-5, ["true"])
    # A PID that has exited (and, pid_max being large, not been reused yet).
    dead = subprocess.Popen(["true"])
    dead.wait()
    with pytest.raises(nslab.ChildFailed, match="not a running process"):
        nslab.enter(dead.pid, ["true"])
    # A thread ID: /proc/TID exists, but it is not a process (Tgid != TID).
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        assert os.path.exists(f"/proc/{t.native_id}")
        with pytest.raises(nslab.ChildFailed, match="not a running process") as exc:
            nslab.enter(t.native_id, ["true"])
        assert exc.value.pid == t.native_id and "thread" in exc.value.hint
    finally:
        stop.set()
        t.join()
    child = nslab.spawn(["uts"])
    child.close()
    with pytest.raises(nslab.ChildFailed, match="closed"):
        child.enter(["true"])


# ---------------------------------------------------------------- the CLI


def _cli(*argv):
    out = io.StringIO()
    rc = main(["lsns", *argv], out=out)
    return rc, out.getvalue()


def test_cli_json_has_the_columns():
    rc, text = _cli("--json")
    assert rc == 0
    doc = json.loads(text)
    assert doc["namespaces"] and all(tuple(r) == nslab.NAMESPACE_COLUMNS for r in doc["namespaces"])
    mine = {(r["type"], r["inode"]) for r in doc["namespaces"]}
    assert ("net", _ino("/proc/self/ns/net")) in mine
    assert isinstance(doc["errors"], list)


def test_cli_type_and_table():
    rc, text = _cli("--json", "--type", "net")
    assert rc == 0 and {r["type"] for r in json.loads(text)["namespaces"]} == {"net"}
    rc, text = _cli()
    assert rc == 0 and text.split("\n", 1)[0].split() == ["NS", "TYPE", "NPROCS", "PID", "UID", "HELD_BY", "COMMAND"]
    assert str(_ino("/proc/self/ns/uts")) in text
    rc, _ = _cli("--type", "bogus")
    assert rc == 1


def test_cli_tree():
    rc, text = _cli("--tree")
    assert rc == 0
    assert f"user:[{_ino('/proc/self/ns/user')}]" in text and f"pid:[{_ino('/proc/self/ns/pid')}]" in text
    rc, text = _cli("--tree", "--json", "--type", "user")
    doc = json.loads(text)
    assert rc == 0 and list(doc) == ["user_tree"] and doc["user_tree"][0]["depth"] == 0
    rc, _ = _cli("--tree", "--type", "net")
    assert rc == 1
