"""nslab._netlink: the pure decoders on captured dumps and hand-built messages, fuzzed; the dumps live.

Captured dumps (tests/fixtures/netlink_*.hex) come from a throwaway network
namespace described in tests/fixtures/README.md.  Live checks compare with
``ip -j`` (iproute2), in this namespace and in fresh ones made by an
``unshare --net`` subprocess; the test process itself never unshares.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import pathlib
import shutil
import socket
import struct
import subprocess
import sys
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nslab import _netlink as N
from nslab._errors import NsValueError, ParseError

FIX = pathlib.Path(__file__).parent / "fixtures"
ROOT = str(pathlib.Path(__file__).resolve().parent.parent)


def hex_buffers(name):
    lines = (FIX / name).read_text().splitlines()
    return [bytes.fromhex(line) for line in lines if line and not line.startswith("#")]


def payloads(name, want):
    out = []
    for buf in hex_buffers(name):
        out += [p for t, _f, _s, p in N.parse_messages(buf) if t == want]
    return out


EXPECTED = json.loads((FIX / "netlink_expected.json").read_text())


# ---------------------------------------------------------------- builders


def attr(atype, data):
    alen = 4 + len(data)
    return struct.pack("=HH", alen, atype) + data + b"\0" * (N._align(alen) - alen)


def msg(mtype, flags, seq, payload):
    length = 16 + len(payload)
    return struct.pack("=IHHII", length, mtype, flags, seq, 0) + payload + b"\0" * (N._align(length) - length)


def link_payload(index, name, flags=0x1, extra=b""):
    return struct.pack("=BxHiII", 0, 1, index, flags, 0) + attr(N.IFLA_IFNAME, name.encode() + b"\0") + extra


# ---------------------------------------------------------------- captured dumps


def test_captured_links():
    links = [N.parse_link(p) for p in payloads("netlink_links.hex", N.RTM_NEWLINK)]
    assert links == EXPECTED["links"]
    by = {x["name"]: x for x in links}
    assert by["lo"] == {
        "index": 1,
        "name": "lo",
        "kind": None,
        "state": "UNKNOWN",
        "flags": ["UP", "LOOPBACK", "RUNNING", "LOWER_UP"],
        "mtu": 65536,
        "address": "00:00:00:00:00:00",
        "link": None,
        "link_netnsid": None,
        "master": None,
    }
    assert by["v0"]["kind"] == by["v1"]["kind"] == "veth"
    assert (by["v0"]["link"], by["v1"]["link"]) == (by["v1"]["index"], by["v0"]["index"])  # peers
    assert by["v1"]["master"] == by["br0"]["index"] and by["br0"]["kind"] == "bridge"
    assert by["v0"]["link_netnsid"] is None  # both ends in one namespace


def test_captured_addrs():
    addrs = [N.parse_addr(p) for p in payloads("netlink_addrs.hex", N.RTM_NEWADDR)]
    assert addrs == EXPECTED["addrs"]
    assert {
        "index": 1,
        "family": "inet",
        "address": "10.0.0.9",
        "prefixlen": 32,
        "scope": "global",
        "label": "lo:ptp",
    } in addrs
    assert {
        "index": 3,
        "family": "inet6",
        "address": "fd12::1",
        "prefixlen": 64,
        "scope": "global",
        "label": None,
    } in addrs


def test_captured_routes():
    routes = [N.parse_route(p) for p in payloads("netlink_routes.hex", N.RTM_NEWROUTE)]
    assert routes == EXPECTED["routes"]
    by = {(r["table"], r["dst"]): r for r in routes}
    static = by[(254, "192.168.7.0/24")]
    assert (static["gateway"], static["oif"], static["protocol"], static["priority"]) == ("10.0.0.2", 3, "static", 50)
    assert by[(254, "172.16.0.0/12")]["type"] == "unreachable" and by[(254, "172.16.0.0/12")]["oif"] is None
    assert by[(1000, "10.9.9.9/32")]["scope"] == "link"  # table > 255 only in RTA_TABLE
    assert by[(255, "127.0.0.1/32")]["type"] == "local"
    assert by[(255, "10.0.0.255/32")]["type"] == "broadcast"
    assert by[(254, "fd99::/48")]["gateway"] == "fd12::2"


def test_captured_dump_ends_with_done():
    for name in ("netlink_links.hex", "netlink_addrs.hex", "netlink_routes.hex"):
        msgs = [m for buf in hex_buffers(name) for m in N.parse_messages(buf)]
        assert msgs[-1][0] == N.NLMSG_DONE
        assert all(f & N.NLM_F_MULTI for _t, f, _s, _p in msgs)
    assert len(hex_buffers("netlink_links.hex")) > 1  # the link dump came in several recv() buffers


# ---------------------------------------------------------------- hand-built messages


def test_attribute_alignment_and_nesting():
    linkinfo = attr(N.IFLA_LINKINFO | 0x8000, attr(N.IFLA_INFO_KIND, b"veth\0") + attr(2, b"\1\2\3"))
    extra = attr(N.IFLA_OPERSTATE, b"\x06") + linkinfo + attr(N.IFLA_MTU, struct.pack("=I", 1400))
    extra += attr(N.IFLA_ADDRESS, bytes.fromhex("02fc00000001")) + attr(N.IFLA_LINK_NETNSID, struct.pack("=I", 0))
    link = N.parse_link(link_payload(7, "ab", flags=0x1 | 0x40 | 0x1000 | 0x10000, extra=extra))
    assert link == {
        "index": 7,
        "name": "ab",
        "kind": "veth",
        "state": "UP",
        "flags": ["UP", "RUNNING", "MULTICAST", "LOWER_UP"],
        "mtu": 1400,
        "address": "02:fc:00:00:00:01",
        "link": None,
        "link_netnsid": 0,
        "master": None,
    }
    # Unknown attributes are skipped; the first of two equal types wins.
    attrs = N.parse_attrs(attr(99, b"x") + attr(3, b"a\0") + attr(3, b"b\0"))
    assert attrs == {99: b"x", 3: b"a\0"}


def test_route_and_addr_minimal():
    rt = struct.pack("=BBBBBBBBI", socket.AF_INET, 0, 0, 0, 254, 4, 0, 1, 0)
    rt += attr(N.RTA_GATEWAY, socket.inet_aton("10.0.0.1")) + attr(N.RTA_OIF, struct.pack("=I", 2))
    assert N.parse_route(rt) == {
        "family": "inet",
        "table": 254,
        "dst": "default",
        "gateway": "10.0.0.1",
        "oif": 2,
        "protocol": "static",
        "scope": "global",
        "type": "unicast",
        "prefsrc": None,
        "priority": None,
    }
    ad = struct.pack("=BBBBI", socket.AF_INET6, 64, 0, 253, 5) + attr(
        N.IFA_ADDRESS, socket.inet_pton(socket.AF_INET6, "fe80::1")
    )
    assert N.parse_addr(ad) == {
        "index": 5,
        "family": "inet6",
        "address": "fe80::1",
        "prefixlen": 64,
        "scope": "link",
        "label": None,
    }


@pytest.mark.parametrize(
    "func, data",
    [
        (N.parse_messages, b"\x10\0\0\0"),  # header cut short
        (N.parse_messages, struct.pack("=IHHII", 40, 16, 2, 1, 0)),  # length past the buffer
        (N.parse_messages, struct.pack("=IHHII", 8, 16, 2, 1, 0)),  # length below a header
        (N.parse_link, b"\0" * 15),
        (N.parse_link, struct.pack("=BxHiII", 0, 1, 1, 0, 0)),  # no IFLA_IFNAME
        (N.parse_link, link_payload(1, "lo", extra=attr(N.IFLA_MTU, b"\1\2"))),  # u32 of 2 bytes
        (N.parse_link, link_payload(1, "lo", extra=struct.pack("=HH", 2, 4))),  # rta_len < 4
        (N.parse_link, link_payload(1, "lo", extra=struct.pack("=HH", 64, 4))),  # rta_len past the end
        (N.parse_link, link_payload(1, "lo", extra=b"\0\0")),  # trailing half header
        (N.parse_link, link_payload(1, "lo", extra=attr(N.IFLA_LINKINFO, b"\xff\xff\1\0"))),  # bad nested
        (N.parse_addr, struct.pack("=BBBBI", 2, 24, 0, 0, 1) + attr(N.IFA_LOCAL, b"\1\2\3")),
        (N.parse_route, struct.pack("=BBBBBBBBI", 10, 64, 0, 0, 254, 2, 0, 1, 0) + attr(N.RTA_DST, b"\0" * 4)),
        (N.parse_route, b"\0" * 11),
        (N.parse_route, "not bytes"),
    ],
)
def test_malformed(func, data):
    with pytest.raises(ParseError, match="netlink"):
        func(data)


# ---------------------------------------------------------------- the dump loop, on a fake socket


class FakeSocket:
    def __init__(self, script):
        self.script = list(script)  # per dump attempt: a list of (buffer, msg_flags)
        self.sent = []
        self.closed = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.closed = True

    def settimeout(self, t):
        pass

    def bind(self, addr):
        pass

    def sendto(self, data, addr):
        self.sent.append(data)

    def recvmsg(self, size):
        data, flags = self.script.pop(0)
        return data, [], flags, (0, 0)


@pytest.fixture
def fake(monkeypatch):
    made = []

    def install(*attempts):
        queue = [FakeSocket(a) for a in attempts]

        def opener():
            sock = queue.pop(0)
            made.append(sock)
            return sock

        monkeypatch.setattr(N, "_open", opener)
        return made

    return install


DONE = msg(N.NLMSG_DONE, N.NLM_F_MULTI, 1, struct.pack("=i", 0))


def test_multipart_over_several_recvs(fake):
    made = fake(
        [
            (msg(N.RTM_NEWLINK, N.NLM_F_MULTI, 1, link_payload(1, "lo")), 0),
            (
                msg(N.RTM_NEWLINK, N.NLM_F_MULTI, 1, link_payload(2, "a"))
                + msg(N.RTM_NEWLINK, N.NLM_F_MULTI, 1, link_payload(3, "b")),
                0,
            ),
            (msg(N.RTM_NEWLINK, N.NLM_F_MULTI, 99, link_payload(9, "not-ours")), 0),  # another seq: ignored
            (DONE, 0),
        ]
    )
    assert [x["name"] for x in N.dump_links()] == ["lo", "a", "b"]
    (sock,) = made
    assert sock.closed and not sock.script
    length, mtype, flags, seq, _ = struct.unpack_from("=IHHII", sock.sent[0])
    assert (length, mtype, flags, seq) == (32, N.RTM_GETLINK, N.NLM_F_REQUEST | N.NLM_F_DUMP, 1)


def test_nlmsg_error_raises_oserror(fake):
    err = msg(N.NLMSG_ERROR, 0, 1, struct.pack("=i", -errno.EPERM) + b"\0" * 16)
    made = fake([(err, 0)])
    with pytest.raises(OSError) as info:
        N.dump_routes()
    assert info.value.errno == errno.EPERM and not isinstance(info.value, ParseError)
    assert made[0].closed


def test_done_with_error(fake):
    fake([(msg(N.NLMSG_DONE, N.NLM_F_MULTI, 1, struct.pack("=i", -errno.EMSGSIZE)), 0)])
    with pytest.raises(OSError) as info:
        N.dump_addrs()
    assert info.value.errno == errno.EMSGSIZE


def test_dump_interrupted_is_retried(fake):
    intr = N.NLM_F_MULTI | N.NLM_F_DUMP_INTR
    made = fake(
        [(msg(N.RTM_NEWLINK, intr, 1, link_payload(1, "old")) + msg(N.NLMSG_DONE, intr, 1, b"\0" * 4), 0)],
        [(msg(N.RTM_NEWLINK, N.NLM_F_MULTI, 1, link_payload(1, "new")) + DONE, 0)],
    )
    assert [x["name"] for x in N.dump_links()] == ["new"]
    assert len(made) == 2 and all(s.closed for s in made)


def test_truncated_recv_and_garbage(fake):
    made = fake([(b"\0" * 100, socket.MSG_TRUNC)], [(b"\x05\0\0\0", 0)])
    with pytest.raises(ParseError, match="cut"):
        N.dump_links()
    with pytest.raises(ParseError):
        N.dump_links()
    assert all(s.closed for s in made)


def test_bad_family():
    with pytest.raises(NsValueError):
        N.dump_routes("ipx")


def test_socket_is_cloexec(monkeypatch):
    seen = []
    real = N._open

    def spy():
        sock = real()
        seen.append((os.get_inheritable(sock.fileno()), fcntl.fcntl(sock.fileno(), fcntl.F_GETFD) & fcntl.FD_CLOEXEC))
        seen.append(sock)
        return sock

    monkeypatch.setattr(N, "_open", spy)
    N.dump_links()
    (inheritable, cloexec), sock = seen
    assert inheritable is False and cloexec
    assert sock.fileno() == -1  # closed by the with-statement


# ---------------------------------------------------------------- fuzz: only ParseError comes out

DECODERS = [N.parse_messages, N.parse_link, N.parse_addr, N.parse_route, N.parse_attrs]
SEED_PAYLOADS = (
    payloads("netlink_links.hex", N.RTM_NEWLINK)
    + payloads("netlink_addrs.hex", N.RTM_NEWADDR)
    + payloads("netlink_routes.hex", N.RTM_NEWROUTE)
)


def _check(func, data):
    try:
        result = func(data)
    except ParseError:
        return
    json.dumps(result, default=lambda b: b.hex())  # parse_messages/attrs carry bytes


@pytest.mark.parametrize("func", DECODERS, ids=lambda f: f.__name__)
@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=200))
def test_fuzz_random(func, data):
    _check(func, data)


@pytest.mark.parametrize("func", DECODERS, ids=lambda f: f.__name__)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(d=st.data())
def test_fuzz_mutated(func, d):
    data = bytearray(d.draw(st.sampled_from(SEED_PAYLOADS)))
    if func is N.parse_messages:
        data = bytearray(msg(N.RTM_NEWLINK, 2, 1, bytes(data)))
    for _ in range(d.draw(st.integers(1, 4))):
        if data and d.draw(st.booleans()):
            data[d.draw(st.integers(0, len(data) - 1))] = d.draw(st.integers(0, 255))
        else:
            data = data[: d.draw(st.integers(0, len(data)))]
    _check(func, bytes(data))


# ---------------------------------------------------------------- live, this namespace, against ip -j


def ip_json(*args):
    if shutil.which("ip") is None:
        pytest.skip("ip (iproute2) not installed")
    return json.loads(subprocess.run(["ip", "-j", *args], capture_output=True, text=True, check=True).stdout or "[]")


def compare_with_ip(links, addrs, routes, ip_links, ip_addrs, ip_routes4, ip_routes6):
    """Assert our dumps agree with ip's view of the same namespace."""
    ours = {(x["index"], x["name"], x["mtu"], x["state"]) for x in links}
    theirs = {(x["ifindex"], x["ifname"], x["mtu"], x["operstate"]) for x in ip_links}
    assert ours == theirs
    # ip hides RUNNING and shows NO-CARRIER for UP without RUNNING.
    fl_ours = {x["name"]: set(x["flags"]) - {"RUNNING"} for x in links}
    fl_theirs = {x["ifname"]: set(x["flags"]) - {"NO-CARRIER", "M-DOWN"} for x in ip_links}
    assert fl_ours == fl_theirs
    kinds = {x["ifname"]: x.get("linkinfo", {}).get("info_kind") for x in ip_links}
    assert {x["name"]: x["kind"] for x in links} == kinds
    a_ours = {(a["index"], a["family"], a["address"], a["prefixlen"], a["scope"]) for a in addrs}
    a_theirs = {
        (x["ifindex"], a["family"], a["local"], a["prefixlen"], a["scope"])
        for x in ip_addrs
        for a in x.get("addr_info", [])
    }
    assert a_ours == a_theirs
    names = {x["index"]: x["name"] for x in links}
    for fam, ip_routes in (("inet", ip_routes4), ("inet6", ip_routes6)):
        host_len = "/32" if fam == "inet" else "/128"
        r_ours = {
            (r["dst"].removesuffix(host_len), r["gateway"], names.get(r["oif"]))
            for r in routes
            if r["table"] == 254 and r["family"] == fam
        }
        r_theirs = {(r["dst"], r.get("gateway"), r.get("dev")) for r in ip_routes}
        assert r_ours == r_theirs, fam


