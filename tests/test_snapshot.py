"""The hygiene checker must see what it claims to see, and refuse what it cannot read."""

from __future__ import annotations

import ctypes
import dataclasses
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest

from nslab import testing
from nslab.testing import HostSnapshot, Mount, SnapshotError, assert_host_unchanged, descendants, open_fds, snapshot

ROOT = testing.really_root()
needs_root = pytest.mark.skipif(not ROOT, reason="needs root in the initial user namespace (euid 0, identity uid_map)")
CONFTEST = Path(__file__).with_name("conftest.py")


def plus(lines, label, *words):
    """The added lines of ``label`` that contain every word."""
    return [line for line in lines if line.startswith(f"{label}: + ") and all(w in line.split() for w in words)]


def minus(lines, label, *words):
    return [line for line in lines if line.startswith(f"{label}: - ") and all(w in line.split() for w in words)]


def proc_state(pid):
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]


# ---------------------------------------------------------------- steady state


def test_two_snapshots_in_a_row_are_equal():
    a, b = snapshot(), snapshot()
    assert a == b, a.diff(b)
    assert a.diff(b) == []
    assert hash(a) == hash(b)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.hostname = "x"  # type: ignore[misc]


def test_snapshot_records_the_sources():
    s = snapshot()
    assert s.hostname == os.uname().nodename
    assert s.mounts_self and s.mounts_init
    assert any(m.mount_point == "/proc" and m.fstype == "proc" for m in s.mounts_self)
    assert any(link.name == "lo" for link in s.links)
    assert {n for n, _ in s.namespaces} >= {"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"}
    assert all(name.startswith("max_") for name, _ in s.max_namespaces)
    assert s.run_netns == ("<absent>",) or s.run_netns[0] == "<dir>"
    # Not the kit's parser: cross-check against the kernel's own link text.
    assert dict(s.namespaces)["uts"] == os.readlink("/proc/self/ns/uts")


def test_open_fds_skips_its_own_listing_fd():
    me = f"/proc/{os.getpid()}/fd"
    assert not [fd for fd in open_fds() if fd.target in (me, "/proc/self/fd")]
    assert open_fds() == open_fds()


# ---------------------------------------------------------------- mounts


@needs_root
def test_mount_in_a_private_mount_namespace_is_not_seen():
    before = snapshot()
    try:
        subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "--", "mount", "-t", "tmpfs", "none", "/tmp"], check=True
        )
        assert_host_unchanged(before, settle=0)
    finally:
        # Had it leaked (the very bug this checks for), take it off the host.
        old = {m.mount_id for m in before.mounts_self}
        for m in snapshot().mounts_self:
            if m.mount_id not in old and m.mount_point == "/tmp" and m.fstype == "tmpfs":
                subprocess.run(["umount", "--", "/tmp"], check=False)


@needs_root
def test_mount_on_the_host_is_seen_even_when_remade_at_the_same_path(host):
    where = tempfile.mkdtemp(prefix="nslab-snap-")
    mounted = False
    try:
        subprocess.run(["mount", "-t", "tmpfs", "nslab-test", "--", where], check=True)
        mounted = True
        first = snapshot()
        lines = host.diff(first)
        assert plus(lines, "mounts(self)", where, "tmpfs", "nslab-test"), lines
        if host.mounts_init == host.mounts_self:  # same mount namespace as init (/proc/1/ns may be unreadable)
            assert plus(lines, "mounts(1)", where, "tmpfs"), lines
        # Same path and fstype, new mount.  The kernel recycles mount ids
        # (and anonymous device numbers) at once, so only a different row
        # field can tell an identical remount apart: here the source.
        subprocess.run(["umount", "--", where], check=True)
        mounted = False
        subprocess.run(["mount", "-t", "tmpfs", "nslab-test-2", "--", where], check=True)
        mounted = True
        again = first.diff(snapshot())
        assert minus(again, "mounts(self)", where, "nslab-test") and plus(
            again, "mounts(self)", where, "nslab-test-2"
        ), again
    finally:
        if mounted:
            subprocess.run(["umount", "--", where], check=True)
        os.rmdir(where)
    # the `host` fixture's teardown checks that the cleanup was complete


def test_mount_id_is_part_of_the_row():
    s = snapshot()
    m = s.mounts_self[0]
    moved = dataclasses.replace(s, mounts_self=(*s.mounts_self[1:], m._replace(mount_id=m.mount_id + 100000)))
    lines = s.diff(moved)
    assert len(lines) == 2 and lines[0].startswith("mounts(self): - ") and lines[1].startswith("mounts(self): + ")


