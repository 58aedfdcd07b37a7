"""Safety of intent, over every subset of the eight namespace flags.

For each of the 256 subsets S the kit must refuse, before the helper is even
asked, every operation that would change a namespace S does not make new and
so shares with the host: a hostname or domain name without uts, time offsets
without time, a fresh /proc without pid and mnt, id maps without user, a veth
end in a child without net, and try_it() with nothing that creates a
namespace.  What S does allow must be accepted, and the spec the helper would
get must ask for exactly S (plus the user namespace an ordinary user always
gets).  That part needs no process at all; a sample of subsets is then
spawned for real with every allowed option, inside the host-snapshot check.
"""

from __future__ import annotations

import inspect
import itertools
import os
import random

import pytest

import nslab
from nslab import _api, _helper, _tryit
from nslab._ns import flags_of

TYPES = list(nslab.NAMESPACES)
SUBSETS = [frozenset(c) for r in range(len(TYPES) + 1) for c in itertools.combinations(TYPES, r)]
assert len(SUBSETS) == 256
PRIV = nslab.privilege()
UNSHARE_OPT = {t: nslab.NAMESPACES[t].option for t in TYPES}


def _ids(s):
    return ",".join(sorted(s)) or "none"


def _effective(s):
    """What spawn makes new: S, plus user for an ordinary user (never for an empty S)."""
    return s | {"user"} if PRIV == "user" and s else s


def _own_maps():
    if PRIV == "root":
        return [(0, nslab.ROOT_RANGE[0], nslab.ROOT_RANGE[1])], [(0, nslab.ROOT_RANGE[0], nslab.ROOT_RANGE[1])]
    return [(0, os.geteuid(), 1)], [(0, os.getegid(), 1)]


HAS_ROOTFS = "rootfs" in inspect.signature(nslab.spawn).parameters


def _allowed_options(s):
    """Every option S permits, with values that must be accepted."""
    opts = {}
    if "uts" in s:
        opts.update(hostname="intent-box", domainname="intent.example")
    if "time" in s:
        opts.update(monotonic=-1, boottime=3600)
    if {"pid", "mnt"} <= s:
        opts["mount_proc"] = True
    if "mnt" in s and HAS_ROOTFS:
        opts["rootfs"] = True
    # Maps need "user" asked for by name: the user namespace a rootless spawn
    # adds on its own is not one the caller asked to map.
    if "user" in s:
        opts["uid_map"], opts["gid_map"] = _own_maps()
    return opts


def _refusals(s):
    """(option kwargs, namespace it needs) for every option S does not permit."""
    out = []
    if "uts" not in s:
        out += [({"hostname": "box"}, "uts"), ({"domainname": "lab"}, "uts")]
    if "time" not in s:
        out += [({"monotonic": 5}, "time"), ({"boottime": -1}, "time")]
    if "pid" not in s or "mnt" not in s:
        out += [({"mount_proc": True}, "pid" if "pid" not in s else "mnt")]
    if "mnt" not in s and HAS_ROOTFS:
        out += [({"rootfs": True}, "mnt")]
    if "user" not in s:
        uid_map, gid_map = _own_maps()
        out += [({"uid_map": uid_map}, "user"), ({"gid_map": gid_map}, "user")]
    return out


class _Asked(Exception):
    """Raised by the stand-in helper: validation passed and the helper was asked."""


class _RecordingHelper:
    def __init__(self):
        self.specs = []

    def request(self, req, timeout=None):
        self.specs.append(req["spec"])
        raise _Asked


@pytest.fixture
def helper_must_not_be_asked(monkeypatch):
    def refuse():
        pytest.fail("the helper was asked before the request was refused")

    monkeypatch.setattr(_helper, "get_helper", refuse)


@pytest.fixture
def recording_helper(monkeypatch):
    rec = _RecordingHelper()
    monkeypatch.setattr(_helper, "get_helper", lambda: rec)
    return rec


@pytest.mark.parametrize("s", SUBSETS, ids=_ids)
def test_options_without_their_namespace_are_refused(s, helper_must_not_be_asked):
    for opts, needs in _refusals(s):
        with pytest.raises(nslab.UnsafeRequest) as info:
            nslab.spawn(sorted(s), **opts)
        err = info.value
        assert err.nstype == needs, (opts, err)
        assert needs in err.hint, err.hint  # "add 'uts' to the namespaces"
        # Whatever else is allowed, one unsafe option refuses the whole request.
        with pytest.raises(nslab.UnsafeRequest):
            nslab.spawn(sorted(s), **{**_allowed_options(s), **opts})


