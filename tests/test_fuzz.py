"""Bad input, property-based: every public option is either accepted exactly or refused with NsValueError first.

Each validator is compared with an independent statement of its rule (the
oracle functions below, written from the man pages and RFC 1123, not from
nslab._validate), and each refusal is shown to happen before the helper is
asked: ``nslab._helper.get_helper`` is replaced by a stand-in that fails the
test (or, for input that must pass, records the spec and stops there).  The
/proc parsers are fuzzed in tests/test_parse.py; here only what that file
leaves out (raw bytes, the table variants it does not pick, bad table names).

`make stress` sets NSLAB_STRESS=1, which multiplies every example count.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import string
import time

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import nslab
from nslab import _helper, _parse
from nslab._ns import _ALIASES, NAMESPACES, parse_namespaces
from nslab._validate import MAX_OFFSET, check_hostname, check_idmap, check_ifname, check_offset, check_pid, check_port

STRESS = int(os.environ.get("NSLAB_STRESS", "0") or 0)
PRIV = nslab.privilege()
TRIED = {"n": 0}


def n(base):
    """Examples for a property: ``base`` normally, 40x under `make stress`."""
    return base * 40 if STRESS else base


FAST = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module", autouse=True)
def _report_inputs():
    yield
    path = os.environ.get("NSLAB_STRESS_REPORT")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"inputs": TRIED["n"]}) + "\n")


def _tried():
    TRIED["n"] += 1


class _Asked(Exception):
    """The stand-in helper was asked: validation let the request through."""


class _Recorder:
    def __init__(self):
        self.reqs = []

    def request(self, req, timeout=None):
        self.reqs.append(req)
        raise _Asked


@contextlib.contextmanager
def _helper_refused():
    """Inside, asking the helper fails the test."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_helper, "get_helper", lambda: pytest.fail("the helper was asked before the input was refused"))
        yield


@contextlib.contextmanager
def _helper_recorded():
    rec = _Recorder()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_helper, "get_helper", lambda: rec)
        yield rec


# Strings meant to hurt: option-like, shell metacharacters, NUL, newline, non-ASCII, lone surrogates.
NASTY = [
    "-F/etc/shadow",
    "--help",
    "-",
    "a;reboot",
    "$(id)",
    "`id`",
    "a|b",
    "a&b",
    "a>b",
    "a b",
    "a\tb",
    "a\nb",
    "a\0b",
    "\0",
    "\n",
    "a'b",
    'a"b',
    "a\\b",
    "*",
    "?",
    "~root",
    "../../etc",
    "/",
    "a:b",
    "é",
    "١",
    "ß",
    "\u200b",
    "\udcff",
    "\ud800",
    "x" * 65,
    "a." * 32,
    ".",
    "..",
    "",
]


def _encodable(s):
    """Lone surrogates outside surrogateescape's range are left to test_lone_surrogates_are_value_errors."""
    try:
        s.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False
    return True


nasty = st.sampled_from([s for s in NASTY if _encodable(s)])
any_text = st.one_of(st.text(), st.text(alphabet=string.printable + "\0\udcffé", max_size=80), nasty).filter(_encodable)
non_str = st.one_of(st.integers(), st.floats(), st.binary(), st.lists(st.integers(), max_size=3), st.booleans())


# ---------------------------------------------------------------- hostnames (RFC 1123, <= 64 bytes)

ALNUM = frozenset(string.ascii_letters + string.digits)


def rfc1123(name):
    """RFC 1123 section 2.1 host name: dot-separated labels of 1-63 [A-Za-z0-9-], not starting or ending in '-'; <= 64 bytes (HOST_NAME_MAX)."""
    if not isinstance(name, str) or not name or not name.isascii() or len(name) > 64:
        return False
    for label in name.split("."):
        if not 1 <= len(label) <= 63 or label[0] == "-" or label[-1] == "-":
            return False
        if any(c not in ALNUM and c != "-" for c in label):
            return False
    return True


label = st.from_regex(r"\A[A-Za-z0-9]([A-Za-z0-9-]{0,20}[A-Za-z0-9])?\Z")
good_hostname = st.lists(label, min_size=1, max_size=4).map(".".join).filter(lambda s: len(s) <= 64)
hostname_like = st.one_of(any_text, good_hostname, st.text(alphabet="ab-.0Z", max_size=70))