def test_diff_line_format():
    s = snapshot()
    extra = Mount(123, "/tmp/x", "tmpfs", "none", "shared:7", "rw,relatime", "/", 1)
    lines = s.diff(dataclasses.replace(s, mounts_self=(*s.mounts_self, extra)))
    assert lines == ["mounts(self): + 123 /tmp/x tmpfs none shared:7 rw,relatime root=/ parent=1"]
    absent = dataclasses.replace(s, run_netns=("<absent>",))
    made = dataclasses.replace(s, run_netns=("<dir>", "blue"))
    assert absent.diff(made) == ["run-netns: - <absent>", "run-netns: + <dir>", "run-netns: + blue"]
    # an empty directory is not the same state as no directory
    assert absent.diff(dataclasses.replace(s, run_netns=("<dir>",))) == ["run-netns: - <absent>", "run-netns: + <dir>"]


# ---------------------------------------------------------------- mqueue


@pytest.mark.skipif(os.geteuid() != 0, reason="the private-mount mqueue listing needs euid 0")
def test_mqueue_listing_sees_a_queue_and_leaves_no_mount():
    before = snapshot()
    if before.unreadable:
        pytest.skip(f"mqueue not listable here: {before.unreadable}")
    rt = ctypes.CDLL("librt.so.1", use_errno=True)
    rt.mq_open.restype = ctypes.c_int
    name = f"nslab-test-{os.getpid()}"
    mqd = rt.mq_open(f"/{name}".encode(), os.O_CREAT | os.O_RDWR | os.O_EXCL, 0o600, None)
    assert mqd >= 0, os.strerror(ctypes.get_errno())
    try:
        lines = before.diff(snapshot())
        assert f"mqueue: + {name}" in lines, lines
    finally:
        rt.mq_close(mqd)
        rt.mq_unlink(f"/{name}".encode())
    after = assert_host_unchanged(before, settle=0)
    # the listing child mounted mqueue on /tmp in its own namespace only
    assert not [m for m in after.mounts_self + after.mounts_init if m.fstype == "mqueue" and m.mount_point == "/tmp"]


@pytest.mark.skipif(os.geteuid() == 0, reason="checks the unprivileged case")
def test_unlistable_mqueue_is_reported_not_hidden():
    s = snapshot()
    if isinstance(s.mqueue, tuple):
        pytest.skip("/dev/mqueue is mounted here, so the queues are listable")
    assert s.mqueue.startswith("unlistable: ")
    assert s.unreadable == (f"mqueue: {s.mqueue}",)
    assert s == snapshot()


# ---------------------------------------------------------------- fds, processes


def test_an_extra_open_fd_is_seen(host):
    fd = os.open("/dev/null", os.O_RDONLY)
    try:
        lines = host.diff(snapshot())
        assert lines == [f"fds: + {fd} /dev/null"], lines
    finally:
        os.close(fd)


def test_a_leftover_child_is_seen(host):
    child = subprocess.Popen(["sleep", "30"])
    try:
        lines = host.diff(snapshot())
        assert lines == [f"descendants: + {child.pid} sleep alive"], lines
        with pytest.raises(AssertionError, match=rf"descendants: \+ {child.pid} sleep alive"):
            assert_host_unchanged(host, settle=0.2)
    finally:
        child.kill()
        child.wait()


def test_a_zombie_is_seen_as_a_zombie(host):
    child = subprocess.Popen(["true"])
    try:
        deadline = time.monotonic() + 5
        while proc_state(child.pid) != "Z":  # exited, not reaped: Popen has not waited
            assert time.monotonic() < deadline, "child never became a zombie"
            time.sleep(0.01)
        assert testing.Proc(child.pid, "true", "Z") in descendants()
        lines = host.diff(snapshot())
        assert lines == [f"descendants: + {child.pid} true zombie"], lines
    finally:
        child.kill()  # no-op for a zombie; there in case the wait loop failed early
        child.wait()


def test_grandchildren_are_walked(host):
    code = "import subprocess; p = subprocess.Popen(['sleep', '30']); print(p.pid, flush=True); p.wait()"
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    grandchild = None
    try:
        grandchild = int(child.stdout.readline())
        pids = {p.pid: p for p in descendants()}
        assert pids[grandchild].comm == "sleep" and child.pid in pids
        assert grandchild in {p.pid for p in descendants(child.pid)}
    finally:
        if grandchild is not None:
            os.kill(grandchild, 9)  # ours, started through our child
        child.wait(timeout=10)
        child.stdout.close()