@pytest.mark.parametrize("s", SUBSETS, ids=_ids)
def test_allowed_options_pass_and_ask_for_exactly_s(s, recording_helper):
    with pytest.raises(_Asked):
        nslab.spawn(sorted(s), **_allowed_options(s))
    (spec,) = recording_helper.specs
    eff = _effective(s)
    assert spec["flags"] == flags_of(eff)
    assert set(spec["names"]) == eff
    # An option reaches the helper only together with the flag that scopes it.
    assert ("hostname" in spec) <= ("uts" in eff)
    assert ("monotonic" in spec or "boottime" in spec) <= ("time" in eff)
    assert spec["mount_proc"] <= ({"pid", "mnt"} <= eff)
    assert ("uid_map" in spec) == ("user" in eff)
    assert spec.get("rootfs", False) <= ("mnt" in eff)


def _stub_child(names, closed=True):
    """A Child object as veth() sees it, made without a process (veth checks namespaces first)."""
    c = object.__new__(nslab.Child)
    c.namespaces = tuple(names)
    c.pid = 0
    c._closed = closed
    c._dead = None
    return c


@pytest.mark.parametrize("s", SUBSETS, ids=_ids)
def test_veth_needs_net_on_both_ends(s, helper_must_not_be_asked, monkeypatch):
    monkeypatch.setattr(_api, "enter", lambda *a, **k: pytest.fail("veth ran ip before refusing"))
    names = sorted(_effective(s))
    full = _stub_child(TYPES, closed=False)  # open: only the end under test can be refused
    for a, b in ((_stub_child(names), full), (full, _stub_child(names))):
        if "net" in names:
            # Past the safety check, the stub (closed) is refused as gone: still no ip, no helper.
            with pytest.raises(nslab.ChildFailed):
                nslab.veth(a, b)
        else:
            with pytest.raises(nslab.UnsafeRequest) as info:
                nslab.veth(a, b)
            assert info.value.nstype == "net"


EXTRA_TRY_IT = ["--fork", "--kill-child", "--mount-proc", "--map-root-user", "--propagation", "private"]


@pytest.mark.parametrize("s", SUBSETS, ids=_ids)
def test_try_it_only_in_new_namespaces(s, monkeypatch):
    ran = []

    def fake_run(argv, **kw):
        ran.append(argv)
        raise _Asked

    monkeypatch.setattr(_tryit.subprocess, "run", fake_run)
    opts = [UNSHARE_OPT[t] for t in sorted(s)] + EXTRA_TRY_IT
    if not s:
        with pytest.raises(nslab.NsValueError):
            nslab.try_it(opts, "hostname x")
        with pytest.raises(nslab.NsValueError):
            nslab.try_it([], "hostname x")
        assert ran == []
    else:
        with pytest.raises(_Asked):
            nslab.try_it(opts, "hostname x")
        (argv,) = ran
        # unshare(1) gets every creating option asked for, and the script only after "--".
        sep = argv.index("--")
        assert {UNSHARE_OPT[t] for t in s} <= set(argv[:sep])
        assert argv[sep:] == ["--", "sh", "-c", "hostname x"]
        if PRIV != "root":
            assert "--user" in argv[:sep]


@pytest.mark.parametrize(
    "bad", [["--propagation", "shared"], ["--net=/proc/1/ns/net"], ["-n"], ["--uts", "--wd=/"], ["--setuid", "0"]]
)
def test_try_it_refuses_options_that_join_or_leak(bad, monkeypatch):
    monkeypatch.setattr(_tryit.subprocess, "run", lambda *a, **k: pytest.fail("unshare ran"))
    with pytest.raises(nslab.NsValueError):
        nslab.try_it(["--uts", *bad], "true")


# ---------------------------------------------------------------- a sample, spawned for real

_rng = random.Random(6)  # noqa: S311 -- a fixed sample, the same in every run and tier, not a secret
SAMPLE = sorted(
    {frozenset([t]) for t in TYPES}
    | {frozenset(TYPES)}
    | {frozenset(_rng.sample(TYPES, _rng.randint(2, 7))) for _ in range(6)},
    key=lambda s: (len(s), sorted(s)),
)


@pytest.mark.live
@pytest.mark.parametrize("s", SAMPLE, ids=_ids)
def test_sample_spawned_with_every_allowed_option(s):
    host = nslab.view()
    opts = _allowed_options(s)
    with nslab.spawn(sorted(s), **opts) as child:
        inside = child.view()
        eff = _effective(s)
        assert set(child.namespaces) == eff
        for t in TYPES:
            if t in eff:
                assert inside.ns[t] != host.ns[t], t
            else:
                assert inside.ns[t] == host.ns[t], t
        if "uts" in s:
            assert (inside.hostname, inside.domainname) == ("intent-box", "intent.example")
        else:
            assert inside.hostname == host.hostname
        if "time" in s:
            assert inside.offsets == {"monotonic": -1, "boottime": 3600}
        if opts.get("mount_proc"):
            assert inside.pid == 1 and inside.nspid == [1]
        if "user" in s:
            assert inside.uid_map == opts["uid_map"]
    assert os.uname().nodename == host.hostname