@settings(max_examples=n(400), **FAST)
@given(name=hostname_like)
def test_hostname_accepted_iff_rfc1123(name):
    _tried()
    for what in ("hostname", "domainname"):
        if rfc1123(name):
            assert check_hostname(name, what) == name
            with _helper_recorded() as rec, pytest.raises(_Asked):
                nslab.spawn(["uts"], **{what: name})
            assert rec.reqs[0]["spec"][what] == name  # unchanged on its way to the helper
        else:
            with _helper_refused(), pytest.raises(nslab.NsValueError) as info:
                nslab.spawn(["uts"], **{what: name})
            assert info.value.nstype == "uts"


@settings(max_examples=n(50), **FAST)
@given(name=non_str)
def test_hostname_of_another_type_is_refused(name):
    _tried()
    with _helper_refused(), pytest.raises(nslab.NsValueError):
        nslab.spawn(["uts"], hostname=name)


@pytest.mark.live
@settings(max_examples=n(25), **FAST)
@given(name=good_hostname)
def test_accepted_hostnames_round_trip_into_the_child(name):
    _tried()
    outside = os.uname().nodename
    with nslab.spawn(["uts"], hostname=name, domainname=name) as child:
        inside = child.view()
        assert (inside.hostname, inside.domainname) == (name, name)
        assert child.run(["hostname"]).stdout == name + "\n"
    assert os.uname().nodename == outside


# ---------------------------------------------------------------- interface names, ports, PIDs


def kernel_ifname_ok(name):
    """dev_valid_name() in net/core/dev.c: 1..IFNAMSIZ-1 bytes, not '.' or '..', no '/', ':' or isspace()."""
    raw = name.encode("utf-8", "surrogatepass")
    return 1 <= len(raw) <= 15 and name not in (".", "..") and not any(c in "/: \t\n\v\f\r" for c in name)


def kit_ifname_ok(name):
    """The kit's stricter rule: the kernel's, and only [A-Za-z0-9_.-], not starting with '-' (no option-like names for ip(8))."""
    return kernel_ifname_ok(name) and re.fullmatch(r"[A-Za-z0-9_.-]+", name) is not None and not name.startswith("-")


@settings(max_examples=n(400), **FAST)
@given(name=st.one_of(any_text, st.text(alphabet="ab.-_:/ 0é", max_size=18)))
def test_ifname_accepted_iff_valid(name):
    _tried()
    if kit_ifname_ok(name):
        assert kernel_ifname_ok(name)
        assert check_ifname(name) == name
    else:
        with pytest.raises(nslab.NsValueError) as info:
            check_ifname(name)
        assert info.value.nstype == "net"


@settings(max_examples=n(50), **FAST)
@given(name=non_str)
def test_ifname_of_another_type_is_refused(name):
    _tried()
    with pytest.raises(nslab.NsValueError):
        check_ifname(name)


@settings(max_examples=n(300), **FAST)
@given(
    port=st.one_of(st.integers(), st.integers(-2, 65537), st.booleans(), st.floats(), st.text(max_size=6), st.none())
)
def test_port_accepted_iff_1_to_65535(port):
    _tried()
    ok = type(port) is int and 1 <= port <= 65535
    if ok:
        assert check_port(port) == port
    else:
        with pytest.raises(nslab.NsValueError):
            check_port(port)


def _pid_max():
    with open("/proc/sys/kernel/pid_max") as f:
        return int(f.read())


bad_pid = st.one_of(
    st.integers(max_value=0),
    st.booleans(),
    st.floats(),
    st.text(max_size=8),
    st.binary(max_size=4),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=n(200), **FAST)
@given(pid=bad_pid, argv=st.just(["true"]))
def test_bad_pids_refused_before_the_helper(pid, argv):
    _tried()
    assume(pid is not None)
    with _helper_refused():
        with pytest.raises(nslab.NsValueError):
            check_pid(pid)
        with pytest.raises(nslab.NsValueError):
            nslab.view(pid)
        with pytest.raises(nslab.NsValueError):
            nslab.enter(pid, argv)


@settings(max_examples=n(100), **FAST)
@given(pid=st.integers(min_value=_pid_max() + 1, max_value=2**80))
def test_pids_beyond_pid_max_are_no_process(pid):
    _tried()
    with _helper_refused():
        with pytest.raises(nslab.ChildFailed):
            nslab.view(pid)
        with pytest.raises(nslab.ChildFailed):
            nslab.enter(pid, ["true"])