def test_settle_waits_for_a_late_reap(host):
    child = subprocess.Popen(["sleep", "30"])

    def kill_later():
        time.sleep(0.3)
        child.kill()
        child.wait()

    reaper = threading.Thread(target=kill_later)
    reaper.start()
    try:
        with pytest.raises(AssertionError, match="descendants"):
            assert_host_unchanged(host, settle=0)
        assert_host_unchanged(host, settle=5)
    finally:
        reaper.join()


# ---------------------------------------------------------------- IPC


def test_a_sysv_shm_segment_is_seen(host):
    out = subprocess.run(["ipcmk", "-M", "4096"], capture_output=True, text=True, check=True).stdout
    shmid = out.split(":")[-1].strip()  # "Shared memory id: 123"
    assert shmid.isdigit(), out
    try:
        lines = host.diff(snapshot())
        assert len(lines) == 1 and plus(lines, "sysv-shm", f"shmid={shmid}", "size=4096"), lines
    finally:
        subprocess.run(["ipcrm", "-m", shmid], check=True)


# ---------------------------------------------------------------- UTS

_IN_UTS = textwrap.dedent(
    """
    import ctypes, json, os, socket
    from nslab.testing import snapshot
    before = snapshot()
    socket.sethostname("nslab-snapshot-test")
    # setdomainname(2), not /proc/sys/kernel/domainname: in a user namespace
    # that file still belongs to the host's root.
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setdomainname(b"nslab.test", 10) != 0:
        raise OSError(ctypes.get_errno(), "setdomainname")
    print(json.dumps(before.diff(snapshot())))
    """
)


def test_a_hostname_change_would_be_seen(host):
    # Never on the host: the change happens in a child's own UTS namespace.
    prefix = ["unshare", "--uts"] if ROOT else ["unshare", "--user", "--map-root-user", "--uts"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([*prefix, "--", sys.executable, "-c", _IN_UTS], capture_output=True, text=True, env=env)
    if proc.returncode != 0 and not ROOT and "unshare failed" in proc.stderr:
        pytest.skip(f"no user namespaces for this user: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    import json

    lines = json.loads(proc.stdout)
    old = os.uname().nodename
    assert lines == [
        f"hostname: - {old}",
        "hostname: + nslab-snapshot-test",
        f"domainname: - {host.domainname}",
        "domainname: + nslab.test",
    ]
    assert os.uname().nodename == old  # and the fixture checks the rest


def test_hostname_diff_on_synthetic_snapshots():
    s = snapshot()
    assert s.diff(dataclasses.replace(s, hostname="other")) == [f"hostname: - {s.hostname}", "hostname: + other"]


# ---------------------------------------------------------------- sockets


@pytest.mark.parametrize(
    ("family", "kind", "address", "proto"),
    [
        (socket.AF_INET, socket.SOCK_STREAM, "127.0.0.1", "tcp"),
        (socket.AF_INET, socket.SOCK_DGRAM, "127.0.0.1", "udp"),
        (socket.AF_INET6, socket.SOCK_STREAM, "::1", "tcp6"),
    ],
)
def test_a_listening_socket_is_seen(host, family, kind, address, proto):
    try:
        sock = socket.socket(family, kind)
    except OSError as err:
        pytest.skip(f"no such socket family here: {err}")
    with sock:
        try:
            sock.bind((address, 0))
        except OSError as err:
            pytest.skip(f"cannot bind {address}: {err}")
        if kind == socket.SOCK_STREAM:
            sock.listen()
        port = sock.getsockname()[1]
        lines = host.diff(snapshot())
        assert f"ports: + {proto} {address} {port}" in lines, lines
        assert plus(lines, "fds", str(sock.fileno())), lines


# ---------------------------------------------------------------- refusing to guess


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("/proc/self/mountinfo", "mounts(self)"),
        ("/proc/1/mountinfo", "mounts(1)"),
        ("/proc/sys/kernel/domainname", "domainname"),
        ("/proc/sysvipc/shm", "sysv-shm"),
        ("/proc/sysvipc/sem", "sysv-sem"),
        ("/proc/net/tcp", "ports"),
        ("/proc/sys/user/max_net_namespaces", "max-namespaces"),
    ],
)
@pytest.mark.parametrize("error", [PermissionError, FileNotFoundError])
def test_an_unreadable_source_raises(monkeypatch, path, source, error):
    real = testing._read_text

    def reader(p):
        if p == path:
            raise error(13 if error is PermissionError else 2, "simulated", p)
        return real(p)

    monkeypatch.setattr(testing, "_read_text", reader)
    with pytest.raises(SnapshotError) as info:
        snapshot()
    assert info.value.source == source
    assert path in str(info.value)