def test_live_against_ip():
    links, addrs, routes = N.dump_links(), N.dump_addrs(), N.dump_routes()
    compare_with_ip(
        links,
        addrs,
        routes,
        ip_json("-d", "link", "show"),
        ip_json("addr", "show"),
        ip_json("-4", "route", "show"),
        ip_json("-6", "route", "show"),
    )
    assert json.loads(json.dumps(links)) == links
    assert {r["family"] for r in N.dump_routes("inet")} <= {"inet"}
    assert {r["family"] for r in N.dump_routes(socket.AF_INET6)} <= {"inet6"}


# ---------------------------------------------------------------- live, fresh network namespaces


def unshare_net(script):
    """Run python -c SCRIPT in a new network namespace; return its JSON output."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) not installed")
    prefix = ["unshare", "--net"] if os.geteuid() == 0 else ["unshare", "--user", "--map-root-user", "--net"]
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run(
        [*prefix, "--", sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    if proc.returncode != 0 and "unshare failed" in proc.stderr:
        pytest.skip(f"cannot make a network namespace here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


FRESH = """
    import json, time
    from nslab import _netlink as N
    first = time.perf_counter_ns()
    out = {"links": N.dump_links(), "addrs": N.dump_addrs(), "routes": N.dump_routes()}
    out["first_ns"] = time.perf_counter_ns() - first
    runs = []
    for _ in range(200):
        t = time.perf_counter_ns()
        N.dump_links(); N.dump_addrs(); N.dump_routes()
        runs.append(time.perf_counter_ns() - t)
    runs.sort()
    out["median_ns"] = runs[len(runs) // 2]
    print(json.dumps(out))
"""


@pytest.mark.live
def test_fresh_netns_has_only_lo_down():
    out = unshare_net(FRESH)
    assert out["links"] == [
        {
            "index": 1,
            "name": "lo",
            "kind": None,
            "state": "DOWN",
            "flags": ["LOOPBACK"],
            "mtu": 65536,
            "address": "00:00:00:00:00:00",
            "link": None,
            "link_netnsid": None,
            "master": None,
        }
    ]
    assert out["addrs"] == [] and out["routes"] == []
    print(f"fresh netns: first trio {out['first_ns'] / 1e3:.0f} us, median {out['median_ns'] / 1e3:.0f} us")
    assert out["median_ns"] < 5_000_000  # generous: about 0.1 ms on a 2-CPU VM


BUILT = """
    import json, subprocess
    from nslab import _netlink as N
    def ip(*a):
        subprocess.run(["ip", *a], check=True)
    def ipj(*a):
        return json.loads(subprocess.run(["ip", "-j", *a], check=True, capture_output=True, text=True).stdout or "[]")
    ip("link", "set", "lo", "up")
    ip("link", "add", "v0", "type", "veth", "peer", "name", "v1")
    ip("link", "add", "br0", "type", "bridge")
    ip("link", "set", "v1", "master", "br0")
    ip("addr", "add", "10.0.0.1/24", "dev", "v0")
    ip("-6", "addr", "add", "fd12::1/64", "dev", "v0", "nodad")
    for dev in ("v0", "v1", "br0"):
        ip("link", "set", dev, "up")
    ip("route", "add", "192.168.7.0/24", "via", "10.0.0.2", "dev", "v0", "metric", "50")
    ip("route", "add", "10.9.9.9", "dev", "v0")
    ip("route", "add", "unreachable", "172.16.0.0/12")
    ip("-6", "route", "add", "fd99::/48", "via", "fd12::2", "dev", "v0")
    print(json.dumps({
        "ours": [N.dump_links(), N.dump_addrs(), N.dump_routes()],
        "ip": [ipj("-d", "link", "show"), ipj("addr", "show"), ipj("-4", "route", "show"), ipj("-6", "route", "show")],
    }))
"""


@pytest.mark.live
def test_built_netns_against_ip():
    if shutil.which("ip") is None:
        pytest.skip("ip (iproute2) not installed")
    out = unshare_net(BUILT)
    compare_with_ip(*out["ours"], *out["ip"])
    links = {x["name"]: x for x in out["ours"][0]}
    assert links["v0"]["kind"] == "veth" and links["v0"]["link"] == links["v1"]["index"]
    assert links["v1"]["master"] == links["br0"]["index"]