@settings(max_examples=n(200), **FAST)
@given(argv=st.one_of(any_text, st.lists(any_text, max_size=4), st.lists(non_str, min_size=1, max_size=2)))
def test_argv_is_a_list_of_strings_without_nul(argv):
    _tried()
    ok = isinstance(argv, list) and argv and all(isinstance(a, str) and "\0" not in a for a in argv)
    assume(not ok)
    with _helper_refused(), pytest.raises(nslab.NsValueError):
        nslab.enter(os.getpid(), argv)


# ---------------------------------------------------------------- id maps (user_namespaces(7))

ID_LIMIT = 4294967295  # (uid_t)-1: not an id, so a range must end below it


def idmap_ok(m):
    """Kernel rules for a map: 1-340 lines of three non-negative ints, count >= 1, ranges below 2**32-1, none overlapping on either side."""
    if isinstance(m, (str, bytes)) or not isinstance(m, (list, tuple)):
        return False
    if not 1 <= len(m) <= 340:
        return False
    for r in m:
        if not isinstance(r, (list, tuple)) or len(r) != 3 or any(type(v) is not int for v in r):
            return False
        i, o, c = r
        if i < 0 or o < 0 or c < 1 or i + c > ID_LIMIT or o + c > ID_LIMIT:
            return False
    for col in (0, 1):
        for a in range(len(m)):
            for b in range(a + 1, len(m)):
                lo1, hi1 = m[a][col], m[a][col] + m[a][2]
                lo2, hi2 = m[b][col], m[b][col] + m[b][2]
                if lo1 < hi2 and lo2 < hi1:
                    return False
    return True


def _own(path):
    with open(path) as f:
        return [tuple(int(x) for x in line.split()) for line in f if line.strip()]


def owned(m, which):
    """Every outside range exists in the caller's own user namespace; an ordinary user may write only one line mapping itself."""
    own_id = os.geteuid() if which == "uid_map" else os.getegid()
    if PRIV == "user":
        return len(m) == 1 and m[0][1] == own_id and m[0][2] == 1
    mine = _own(f"/proc/self/{which}")
    return all(any(i <= o and o + c <= i + k for i, _x, k in mine) for _in, o, c in m)


edge = st.sampled_from(
    [0, 1, 65535, 65536, 100000, ID_LIMIT - 1, ID_LIMIT, ID_LIMIT + 1, -1, os.geteuid(), os.getegid()]
)
num = st.one_of(edge, st.integers(-3, 2**33), st.integers(0, 70000))
row = st.one_of(
    st.tuples(num, num, num),
    st.tuples(num, num),
    st.tuples(num, num, num, num),
    st.tuples(num, st.floats(), num),
    st.tuples(num, st.text(max_size=3), num),
)
idmap = st.one_of(
    st.lists(row, max_size=5),
    st.lists(st.tuples(num, num, st.integers(1, 10)), min_size=1, max_size=5),
    st.just([(0, os.geteuid(), 1)]),
    st.just([(0, 0, 1)]),
    st.just([(0, 100000, 65536)]),
    st.just([(0, 0, 1)] * 341),
    st.none(),
    st.text(max_size=8),
    st.integers(),
)


@settings(max_examples=n(500), **FAST)
@given(m=idmap, which=st.sampled_from(["uid_map", "gid_map"]))
def test_idmap_accepted_iff_valid_and_owned(m, which):
    _tried()
    if m is None:
        return  # None means "the default map"
    valid = idmap_ok(m)
    if valid:
        assert check_idmap(m, which) == [tuple(r) for r in m]
    else:
        with pytest.raises(nslab.NsValueError):
            check_idmap(m, which)
    if valid and owned(m, which):
        with _helper_recorded() as rec, pytest.raises(_Asked):
            nslab.spawn(["user"], **{which: m})
        text = rec.reqs[0]["spec"][which]
        assert [tuple(map(int, line.split())) for line in text.splitlines()] == [tuple(r) for r in m]
    else:
        with _helper_refused(), pytest.raises(nslab.NsValueError) as info:
            nslab.spawn(["user"], **{which: m})
        assert info.value.nstype == "user"