def test_unreadable_children_file_raises(monkeypatch):
    real = testing._read_text

    def reader(p):
        if p.endswith("/children"):
            raise PermissionError(13, "simulated", p)
        return real(p)

    monkeypatch.setattr(testing, "_read_text", reader)
    with pytest.raises(SnapshotError, match="descendants"):
        snapshot()


@pytest.mark.parametrize("tool", [None, "/nonexistent/ip", "false"])
def test_a_missing_or_failing_ip_raises(monkeypatch, tool):
    real = testing._which
    fake = real("false") if tool == "false" else tool
    monkeypatch.setattr(testing, "_which", lambda name: fake if name == "ip" else real(name))
    with pytest.raises(SnapshotError) as info:
        snapshot()
    assert info.value.source == "links"


def test_really_root_detects_fake_root():
    code = "import os; from nslab.testing import really_root; print(os.geteuid(), really_root())"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
    )
    if proc.returncode != 0:
        pytest.skip(f"no user namespaces here: {proc.stderr.strip()}")
    assert proc.stdout.split() == ["0", "False"]


def test_is_root_fixture_agrees(is_root, rootless):
    uid_map = Path("/proc/self/uid_map").read_text().split()
    assert is_root == (os.geteuid() == 0 and uid_map == ["0", "0", "4294967295"])
    assert rootless is not is_root


# ---------------------------------------------------------------- the conftest itself

_INNER_SKIPPED = """
import pytest

@pytest.mark.live
def test_needs_namespaces():
    pytest.skip("pretend namespaces are unavailable")

def test_plain():
    pass
"""

_INNER_LIVE_PASSES = """
import pytest

@pytest.mark.live
def test_live(host):
    assert host.hostname
"""

_INNER_LEAKS = """
import os
import pytest

KEEP = []

@pytest.mark.live
def test_leaks_an_fd():
    KEEP.append(os.open("/dev/null", os.O_RDONLY))
"""


@pytest.fixture
def inner(pytester, monkeypatch):
    """Run a tiny suite in a fresh pytest process that uses this conftest."""
    pytester.makeconftest(CONFTEST.read_text())
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(sys.path))
    monkeypatch.delenv("NSLAB_MUST_WORK", raising=False)

    def run(source, must_work):
        if must_work:
            monkeypatch.setenv("NSLAB_MUST_WORK", "1")
        else:
            monkeypatch.delenv("NSLAB_MUST_WORK", raising=False)
        pytester.makepyfile(test_inner=source)
        return pytester.runpytest_subprocess("-p", "no:cacheprovider")

    return run


def test_must_work_fails_a_run_whose_live_tests_all_skipped(inner):
    result = inner(_INNER_SKIPPED, must_work=True)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*NSLAB_MUST_WORK=1 but all 1 live tests were skipped*FAILING THE RUN*"])
    result.assert_outcomes(passed=1, skipped=1)


def test_without_must_work_the_same_run_passes(inner):
    result = inner(_INNER_SKIPPED, must_work=False)
    assert result.ret == 0
    assert "NSLAB_MUST_WORK" not in result.stdout.str()


def test_must_work_fails_a_run_where_nothing_ran(inner):
    result = inner("def helper():\n    pass\n", must_work=True)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*NSLAB_MUST_WORK=1 but no test ran at all*"])


def test_must_work_accepts_a_live_test_that_ran(inner):
    result = inner(_INNER_LIVE_PASSES, must_work=True)
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=1)


def test_host_fixture_fails_a_leaking_live_test_in_teardown(inner):
    result = inner(_INNER_LEAKS, must_work=False)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*ERROR at teardown of test_leaks_an_fd*", "*the host changed:*", "*fds: + * /dev/null*"]
    )


def test_snapshot_is_fast():
    snapshot()  # warm the mqueue decision cache
    times = []
    for _ in range(5):
        start = time.perf_counter()
        snapshot()
        times.append(time.perf_counter() - start)
    assert sorted(times)[2] < 0.25, times  # generous for loaded CI; ~20 ms on an idle VM


def test_snapshot_type_is_exported():
    assert isinstance(snapshot(), HostSnapshot)
    assert set(testing.__all__) >= {
        "snapshot",
        "HostSnapshot",
        "SnapshotError",
        "assert_host_unchanged",
        "descendants",
        "open_fds",
    }
