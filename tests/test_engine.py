"""The engine, live: each type alone and all eight, what is isolated and what stays shared.

Every test here creates namespaces, so it is marked ``live`` and runs inside
the host-snapshot fixture (conftest.py): whatever it makes, it must leave
nothing behind.  The same file runs as root and as uid 65534.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

import nslab
from nslab import _api, _helper

pytestmark = pytest.mark.live

TYPES = list(nslab.NAMESPACES)
ROOT = nslab.privilege() == "root"


def _new_ns(child):
    return set(child.namespaces)


def _host_pid_status(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("NSpid:"):
                return [int(x) for x in line.split()[1:]]
    return None


@pytest.mark.parametrize("t", TYPES)
def test_one_type_isolates_exactly_it(t):
    host = nslab.view()
    with nslab.spawn([t]) as child:
        inside = child.view()
        new = _new_ns(child)
        assert t in new
        # Rootless, the only extra is the user namespace spawn adds, and it says so.
        assert new - {t} == ({"user"} if child.implicit_user else set())
        for u in TYPES:
            if u in new:
                assert inside.ns[u] != host.ns[u], f"{u} should be new"
            else:
                assert inside.ns[u] == host.ns[u], f"{u} should be shared"
        table = nslab.diff(host, inside)
        assert list(table.columns) == nslab.DIFF_COLUMNS
        assert set(table.loc[~table.shared, "type"]) == new


def test_all_eight_together():
    host = nslab.view()
    with nslab.spawn("all", hostname="all-eight", boottime=7200) as child:
        inside = child.view()
        assert set(child.namespaces) == set(TYPES)
        for u in TYPES:
            assert inside.ns[u] != host.ns[u]
        assert inside.hostname == "all-eight"
        assert inside.pid == 1 and inside.nspid == [1]
        assert [link["name"] for link in inside.links] == ["lo"]
        assert inside.cgroup == "/"
        assert inside.offsets["boottime"] == 7200
        assert inside.uid == 0
    assert os.uname().nodename == host.hostname


def test_hostname_inside_only():
    before = os.uname().nodename
    with nslab.spawn(["uts"], hostname="inside-ns", domainname="lab.example") as child:
        assert child.view().hostname == "inside-ns"
        assert child.view().domainname == "lab.example"
        assert child.run(["hostname"]).stdout.strip() == "inside-ns"
        assert os.uname().nodename == before
        # Seen from the host through setns in the helper, not in this process.
        assert nslab.view(child.pid).hostname == "inside-ns"
    assert os.uname().nodename == before


def test_pid_one_inside_and_nspid_from_host():
    with nslab.spawn(["pid", "mnt"]) as child:
        inside = child.view()
        assert inside.pid == 1
        assert inside.nspid == [1]  # a fresh /proc numbers from the child's namespace
        assert child.pid_inside == 1
        assert _host_pid_status(child.pid) == [child.pid, 1]
        ps = child.run(["ps", "-e", "-o", "pid="]).stdout.split()
        assert "1" in ps and len(ps) <= 3  # init and ps itself, nothing of the host


def test_pid_without_fresh_proc_is_the_trap():
    # /proc not remounted: the child is PID 1, yet /proc still shows the host's numbering.
    with nslab.spawn(["pid"]) as child:
        inside = child.view()
        assert inside.pid == 1
        assert inside.nspid == [child.pid, 1]
        assert "/proc of an outer PID namespace" in inside.sees("mnt")
    with nslab.spawn(["pid", "mnt"]) as child:
        assert "/proc of its own PID namespace" in child.view().sees("mnt")


def test_new_netns_has_only_lo_down_and_no_routes():
    with nslab.spawn(["net"]) as child:
        inside = child.view()
        assert [(link["name"], link["state"]) for link in inside.links] == [("lo", "DOWN")]
        assert "UP" not in inside.links[0]["flags"]
        assert inside.routes == []
        assert inside.links[0]["addresses"] == []
    assert nslab.view().links  # the host still has its links


@pytest.mark.skipif(shutil.which("ipcmk") is None, reason="ipcmk (util-linux) missing")
def test_new_ipc_sees_no_host_objects():
    out = subprocess.run(["ipcmk", "-M", "4096"], capture_output=True, text=True, check=True).stdout
    shmid = out.split(":")[-1].strip()
    try:
        with nslab.spawn(["uts"] if not ROOT else []) as shared, nslab.spawn(["ipc"]) as child:
            seen_shared = {o["id"] for o in shared.view().ipc["shm"]}
            seen_child = {o["id"] for o in child.view().ipc["shm"]}
            assert int(shmid) in seen_shared
            assert seen_child == set()
    finally:
        subprocess.run(["ipcrm", "-m", shmid], check=True)


def _mountpoints(text):
    return [line.split()[4] for line in text.splitlines()]


def test_tmpfs_inside_is_invisible_outside():
    with nslab.spawn(["mnt"]) as child:
        r = child.run(["mount", "-t", "tmpfs", "nslab-test", "/mnt"])
        assert r.returncode == 0, r.stderr
        assert any(m["source"] == "nslab-test" for m in child.view().mounts)
        with open("/proc/self/mountinfo") as f:
            assert "nslab-test" not in f.read()
        with open("/proc/1/mountinfo") as f:
            assert "nslab-test" not in f.read()


@pytest.mark.skipif(not ROOT or shutil.which("unshare") is None, reason="needs root to make a scratch shared mount tree")
def test_tmpfs_does_not_leak_through_a_shared_parent():
    # The "host" here is a scratch mount namespace whose / is shared, the way
    # systemd leaves it; nslab's child must not propagate its mount back.
    code = (
        "import nslab\n"
        "with nslab.spawn(['mnt']) as c:\n"
        "    r = c.run(['mount', '-t', 'tmpfs', 'nslab-leak-test', '/mnt'])\n"
        "    assert r.returncode == 0, r.stderr\n"
        "    inside = any(m['source'] == 'nslab-leak-test' for m in c.view().mounts)\n"
        "    outside = 'nslab-leak-test' in open('/proc/self/mountinfo').read()\n"
        "    shared = 'shared:' in open('/proc/self/mountinfo').read().splitlines()[0]\n"
        "    print(inside, outside, shared)\n"
    )
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(nslab.__file__)))
    out = subprocess.run(
        ["unshare", "--mount", "--propagation", "shared", "--", sys.executable, "-c", code],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "False", "True"]


def test_uid_map_as_the_kernel_wrote_it():
    with nslab.spawn(["user"]) as child:
        inside = child.view()
        if ROOT:
            assert inside.uid_map == [(0, nslab.ROOT_RANGE[0], nslab.ROOT_RANGE[1])]
            assert inside.setgroups == "allow"
        else:
            assert inside.uid_map == [(0, os.geteuid(), 1)]
            assert inside.gid_map == [(0, os.getegid(), 1)]
            assert inside.setgroups == "deny"
        assert inside.uid == 0
        assert child.run(["id", "-u"]).stdout.strip() == "0"
        # From the host the same process has the outside uid (status is translated for the reader).
        with open(f"/proc/{child.pid}/status") as f:
            uid_line = next(line for line in f if line.startswith("Uid:"))
        expect = nslab.ROOT_RANGE[0] if ROOT else os.geteuid()
        assert int(uid_line.split()[2]) == expect


def test_boottime_offset_inside_only_and_realtime_unmoved():
    with nslab.spawn(["time"], boottime=3600, monotonic=-5) as child:
        host = nslab.view()
        inside = child.view()
        assert inside.offsets == {"monotonic": -5, "boottime": 3600}
        assert abs((inside.clocks["boottime"] - host.clocks["boottime"]) - 3600) < 2
        assert abs((inside.clocks["monotonic"] - host.clocks["monotonic"]) + 5) < 2
        assert abs(inside.clocks["realtime"] - host.clocks["realtime"]) < 2
        assert host.offsets in (None, {"monotonic": 0, "boottime": 0})


def test_cgroup_root_inside():
    host = nslab.view()
    with nslab.spawn(["cgroup"]) as child:
        assert child.view().cgroup == "/"
    assert host.cgroup is not None


def test_spawn_from_a_threaded_process():
    stop = threading.Event()
    threads = [threading.Thread(target=stop.wait) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        assert threading.active_count() >= 5
        with nslab.spawn(["user", "uts"], hostname="threads-ok") as child:
            assert child.view().hostname == "threads-ok"
        # And from a thread that is not the main thread.
        result = {}

        def worker():
            with nslab.spawn(["uts", "pid"], hostname="from-thread") as c:
                result["h"] = c.view().hostname

        w = threading.Thread(target=worker)
        w.start()
        w.join(30)
        assert result == {"h": "from-thread"}
    finally:
        stop.set()
        for t in threads:
            t.join()


def test_the_caller_never_changes_namespace():
    mine = {t: os.stat(f"/proc/self/ns/{t}").st_ino for t in TYPES}
    with nslab.spawn("all", hostname="x1"):
        pass
    assert {t: os.stat(f"/proc/self/ns/{t}").st_ino for t in TYPES} == mine


def test_close_is_idempotent_and_harmless_after_external_kill():
    child = nslab.spawn(["uts", "pid"])
    os.kill(child.pid, signal.SIGKILL)
    with pytest.raises(nslab.ChildFailed):
        for _ in range(50):  # the socket closes once the kill has landed
            child.view()
            time.sleep(0.01)
    child.close()
    child.close()
    assert not child.alive
    with pytest.raises(nslab.ChildFailed):
        child.view()


def test_run_no_shell_and_timeout():
    with nslab.spawn(["uts"]) as child:
        with pytest.raises(nslab.NsValueError):
            child.run("hostname; id")
        with pytest.raises(nslab.ChildTimeout):
            child.run(["sleep", "5"], timeout=0.3)
        r = child.run(["sh", "-c", "echo out; echo err >&2; exit 3"])
        assert r == nslab.RunResult(3, "out\n", "err\n")
        with pytest.raises(nslab.ChildFailed):
            child.run(["/nonexistent/command"])
        assert child.view().hostname  # still serving after those


@pytest.mark.parametrize("step", _helper.STEPS)
def test_setup_failing_half_way_leaves_nothing(step, host):
    ns = ["uts", "pid", "mnt", "time", "ipc"]
    if nslab.privilege() != "user":  # rootless adds user by itself
        ns.append("user")
    with pytest.raises(nslab.ChildFailed) as info:
        nslab.spawn(ns, hostname="faulty", boottime=10, _fail_at=step)
    assert "fault injected" in str(info.value)
    # The helper lives on and serves the next request.
    with nslab.spawn(["uts"]) as child:
        assert child.view()


BAD = [
    (dict(namespaces=["utz"]), nslab.NsValueError),
    (dict(namespaces=["pid"], hostname="box"), nslab.UnsafeRequest),
    (dict(namespaces=["uts"], hostname="-F/etc/shadow"), nslab.NsValueError),
    (dict(namespaces=["uts"], hostname="a;reboot"), nslab.NsValueError),
    (dict(namespaces=["uts"], hostname="a\nb"), nslab.NsValueError),
    (dict(namespaces=["uts"], hostname="a\0b"), nslab.NsValueError),
    (dict(namespaces=["uts"], hostname="x" * 65), nslab.NsValueError),
    (dict(namespaces=["uts"], boottime=5), nslab.UnsafeRequest),
    (dict(namespaces=["time"], boottime=1.5), nslab.NsValueError),
    (dict(namespaces=["time"], boottime="10"), nslab.NsValueError),
    (dict(namespaces=["time"], boottime=10**12), nslab.NsValueError),
    (dict(namespaces=["time"], monotonic=-(10**9) * 3), nslab.NsValueError),
    (dict(namespaces=["uts"], uid_map=[(0, 1000, 1)]), nslab.UnsafeRequest),
    (dict(namespaces=["user"], uid_map=[]), nslab.NsValueError),
    (dict(namespaces=["user"], uid_map=[(0, -1, 1)]), nslab.NsValueError),
    (dict(namespaces=["user"], uid_map=[(0, 1000, 10), (5, 2000, 1)]), nslab.NsValueError),
    (dict(namespaces=["user"], uid_map=[(0, 4294967290, 100)]), nslab.NsValueError),
    (dict(namespaces=["uts"], mount_proc=True), nslab.UnsafeRequest),
    (dict(namespaces=["pid", "mnt"], mount_proc="yes"), nslab.NsValueError),
]


@pytest.mark.parametrize("kw,exc", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_input_raises_before_anything_starts(kw, exc, monkeypatch):
    kw = dict(kw)
    ns = kw.pop("namespaces")
    asked = []
    monkeypatch.setattr(_helper, "get_helper", lambda: asked.append(1))
    with pytest.raises(exc) as info:
        nslab.spawn(ns, **kw)
    assert isinstance(info.value, ValueError) and isinstance(info.value, nslab.NslabError)
    assert asked == []  # the helper was never even asked


def test_rootless_may_map_only_its_own_id(monkeypatch):
    if nslab.privilege() != "user":
        monkeypatch.setattr(_api, "privilege", lambda: "user")
    asked = []
    monkeypatch.setattr(_helper, "get_helper", lambda: asked.append(1))
    with pytest.raises(nslab.NsValueError, match="only its own id"):
        nslab.spawn(["user"], uid_map=[(0, os.geteuid() + 12345, 1)])
    assert asked == []


def test_errors_carry_context_and_render():
    with pytest.raises(nslab.UnsafeRequest) as info:
        nslab.spawn(["pid"], hostname="box")
    err = info.value
    assert err.nstype == "uts" and err.hint
    assert "uts" in err._repr_html_()


def test_view_of_a_foreign_pid_and_bad_pids():
    with nslab.spawn(["net", "uts"], hostname="seen-by-setns") as child:
        v = nslab.view(child.pid)
        assert v.hostname == "seen-by-setns"
        assert [link["name"] for link in v.links] == ["lo"]
    with pytest.raises(nslab.NsValueError):
        nslab.view(0)
    with pytest.raises(nslab.NsValueError):
        nslab.view("1; rm")
    dead = subprocess.Popen(["true"])
    dead.wait()
    with pytest.raises(nslab.ChildFailed):
        nslab.view(dead.pid)


def test_frames_have_their_documented_columns():
    with nslab.spawn("all", hostname="frames") as child:
        v = child.view()
        for topic, cols in nslab.FRAME_COLUMNS.items():
            df = v.frame(topic)
            assert list(df.columns) == cols, topic
        assert v.frame("links")["name"].tolist() == ["lo"]
        assert v.frame("pid")["pid"].tolist() == [1]
    with pytest.raises(nslab.NsValueError):
        v.frame("nope")


def test_doctor_and_show_cli():
    from nslab.__main__ import main

    rep = nslab.doctor()
    assert [r["type"] for r in rep.rows] == TYPES
    assert rep.ok, repr(rep)
    out = io.StringIO()
    assert main(["show", "--ns", "uts,pid", "--hostname", "cli-box", "--json"], out=out) == 0
    doc = json.loads(out.getvalue())
    rows = {r["type"]: r for r in doc["diff"]}
    assert rows["uts"]["child_sees"] == "cli-box" and not rows["uts"]["shared"]
    assert rows["net"]["shared"]
    out = io.StringIO()
    assert main(["doctor", "--json"], out=out) == 0
    assert json.loads(out.getvalue())["ok"] is True


def test_expect_passes_on_truth_and_fails_with_hints():
    with nslab.spawn(["uts", "pid", "mnt"], hostname="lab-01") as child:
        ok = nslab.expect(child, new=["uts", "pid"], shared=["net"], hostname="lab-01", pid=1, nspid=[1])
        assert ok.ok and len(ok.results) == 6
        assert ":[" not in repr(ok)  # no inode numbers: deterministic for nbval
        with pytest.raises(nslab.ExerciseFailed) as info:
            nslab.expect(child, new=["net"], hostname="lab-02")
        err = info.value
        assert isinstance(err, AssertionError)
        lines = "\n".join(err._render_traceback_())
        assert "add 'net'" in lines and "hostname='lab-02'" in lines
        with pytest.raises(nslab.NsValueError):
            nslab.expect(child, colour="blue")


@pytest.mark.parametrize("ns", [["mnt"], "all"])
def test_rootfs_is_its_own_and_read_only(ns):
    with nslab.spawn(ns, rootfs=True, hostname="box" if ns == "all" else None) as child:
        inside = child.view()
        assert inside.rootfs
        root = next(m for m in inside.mounts if m["mount_point"] == "/")
        assert root["fstype"] == "tmpfs" and root["source"] == "nslab-rootfs"
        listing = child.run(["ls", "/"]).stdout.split()
        assert "usr" in listing and "home" not in listing and "work" not in listing
        r = child.run(["touch", "/usr/nslab-should-not-exist"])
        assert r.returncode != 0 and "Read-only" in r.stderr
        assert not os.path.exists("/usr/nslab-should-not-exist")
        if ns == "all":
            assert inside.pid == 1 and inside.ipc["mqueue"] == []
    with open("/proc/self/mountinfo") as f:
        assert "nslab-rootfs" not in f.read()