# ---------------------------------------------------------------- time offsets (time_namespaces(7))

clock_name = st.one_of(
    st.sampled_from(["monotonic", "boottime", "realtime", "tai", "MONOTONIC", "monotonic_raw", "boottime_alarm", ""]),
    st.text(max_size=10),
)
offset = st.one_of(
    st.integers(-MAX_OFFSET - 10, MAX_OFFSET + 10),
    st.integers(),
    st.sampled_from([0, 1, -1, MAX_OFFSET, MAX_OFFSET + 1, -MAX_OFFSET, 10**12, -(10**12)]),
    st.floats(),
    st.booleans(),
    st.text(max_size=5),
    st.none(),
    st.just(1.0),
)


@settings(max_examples=n(400), **FAST)
@given(value=offset, clock=clock_name)
def test_offset_accepted_iff_whole_seconds_in_range_for_a_movable_clock(value, clock):
    _tried()
    if clock in ("monotonic", "boottime") and type(value) is int and value < 0:
        now = time.clock_gettime(time.CLOCK_MONOTONIC if clock == "monotonic" else time.CLOCK_BOOTTIME)
        assume(abs(now + value) > 5)  # not at the moving edge "the clock would go negative"
        stays_positive = now + value > 0
    else:
        stays_positive = True
    ok = clock in ("monotonic", "boottime") and type(value) is int and abs(value) <= MAX_OFFSET and stays_positive
    if ok:
        assert check_offset(value, clock) == value
    else:
        with pytest.raises(nslab.NsValueError) as info:
            check_offset(value, clock)
        assert info.value.nstype == "time"
    if clock in ("monotonic", "boottime"):
        if ok:
            with _helper_recorded() as rec, pytest.raises(_Asked):
                nslab.spawn(["time"], **{clock: value})
            assert rec.reqs[0]["spec"].get(clock, 0) == value
        else:
            with _helper_refused(), pytest.raises(nslab.NsValueError):
                nslab.spawn(["time"], **{clock: value})


# ---------------------------------------------------------------- namespace names

spelled = st.sampled_from(
    [
        *NAMESPACES,
        *_ALIASES,
        "UTS",
        " net ",
        "Mount",
        "all",
        "pids",
        "usr",
        "",
        "uts,",
        ",",
        "cgroup2",
        "time_for_children",
    ]
)
selection = st.one_of(
    st.lists(spelled, max_size=9),
    st.lists(spelled, max_size=5).map(",".join),
    any_text,
    st.lists(st.one_of(spelled, non_str), max_size=3),
    st.integers(),
    st.just("all"),
    st.just(" all "),
    st.none(),
)


def expected_selection(sel):
    """What a selection names, by namespaces(7) link names plus the kit's documented aliases; None if it names something else."""
    if sel is None:
        return ()
    if isinstance(sel, str):
        if sel.strip() == "all":
            return tuple(NAMESPACES)
        items = [p for p in (x.strip() for x in sel.split(",")) if p]
    elif isinstance(sel, list):
        items = sel
    else:
        return None
    out = set()
    for it in items:
        if not isinstance(it, str):
            return None
        key = it.strip().lower()
        key = _ALIASES.get(key, key)
        if key not in NAMESPACES:
            return None
        out.add(key)
    return tuple(t for t in NAMESPACES if t in out)


@settings(max_examples=n(400), **FAST)
@given(sel=selection)
def test_namespace_names(sel):
    _tried()
    want = expected_selection(sel)
    if want is None:
        with pytest.raises(nslab.NsValueError):
            parse_namespaces(sel)
        with _helper_refused(), pytest.raises(nslab.NsValueError):
            nslab.spawn(sel)
    else:
        assert parse_namespaces(sel) == want


# ---------------------------------------------------------------- run()/enter() options (found by this file)


@pytest.mark.parametrize(
    "env",
    [{"A": "x\0y"}, {"A\0": "x"}, {"A=B": "x"}],
    ids=["nul-in-value", "nul-in-key", "equals-in-key"],
)
def test_bad_env_refused_before_the_helper(env):
    """env reaches subprocess in the child unchecked; like argv it must be refused here (found by this file)."""
    with _helper_refused(), pytest.raises(nslab.NsValueError):
        nslab.enter(os.getpid(), ["true"], env=env)


