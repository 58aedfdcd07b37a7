"""nslab._parse on captured and hand-made texts (tests/fixtures/README.md), fuzzed, and cross-checked live."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nslab import _parse as P
from nslab._errors import NsValueError, ParseError

FIX = pathlib.Path(__file__).parent / "fixtures"


def fx(name):
    return (FIX / name).read_bytes().decode("utf-8", "surrogateescape")


# ---------------------------------------------------------------- ns links


def test_ns_link():
    assert P.parse_ns_link("uts:[4026531838]") == ("uts", 4026531838)
    assert P.parse_ns_link(b"pid_for_children:[1]\n") == ("pid_for_children", 1)
    for bad in ("uts:4026531838", "uts:[]", "uts:[12]x", "UTS:[1]", ":[1]", "uts:[-1]", ""):
        with pytest.raises(ParseError):
            P.parse_ns_link(bad)


def test_ns_link_live():
    for name in os.listdir("/proc/self/ns"):
        nstype, ino = P.parse_ns_link(os.readlink(f"/proc/self/ns/{name}"))
        assert nstype == name.replace("_for_children", "")
        assert ino == os.stat(f"/proc/self/ns/{name}").st_ino


# ---------------------------------------------------------------- status

STATUS_KEYS = {
    "name", "state", "tgid", "pid", "ppid", "tracerpid", "uid", "gid", "groups", "nstgid", "nspid",
    "nspgid", "nssid", "threads", "seccomp", "cap_eff", "cap_prm", "cap_bnd", "no_new_privs",
}  # fmt: skip


def test_status_self():
    s = P.parse_status(fx("status_self.txt"))
    assert set(s) == STATUS_KEYS
    assert s == {
        "name": "cat",
        "state": "R",
        "tgid": 10271,
        "pid": 10271,
        "ppid": 10269,
        "tracerpid": 0,
        "uid": [0, 0, 0, 0],
        "gid": [0, 0, 0, 0],
        "groups": [],
        "nstgid": [10271],
        "nspid": [10271],
        "nspgid": [10269],
        "nssid": [3267],
        "threads": 1,
        "seccomp": 0,
        "cap_eff": 0x1FFFEFFFFFF,
        "cap_prm": 0x1FFFEFFFFFF,
        "cap_bnd": 0x1FFFEFFFFFF,
        "no_new_privs": 0,
    }
    json.dumps(s)


def test_status_nested_real():
    s = P.parse_status(fx("status_nested_pidns.txt"))
    assert (s["pid"], s["nspid"], s["nstgid"]) == (11580, [11580, 2, 1], [11580, 2, 1])
    # The session and group leaders live outside the inner namespaces: 0 there.
    assert (s["nspgid"], s["nssid"]) == ([11424, 0, 0], [3267, 0, 0])
    assert s["name"] == "sleep" and s["state"] == "S"


def test_status_nested_handmade():
    s = P.parse_status(fx("status_nested_handmade.txt"))
    assert s["nspid"] == [4242, 7, 1] and s["nstgid"] == [4242, 7, 1]
    assert s["nspgid"] == [4240, 5, 0] and s["nssid"] == [4200, 0, 0]
    assert s["pid"] == s["nspid"][0] == 4242
    assert s["groups"] == [4, 24, 27, 1000]


def test_status_userns_pidns():
    s = P.parse_status(fx("status_userns_pidns.txt"))
    assert (s["pid"], s["ppid"], s["nspid"]) == (1, 0, [1])
    assert s["uid"] == [0, 0, 0, 0]  # mapped root inside the user namespace
    assert s["cap_eff"] == (1 << 41) - 1  # a full set, all 41 capabilities of 6.x


def test_status_old_kernel():
    s = P.parse_status(fx("status_old_kernel.txt"))
    assert s["nspid"] is None and s["nstgid"] is None and s["nssid"] is None and s["nspgid"] is None
    assert s["seccomp"] is None and s["no_new_privs"] is None
    assert s["pid"] == 10271 and s["threads"] == 1


def test_status_name_escapes():
    # The kernel turns a newline in the comm into "\n" and a backslash into "\\"; a tab stays.
    assert "Name:\tx\\ny\\\\z\tq\n" in fx("status_comm_escape.txt")
    assert P.parse_status(fx("status_comm_escape.txt"))["name"] == "x\ny\\z\tq"
    assert P.parse_status(fx("status_comm_parens.txt"))["name"] == "a (b) c)"
    base = fx("status_self.txt").replace("Name:\tcat", "Name:\t\t lead\\\\n")
    assert P.parse_status(base)["name"] == "\t lead\\n"


@pytest.mark.parametrize(
    "old, new",
    [
        ("Uid:\t0\t0\t0\t0", "Uid:\t0\t0\t0"),
        ("Uid:\t0\t0\t0\t0", "Uid:\t0\t0\t0\tx"),
        ("Pid:\t10271", "Pid:\t-1"),
        ("Pid:\t10271", "Pid:\t١٠"),  # Arabic-Indic digits: int() would take them
        ("Pid:\t10271", "Pid:\t1_0"),
        ("CapEff:\t000001fffeffffff", "CapEff:\t0x1f"),
        ("Threads:\t1", "Threads"),
        ("State:\tR (running)", "State:\t"),
        ("Name:\tcat\n", ""),
    ],
)
def test_status_malformed(old, new):
    text = fx("status_self.txt")
    assert old in text
    with pytest.raises(ParseError, match=r"/proc/PID/status"):
        P.parse_status(text.replace(old, new))


def test_status_error_names_file_and_line():
    text = fx("status_self.txt").replace("Threads:\t1", "Threads:\tmany")
    with pytest.raises(ParseError, match=r"^/proc/42/status line 37: Threads"):
        P.parse_status(text, source="/proc/42/status")


# ---------------------------------------------------------------- stat


def test_stat_self():
    assert P.parse_stat(fx("stat_self.txt")) == {
        "pid": 10272,
        "comm": "cat",
        "state": "R",
        "ppid": 10269,
        "pgrp": 10269,
        "session": 3267,
        "tty_nr": 0,
        "num_threads": 1,
        "starttime": 47184,
    }


def test_stat_comm_parens_and_newline():
    s = P.parse_stat(fx("stat_comm_parens.txt"))
    assert (s["pid"], s["comm"], s["state"], s["ppid"], s["num_threads"]) == (10306, "a (b) c)", "R", 10303, 1)
    # In stat the comm is raw: a real newline sits inside the parentheses.
    s = P.parse_stat(fx("stat_comm_escape.txt"))
    assert s["comm"] == "x\ny\\z\tq" and s["ppid"] == 10303 and s["starttime"] == 47825


def test_stat_nested():
    s = P.parse_stat(fx("stat_nested_pidns.txt"))
    assert (s["pid"], s["comm"], s["state"], s["ppid"], s["starttime"]) == (11580, "sleep", "S", 11579, 48516)


@pytest.mark.parametrize("text", ["", "1 cat R 1", "1 (cat R 1 2", "1(cat) R " + "0 " * 30, "x (cat) R " + "0 " * 30])
def test_stat_malformed(text):
    with pytest.raises(ParseError, match="/proc/PID/stat"):
        P.parse_stat(text)


def test_stat_too_few_fields():
    with pytest.raises(ParseError, match="need 22"):
        P.parse_stat("1 (a) R 0 0 0 0 0")


def test_stat_live():
    s = P.parse_stat(pathlib.Path("/proc/self/stat").read_text())
    assert s["pid"] == os.getpid() and s["ppid"] == os.getppid()
    assert s["pgrp"] == os.getpgrp() and s["session"] == os.getsid(0)


# ---------------------------------------------------------------- user namespaces


def test_idmap():
    assert P.parse_idmap(fx("uid_map_maproot_1000.txt")) == [(0, 1000, 1)]
    assert P.parse_idmap(fx("uid_map_host.txt")) == [(0, 0, 4294967295)]
    assert P.parse_idmap("") == []
    assert P.parse_idmap("0 100000 65536\n65536 1000 1\n") == [(0, 100000, 65536), (65536, 1000, 1)]
    for bad in ("0 1000", "0 1000 1 2", "0 -1 1", "a b c"):
        with pytest.raises(ParseError, match="uid_map line 1"):
            P.parse_idmap(bad)


def test_setgroups():
    assert P.parse_setgroups(fx("setgroups_allow.txt")) == "allow"
    assert P.parse_setgroups(fx("setgroups_deny.txt")) == "deny"
    with pytest.raises(ParseError):
        P.parse_setgroups("maybe\n")


# ---------------------------------------------------------------- mountinfo


def test_mountinfo_self():
    ms = P.parse_mountinfo(fx("mountinfo_self.txt"))
    assert len(ms) == 19
    root = next(m for m in ms if m["mount_point"] == "/")
    assert root == {
        "mount_id": 27,
        "parent_id": 1,
        "dev": "254:0",
        "root": "/",
        "mount_point": "/",
        "mount_options": "rw,relatime",
        "optional": [],
        "propagation": "private",
        "fstype": "ext4",
        "source": "/dev/vda",
        "super_options": "rw,discard,resv_strict,resuid=65534,resgid=65534",
    }
    assert [m["fstype"] for m in ms].count("cgroup") == 9


def test_mountinfo_tricky_handmade():
    ms = P.parse_mountinfo(fx("mountinfo_tricky.txt"))
    assert [m["mount_id"] for m in ms] == [36, 100, 101, 102]
    # The proc(5) example line.
    assert ms[0]["root"] == "/mnt1" and ms[0]["mount_point"] == "/mnt2" and ms[0]["optional"] == ["master:1"]
    assert ms[0]["propagation"] == "master:1" and ms[0]["super_options"] == "rw,errors=continue"
    assert ms[1]["mount_point"] == "/mnt/my disk" and ms[1]["source"] == "my source\\x"
    assert ms[1]["optional"] == ["shared:7", "master:2", "propagate_from:3"]
    assert ms[1]["propagation"] == "shared:7 master:2 propagate_from:3"
    assert ms[2]["root"] == "/dir\ttab" and ms[2]["mount_point"] == "/mnt/new\nline"
    assert ms[2]["propagation"] == "unbindable" and ms[2]["source"] == ""
    assert ms[3]["fstype"] == "fuse.sshfs" and ms[3]["source"] == "user@host:/a b" and ms[3]["propagation"] == "private"


def test_mountinfo_tricky_real():
    ms = {m["mount_point"]: m for m in P.parse_mountinfo(fx("mountinfo_tricky_real.txt"))}
    ab = ms["/tmp/nslab-fx/a b"]
    assert (ab["source"], ab["optional"], ab["propagation"]) == ("my src\\x", ["shared:1"], "shared:1")
    assert ms["/tmp/nslab-fx/c"]["propagation"] == "shared:2 master:1"
    assert ms["/tmp/nslab-fx/c"]["dev"] == ab["dev"] == "0:39"
    assert ms["/tmp/nslab-fx/d"]["optional"] == ["unbindable"]
    e = ms["/tmp/nslab-fx/e"]
    assert (e["source"], e["fstype"], e["super_options"], e["propagation"]) == ("", "tmpfs", "rw", "private")


@pytest.mark.parametrize(
    "line",
    [
        "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 ext3 /dev/root rw",  # no separator
        "36 35 98:0 /mnt1 /mnt2 rw,noatime - ext3 /dev/root",  # too few after it
        "36 35 98:0 /mnt1 /mnt2 rw,noatime - ext3 /dev/root rw extra",
        "36 35 98 /mnt1 /mnt2 rw - ext3 /dev/root rw",  # dev not maj:min
        "x 35 98:0 /mnt1 /mnt2 rw - ext3 /dev/root rw",
        "36 35 98:0 /mnt1 /mnt2 rw  master:1 - ext3 /dev/root rw",  # empty tag
        "36 35 98:0 /mnt1 - ext3 /dev/root rw",
    ],
)
def test_mountinfo_malformed(line):
    with pytest.raises(ParseError, match="mountinfo line 2"):
        P.parse_mountinfo("22 27 0:21 / /proc rw,relatime - proc proc rw\n" + line + "\n")


def test_mountinfo_live_vs_findmnt():
    if shutil.which("findmnt") is None:
        pytest.skip("findmnt (util-linux) not installed")
    out = subprocess.run(
        ["findmnt", "-J", "--list", "-o", "ID,TARGET,FSTYPE,PROPAGATION", "--task", str(os.getpid())],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    theirs = {(int(f["id"]), f["target"], f["fstype"]) for f in json.loads(out)["filesystems"]}
    ours = P.parse_mountinfo(pathlib.Path(f"/proc/{os.getpid()}/mountinfo").read_text())
    assert {(m["mount_id"], m["mount_point"], m["fstype"]) for m in ours} == theirs
    prop = {int(f["id"]): f["propagation"] for f in json.loads(out)["filesystems"]}
    for m in ours:  # findmnt says "shared,slave"; we keep the kernel's tags
        words = set(prop[m["mount_id"]].split(","))
        assert ("shared" in words) == any(t.startswith("shared:") for t in m["optional"])
        assert ("slave" in words) == any(t.startswith("master:") for t in m["optional"])


# ---------------------------------------------------------------- cgroup


def test_cgroup():
    cg = P.parse_cgroup(fx("cgroup_self.txt"))
    assert cg[0] == (9, "name=systemd", "/") and cg[-1] == (0, "", "/")
    assert (4, "memory", "/user.slice/session-1.scope") in cg and len(cg) == 10
    assert P.parse_cgroup(fx("cgroup_tricky.txt")) == [
        (12, "pids", "/user.slice/a:b:c"),
        (1, "name=systemd", "/system.slice/x (deleted)"),
        (0, "", "/"),
        (0, "", "/with space/and:colon"),
    ]
    for bad in ("0:/", "x::/", ":pids:/"):
        with pytest.raises(ParseError, match="cgroup line 1"):
            P.parse_cgroup(bad)


# ---------------------------------------------------------------- time namespaces


def test_timens_offsets():
    assert P.parse_timens_offsets(fx("timens_offsets_host.txt")) == {"monotonic": 0, "boottime": 0}
    assert P.parse_timens_offsets(fx("timens_offsets_unshare.txt")) == {
        "monotonic": -5_000_000_000,
        "boottime": 3600_000_000_000,
    }
    assert P.parse_timens_offsets(fx("timens_offsets_negative.txt")) == {
        "monotonic": -1_500_000_000,
        "boottime": -86400 * 10**9 + 1,
    }
    assert P.parse_timens_offsets(fx("timens_offsets_numeric.txt")) == {
        "monotonic": -1_500_000_000,
        "boottime": 3 * 10**9,
    }
    assert P.parse_timens_offsets("") == {"monotonic": 0, "boottime": 0}
    for bad in ("realtime 1 0", "monotonic 1", "monotonic 1 1000000000", "monotonic 1 -1", "monotonic 1 0\n1 2 0"):
        with pytest.raises(ParseError, match="timens_offsets line"):
            P.parse_timens_offsets(bad)


def test_format_timens_offsets():
    assert P.format_timens_offsets({"monotonic": 5 * 10**9}) == "monotonic 5 0\n"
    assert P.format_timens_offsets({"boottime": 1, "monotonic": -1_500_000_000}) == (
        "monotonic -2 500000000\nboottime 0 1\n"
    )
    assert P.format_timens_offsets({"monotonic": -1}, numeric=True) == "1 -1 999999999\n"
    assert P.format_timens_offsets({}) == ""
    for bad in ({"realtime": 0}, {"monotonic": 1.5}, {"monotonic": True}, [("monotonic", 0)]):
        with pytest.raises(NsValueError):
            P.format_timens_offsets(bad)


@given(st.integers(min_value=-(2**62), max_value=2**62), st.integers(min_value=-(2**62), max_value=2**62))
def test_timens_roundtrip(mono, boot):
    offsets = {"monotonic": mono, "boottime": boot}
    assert P.parse_timens_offsets(P.format_timens_offsets(offsets)) == offsets
    assert P.parse_timens_offsets(P.format_timens_offsets(offsets, numeric=True)) == offsets


# ---------------------------------------------------------------- sysvipc


def test_sysvipc_shm():
    segs = P.parse_sysvipc("shm", fx("sysvipc_shm.txt"))
    assert len(segs) == 3
    assert segs[0] == {
        "key": 0,
        "shmid": 0,
        "perms": 0o600,
        "size": 65536,
        "cpid": 12021,
        "lpid": 12021,
        "nattch": 1,
        "uid": 0,
        "gid": 0,
        "cuid": 0,
        "cgid": 0,
        "atime": 1796114856,
        "dtime": 0,
        "ctime": 1796114856,
        "rss": 8192,
        "swap": 0,
        "id": 0,
        "kind": "shm",
    }
    assert (segs[1]["key"], segs[1]["perms"], segs[1]["size"]) == (0x1234ABCD, 0o644, 4096)
    assert segs[2]["key"] == 0xDEADBEEF - 2**32  # printed with %d: negative
    assert [s["id"] for s in segs] == [0, 1, 2]


def test_sysvipc_msg_sem():
    (q,) = P.parse_sysvipc("msg", fx("sysvipc_msg.txt"))
    assert (q["key"], q["msqid"], q["id"], q["perms"], q["cbytes"], q["qnum"], q["kind"]) == (
        0x42,
        0,
        0,
        0o620,
        5,
        1,
        "msg",
    )
    (s,) = P.parse_sysvipc("sem", fx("sysvipc_sem.txt"))
    assert (s["key"], s["semid"], s["id"], s["perms"], s["nsems"], s["kind"]) == (0x99, 0, 0, 0o600, 3, "sem")
    for kind in ("shm", "msg", "sem"):
        assert P.parse_sysvipc(kind, fx(f"sysvipc_{kind}_empty.txt")) == []


def test_sysvipc_malformed():
    with pytest.raises(ParseError):
        P.parse_sysvipc("pipe", "key id perms\n")
    with pytest.raises(ParseError, match="sysvipc/shm line 1"):
        P.parse_sysvipc("shm", fx("sysvipc_msg.txt"))  # no shmid column
    text = fx("sysvipc_shm.txt")
    with pytest.raises(ParseError, match="line 2"):
        P.parse_sysvipc("shm", text.replace("   600 ", "   608 ", 1))  # perms are octal
    with pytest.raises(ParseError, match="line 2"):
        P.parse_sysvipc("shm", text.replace(" 65536 ", " ", 1))


# ---------------------------------------------------------------- /proc/net


def test_net_tcp():
    socks = P.parse_proc_net_sockets("tcp", fx("net_tcp.txt"), byteorder="little")
    assert socks[0] == {
        "proto": "tcp",
        "local_addr": "127.0.0.1",
        "local_port": 8080,
        "remote_addr": "0.0.0.0",  # noqa: S104 (a parsed value, not a bind)
        "remote_port": 0,
        "state": "LISTEN",
        "uid": 0,
        "inode": 100568,
    }
    assert [(s["local_addr"], s["local_port"], s["remote_addr"], s["remote_port"], s["state"]) for s in socks[1:]] == [
        ("127.0.0.1", 8080, "127.0.0.1", 52848, "ESTABLISHED"),
        ("10.1.2.3", 35428, "10.1.2.3", 2222, "ESTABLISHED"),
        ("127.0.0.1", 52848, "127.0.0.1", 8080, "ESTABLISHED"),
    ]


def test_net_tcp6_udp():
    socks = P.parse_proc_net_sockets("tcp6", fx("net_tcp6.txt"), byteorder="little")
    assert [(s["local_addr"], s["local_port"], s["state"]) for s in socks] == [
        ("::", 2222, "LISTEN"),
        ("::1", 443, "LISTEN"),
        ("::1", 443, "ESTABLISHED"),
        ("::1", 56316, "ESTABLISHED"),
        ("::ffff:10.1.2.3", 2222, "ESTABLISHED"),
    ]
    assert socks[4]["remote_addr"] == "::ffff:10.1.2.3" and socks[4]["remote_port"] == 35428
    (u,) = P.parse_proc_net_sockets("udp", fx("net_udp.txt"), byteorder="little")
    assert (u["local_addr"], u["local_port"], u["state"], u["inode"]) == ("10.1.2.3", 53, "CLOSE", 100580)
    (u6,) = P.parse_proc_net_sockets("udp6", fx("net_udp6.txt"), byteorder="little")
    assert (u6["local_addr"], u6["local_port"], u6["remote_port"], u6["state"]) == ("::1", 5353, 9, "ESTABLISHED")
    assert P.parse_proc_net_sockets("udp6", fx("net_udp6_host_empty.txt")) == []


def test_net_byteorder():
    line = "  sl  local_address rem_address   st\n   0: 0100007F:1F90 00000000:0000 0A 0 0 0 0 0 77\n"
    (le,) = P.parse_proc_net_sockets("tcp", line, byteorder="little")
    (be,) = P.parse_proc_net_sockets("tcp", line, byteorder="big")
    assert le["local_addr"] == "127.0.0.1" and be["local_addr"] == "1.0.0.127"
    assert le["local_port"] == be["local_port"] == 8080
    (odd,) = P.parse_proc_net_sockets("tcp", line.replace(" 0A ", " 2F "))
    assert odd["state"] == "UNKNOWN(47)"


@pytest.mark.parametrize(
    "row",
    [
        "0: 0100007F:1F90 00000000:0000 0A 0 0 0 0 0",  # 9 fields
        "0: 0100007F1F90 00000000:0000 0A 0 0 0 0 0 1",
        "0: 00007F:1F90 00000000:0000 0A 0 0 0 0 0 1",
        "0: 0100007F:1F90 00000000:0000 A 0 0 0 0 0 1",
        "0: 0100007G:1F90 00000000:0000 0A 0 0 0 0 0 1",
        "0 0100007F:1F90 00000000:0000 0A 0 0 0 0 0 1",
    ],
)
def test_net_malformed(row):
    with pytest.raises(ParseError, match="/proc/net/tcp line 2"):
        P.parse_proc_net_sockets("tcp", "  sl local\n" + row + "\n")


def test_net_live_vs_ss():
    if shutil.which("ss") is None:
        pytest.skip("ss (iproute2) not installed")
    out = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, check=True).stdout
    theirs = set()
    for line in out.splitlines():
        local = line.split()[3]
        addr, _, port = local.rpartition(":")
        addr = addr.strip("[]").split("%")[0]
        theirs.add((addr, int(port)))
    ours = set()
    for proto in ("tcp", "tcp6"):
        text = pathlib.Path(f"/proc/net/{proto}").read_text()
        ours |= {
            (s["local_addr"], s["local_port"]) for s in P.parse_proc_net_sockets(proto, text) if s["state"] == "LISTEN"
        }
    # ss prints a dual-stack "::" listener as "*"; compare ports where the address says "any".
    anys = {"0.0.0.0", "::", "*"}  # noqa: S104 (parsed values, not a bind)
    norm = lambda pairs: {(a if a not in anys else "any", p) for a, p in pairs}  # noqa: E731
    assert norm(ours) == norm(theirs)


# ---------------------------------------------------------------- small files


def test_uptime_kv():
    assert P.parse_uptime(fx("uptime.txt")) == {"uptime": 471.85, "idle": 865.37}
    live = P.parse_uptime(pathlib.Path("/proc/uptime").read_text())
    assert live["uptime"] > 0
    for bad in ("", "1.0", "1 2", "1.0 2.0 3.0", "-1.0 2.0"):
        with pytest.raises(ParseError, match="/proc/uptime"):
            P.parse_uptime(bad)
    kv = P.parse_kv(fx("status_self.txt"))
    assert kv["Name"] == "cat" and kv["VmRSS"] == "1736 kB" and kv["Groups"] == ""
    assert P.parse_kv("a: 1\n\nb:2:3\na: 9\n") == {"a": "1", "b": "2:3"}
    with pytest.raises(ParseError, match="line 2"):
        P.parse_kv("a: 1\nnocolon\n")


def test_live_status_self():
    s = P.parse_status(pathlib.Path("/proc/self/status").read_text())
    assert s["pid"] == os.getpid() and s["ppid"] == os.getppid()
    assert s["uid"][:2] == [os.getuid(), os.geteuid()] and s["gid"][:2] == [os.getgid(), os.getegid()]
    assert sorted(s["groups"]) == sorted(os.getgroups())
    assert s["nspid"] is None or s["nspid"][-1] == os.getpid()


# ---------------------------------------------------------------- fuzz: only ParseError comes out

TEXT_PARSERS = {
    "ns_link": P.parse_ns_link,
    "status": P.parse_status,
    "stat": P.parse_stat,
    "idmap": P.parse_idmap,
    "setgroups": P.parse_setgroups,
    "mountinfo": P.parse_mountinfo,
    "cgroup": P.parse_cgroup,
    "timens": P.parse_timens_offsets,
    "shm": lambda t: P.parse_sysvipc("shm", t),
    "msg": lambda t: P.parse_sysvipc("msg", t),
    "sem": lambda t: P.parse_sysvipc("sem", t),
    "tcp": lambda t: P.parse_proc_net_sockets("tcp", t),
    "udp6": lambda t: P.parse_proc_net_sockets("udp6", t),
    "uptime": P.parse_uptime,
    "kv": P.parse_kv,
}
SEEDS = {
    "ns_link": ["uts:[4026531838]"],
    "status": ["status_self.txt", "status_nested_pidns.txt", "status_comm_escape.txt"],
    "stat": ["stat_self.txt", "stat_comm_parens.txt"],
    "idmap": ["uid_map_maproot_1000.txt", "uid_map_host.txt"],
    "setgroups": ["setgroups_deny.txt"],
    "mountinfo": ["mountinfo_tricky.txt", "mountinfo_tricky_real.txt"],
    "cgroup": ["cgroup_tricky.txt"],
    "timens": ["timens_offsets_negative.txt", "timens_offsets_numeric.txt"],
    "shm": ["sysvipc_shm.txt"],
    "msg": ["sysvipc_msg.txt"],
    "sem": ["sysvipc_sem.txt"],
    "tcp": ["net_tcp.txt"],
    "udp6": ["net_udp6.txt"],
    "uptime": ["uptime.txt"],
    "kv": ["status_self.txt"],
}
# Characters that matter to some format, so mutations reach past the first check.
SPECIAL = st.sampled_from([*" \t\n:-()[]\\/0123456789abcdefABCDEF.x", "\\040", "\\134", "\x00", "\udcff", "١"])


def _seed_text(name):
    return fx(name) if (FIX / name).exists() else name


def _check(parser, text):
    try:
        result = parser(text)
    except ParseError:
        return
    json.dumps(result)  # a result must cross the helper's socket


@pytest.mark.parametrize("which", sorted(TEXT_PARSERS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(st.text(), st.binary().map(lambda b: b.decode("utf-8", "surrogateescape"))))
def test_fuzz_random(which, text):
    _check(TEXT_PARSERS[which], text)


@pytest.mark.parametrize("which", sorted(TEXT_PARSERS))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_mutated(which, data):
    text = _seed_text(data.draw(st.sampled_from(SEEDS[which])))
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(text)))
        j = data.draw(st.integers(i, min(len(text), i + 4)))
        text = text[:i] + data.draw(st.one_of(st.just(""), SPECIAL)) + text[j:]
    _check(TEXT_PARSERS[which], text)


def test_bytes_and_wrong_types():
    assert P.parse_idmap(b"0 1000 1\n") == [(0, 1000, 1)]
    for parser in TEXT_PARSERS.values():
        with pytest.raises(ParseError):
            parser(None)
        with pytest.raises(ParseError):
            parser(12)


def test_huge_numbers_are_parse_errors():
    digits = "9" * (sys.get_int_max_str_digits() + 1) if hasattr(sys, "get_int_max_str_digits") else "9" * 5000
    try:
        P.parse_idmap(f"0 {digits} 1")
    except ParseError:
        pass