@pytest.mark.parametrize("cwd", ["/tm\0p", 5, b"/tmp"], ids=["nul", "int", "bytes"])
def test_bad_cwd_refused_before_the_helper(cwd):
    """Child.run(cwd=...) is checked by the same function as argv, nslab._api._run_request."""
    from nslab._api import _run_request

    with pytest.raises(nslab.NsValueError):
        _run_request(["true"], 10.0, None, cwd, None)


@pytest.mark.live
def test_bad_run_option_does_not_kill_the_child():
    """A bad env reaching the child must come back as an error, not end the child (its _serve caught only NslabError/OSError)."""
    with nslab.spawn(["uts"], hostname="survivor") as child:
        with pytest.raises(nslab.NslabError) as info:
            child.run(["true"], env={"A": "x\0y"})
        assert isinstance(info.value, nslab.NsValueError), f"{type(info.value).__name__}: {info.value}"
        assert child.view().hostname == "survivor"  # still serving


@pytest.mark.live
def test_missing_cwd_is_not_reported_as_a_missing_command():
    with nslab.spawn(["uts"]) as child:
        with pytest.raises(nslab.ChildFailed) as info:
            child.run(["true"], cwd="/nonexistent-nslab-dir")
        assert "command not found" not in str(info.value), str(info.value)


@pytest.mark.parametrize("name", ["\ud800", "a\udfffb", "\udc7f"])
def test_lone_surrogates_are_value_errors(name):
    """Strings that cannot be encoded (lone surrogates outside surrogateescape's U+DC80-U+DCFF) are bad input, not a UnicodeEncodeError."""
    for check in (check_hostname, check_ifname):
        with pytest.raises(nslab.NsValueError):
            check(name)


@pytest.mark.live
@settings(max_examples=n(20), **FAST)
@given(
    arg=st.one_of(
        nasty.filter(lambda s: "\0" not in s and not any(0xD800 <= ord(c) <= 0xDFFF for c in s)),
        st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=30),
    )
)
def test_argv_reaches_the_child_literally(arg):
    """No shell anywhere: metacharacters, option-like strings and newlines arrive as one argument, unchanged."""
    _tried()
    with nslab.spawn(["uts"]) as child:
        r = child.run(["printf", "%s", arg])
        assert (r.returncode, r.stdout) == (0, arg)


# ---------------------------------------------------------------- parsers: what test_parse.py leaves out

PARSERS = {
    "ns_link": _parse.parse_ns_link,
    "status": _parse.parse_status,
    "stat": _parse.parse_stat,
    "idmap": _parse.parse_idmap,
    "setgroups": _parse.parse_setgroups,
    "mountinfo": _parse.parse_mountinfo,
    "cgroup": _parse.parse_cgroup,
    "timens": _parse.parse_timens_offsets,
    "uptime": _parse.parse_uptime,
    "kv": _parse.parse_kv,
    **{f"sysvipc-{k}": functools.partial(_parse.parse_sysvipc, k) for k in ("shm", "msg", "sem")},
    **{f"net-{p}": functools.partial(_parse.parse_proc_net_sockets, p) for p in ("tcp", "tcp6", "udp", "udp6")},
}


def _only_parse_error(fn, data):
    try:
        out = fn(data)
    except nslab.ParseError:
        return
    json.dumps(out)


@pytest.mark.parametrize("which", sorted(PARSERS))
@settings(max_examples=n(60), **FAST)
@given(data=st.one_of(st.binary(max_size=300), st.binary(max_size=40).map(lambda b: b"0 " + b + b"\n")))
def test_parsers_fed_raw_bytes(which, data):
    """/proc is read as bytes by some callers: random bytes, not only text, give ParseError or a result."""
    _tried()
    _only_parse_error(PARSERS[which], data)


@settings(max_examples=n(100), **FAST)
@given(kind=any_text, text=st.text(max_size=50))
def test_table_names_not_known_are_parse_errors(kind, text):
    _tried()
    for fn, known in (
        (_parse.parse_sysvipc, ("shm", "msg", "sem")),
        (_parse.parse_proc_net_sockets, ("tcp", "tcp6", "udp", "udp6", "raw", "raw6", "udplite", "udplite6")),
    ):
        if kind in known:
            continue
        with pytest.raises(nslab.ParseError):
            fn(kind, text)
