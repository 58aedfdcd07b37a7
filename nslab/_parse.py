"""Pure parsers for the /proc texts the kit reads.

Each parser takes one file's whole text (``str``; ``bytes`` are decoded as
UTF-8 with ``surrogateescape``) and returns plain data that survives
``json.dumps``: dicts with fixed, documented keys, lists, ints, strs, and
tuples where the docstring says so.  Nothing here does I/O, so a child in
another namespace can read a file and the parent can parse it.

Every input that does not follow the kernel's documented format raises
:class:`~nslab._errors.ParseError` naming the file and the line; no
IndexError, ValueError, KeyError or UnicodeError escapes.  The ``source``
keyword lets a reader put the real path (``/proc/4242/status``) in that
message.

Numbers are read with an ASCII-only pattern first: ``int()`` alone would take
``" 1"``, ``"1_000"``, ``"+1"`` and ``"١"`` (Arabic-Indic one), none of which
the kernel ever prints.
"""

from __future__ import annotations

import re
import socket
import sys

from ._errors import NsValueError, ParseError

__all__ = [
    "TCP_STATES",
    "format_timens_offsets",
    "parse_cgroup",
    "parse_idmap",
    "parse_kv",
    "parse_mountinfo",
    "parse_ns_link",
    "parse_proc_net_sockets",
    "parse_setgroups",
    "parse_stat",
    "parse_status",
    "parse_sysvipc",
    "parse_timens_offsets",
    "parse_uptime",
]

_UDEC = re.compile(r"[0-9]+")
_SDEC = re.compile(r"-?[0-9]+")
_HEX = re.compile(r"[0-9A-Fa-f]+")
_OCT = re.compile(r"[0-7]+")


# -- helpers -------------------------------------------------------------------


def _fail(source, lineno, what, line=None):
    where = f"{source} line {lineno}" if lineno else source
    msg = f"{where}: {what}"
    if line is not None:
        msg += f" in {line[:120]!r}"
    raise ParseError(msg, step=f"parse {source}")


def _text(text, source):
    if isinstance(text, (bytes, bytearray, memoryview)):
        return bytes(text).decode("utf-8", "surrogateescape")
    if not isinstance(text, str):
        raise ParseError(f"{source}: expected text, got {type(text).__name__}", step=f"parse {source}")
    return text


def _num(s, pattern, base, source, lineno, what, line=None):
    if pattern.fullmatch(s) is None:
        _fail(source, lineno, f"{what} is not a number ({s[:40]!r})", line)
    try:
        return int(s, base)
    except ValueError:  # more digits than sys.get_int_max_str_digits()
        _fail(source, lineno, f"{what} is too long", line)


def _uint(s, source, lineno, what, line=None):
    return _num(s, _UDEC, 10, source, lineno, what, line)


def _sint(s, source, lineno, what, line=None):
    return _num(s, _SDEC, 10, source, lineno, what, line)


def _hex(s, source, lineno, what, line=None):
    return _num(s, _HEX, 16, source, lineno, what, line)


def _lines(text):
    """(lineno, line) for each non-empty line; lineno counts from 1."""
    return [(i, line) for i, line in enumerate(text.split("\n"), 1) if line]


# -- /proc/PID/ns --------------------------------------------------------------

_NS_LINK = re.compile(r"([a-z_]+):\[([0-9]+)\]")


def parse_ns_link(text, *, source="/proc/PID/ns link"):
    """Split a namespace link target, namespaces(7): ``"uts:[4026531838]"``.

    Returns the tuple ``(type, inode)``, e.g. ``("uts", 4026531838)``.  The
    inode alone is not an identity: pair it with the nsfs st_dev.
    """
    text = _text(text, source).strip()
    m = _NS_LINK.fullmatch(text)
    if m is None:
        _fail(source, None, "not of the form type:[inode]", text)
    return (m[1], _uint(m[2], source, None, "inode", text))


# -- /proc/PID/status ----------------------------------------------------------

# proc(5): Name is escaped by the kernel: "\n" -> "\\n" and "\\" -> "\\\\",
# nothing else (a tab stays a tab).  See fs/proc/array.c proc_task_name().
_NAME_ESC = re.compile(r"\\(.)", re.DOTALL)


def _unescape_name(s):
    return _NAME_ESC.sub(lambda m: {"n": "\n", "\\": "\\"}.get(m[1], m[0]), s)


_STATUS_REQUIRED = ("Name", "State", "Pid", "PPid", "Uid", "Gid")


def parse_status(text, *, source="/proc/PID/status"):
    """Parse ``/proc/PID/status``, proc(5).

    Keys (a line the kernel does not print gives ``None``; kernels before 4.1
    lack the NS* lines, before 3.8 Seccomp, before 4.10 NoNewPrivs):

    - ``name`` (str): the comm, unescaped (``\\n`` and ``\\\\``).
    - ``state`` (str): the one-letter state, ``"R"``, ``"S"``...
    - ``tgid``, ``pid``, ``ppid``, ``tracerpid`` (int), as seen from the
      PID namespace of the procfs being read.
    - ``uid``, ``gid`` (list of 4 ints): real, effective, saved, filesystem.
    - ``groups`` (list of int): supplementary groups.
    - ``nstgid``, ``nspid``, ``nspgid``, ``nssid`` (list of int): the id in
      each PID namespace from the procfs's own down to the process's; the
      leftmost entry matches ``pid`` (pid_namespaces(7)).  An id the inner
      namespace cannot see (a session leader outside it) shows as 0.
    - ``threads`` (int), ``seccomp`` (int: 0 off, 1 strict, 2 filter),
      ``no_new_privs`` (int 0/1).
    - ``cap_eff``, ``cap_prm``, ``cap_bnd`` (int): capability bit masks
      (capabilities(7)), printed by the kernel in hex.
    """
    text = _text(text, source)
    raw = {}
    for lineno, line in _lines(text):
        key, sep, value = line.partition(":")
        if not sep or not key:
            _fail(source, lineno, "no 'Key:' field", line)
        raw.setdefault(key, (lineno, line, value))
    for key in _STATUS_REQUIRED:
        if key not in raw:
            _fail(source, None, f"no {key}: line (not a status file?)")

    def get(key, conv):
        if key not in raw:
            return None
        lineno, line, value = raw[key]
        return conv(value, lineno, line, key)

    def one_int(value, lineno, line, key):
        return _uint(value.strip(), source, lineno, key, line)

    def int_list(value, lineno, line, key):
        return [_uint(v, source, lineno, key, line) for v in value.split()]

    def four_ints(value, lineno, line, key):
        ids = int_list(value, lineno, line, key)
        if len(ids) != 4:
            _fail(source, lineno, f"{key} needs 4 ids (real, effective, saved, fs)", line)
        return ids

    def cap(value, lineno, line, key):
        return _hex(value.strip(), source, lineno, key, line)

    def state(value, lineno, line, key):
        parts = value.split()
        if not parts or len(parts[0]) != 1:
            _fail(source, lineno, "State is not a letter", line)
        return parts[0]

    def name(value, lineno, line, key):
        # Only the one separating tab goes: a comm may itself start with a tab.
        return _unescape_name(value[1:] if value.startswith("\t") else value)

    return {
        "name": get("Name", name),
        "state": get("State", state),
        "tgid": get("Tgid", one_int),
        "pid": get("Pid", one_int),
        "ppid": get("PPid", one_int),
        "tracerpid": get("TracerPid", one_int),
        "uid": get("Uid", four_ints),
        "gid": get("Gid", four_ints),
        "groups": get("Groups", int_list),
        "nstgid": get("NStgid", int_list),
        "nspid": get("NSpid", int_list),
        "nspgid": get("NSpgid", int_list),
        "nssid": get("NSsid", int_list),
        "threads": get("Threads", one_int),
        "seccomp": get("Seccomp", one_int),
        "cap_eff": get("CapEff", cap),
        "cap_prm": get("CapPrm", cap),
        "cap_bnd": get("CapBnd", cap),
        "no_new_privs": get("NoNewPrivs", one_int),
    }


# -- /proc/PID/stat ------------------------------------------------------------


def parse_stat(text, *, source="/proc/PID/stat"):
    """Parse ``/proc/PID/stat``, proc(5).

    The comm (field 2) is printed raw between parentheses: it may hold
    spaces, parentheses and even a newline, so it runs from the first ``(``
    to the LAST ``)``.  Keys:

    - ``pid`` (int, field 1), ``comm`` (str, field 2), ``state`` (str, 3),
    - ``ppid``, ``pgrp``, ``session``, ``tty_nr`` (int, fields 4-7),
    - ``num_threads`` (int, field 20),
    - ``starttime`` (int, field 22): clock ticks after boot
      (``os.sysconf("SC_CLK_TCK")``), shifted by a time namespace's boottime.
    """
    text = _text(text, source)
    lp = text.find("(")
    rp = text.rfind(")")
    if lp < 0 or rp < lp:
        _fail(source, 1, "no (comm) field", text)
    head = text[:lp]
    if not head.endswith(" "):
        _fail(source, 1, "no space before (comm)", text)
    pid = _uint(head[:-1], source, 1, "pid", text)
    rest = text[rp + 1 :].split()
    if len(rest) < 20:  # fields 3..22
        _fail(source, 1, f"only {len(rest) + 2} fields, need 22", text)

    def field(n, what):
        return _sint(rest[n - 3], source, 1, what, text)

    return {
        "pid": pid,
        "comm": text[lp + 1 : rp],
        "state": rest[0],
        "ppid": field(4, "ppid"),
        "pgrp": field(5, "pgrp"),
        "session": field(6, "session"),
        "tty_nr": field(7, "tty_nr"),
        "num_threads": field(20, "num_threads"),
        "starttime": field(22, "starttime"),
    }


# -- user namespaces -----------------------------------------------------------


def parse_idmap(text, *, source="/proc/PID/uid_map"):
    """Parse ``uid_map`` or ``gid_map``, user_namespaces(7).

    Returns a list of tuples ``(inside, outside, count)``: ids
    ``inside..inside+count-1`` in the namespace are ``outside..`` in the
    namespace of the process that opened the file.  An empty file (no map
    written yet) gives ``[]``.  ``unshare --map-root-user`` run by uid 1000
    gives ``[(0, 1000, 1)]``; the initial namespace ``[(0, 0, 4294967295)]``.
    """
    text = _text(text, source)
    out = []
    for lineno, line in _lines(text):
        parts = line.split()
        if len(parts) != 3:
            _fail(source, lineno, "need 'inside outside count'", line)
        out.append(
            tuple(_uint(p, source, lineno, w, line) for p, w in zip(parts, ("inside", "outside", "count"), strict=True))
        )
    return out


def parse_setgroups(text, *, source="/proc/PID/setgroups"):
    """Parse ``/proc/PID/setgroups``, user_namespaces(7): ``"allow"`` or ``"deny"``."""
    text = _text(text, source)
    value = text.strip()
    if value not in ("allow", "deny"):
        _fail(source, 1, "neither 'allow' nor 'deny'", text)
    return value


# -- /proc/PID/mountinfo -------------------------------------------------------

# proc(5): the kernel escapes space, tab, newline and backslash as \ooo
# (fs/proc_namespace.c uses seq_escape with " \t\n\\").
_OCTAL_ESC = re.compile(r"\\([0-3][0-7]{2})")
_DEV = re.compile(r"[0-9]+:[0-9]+")


def _unescape_octal(s):
    return _OCTAL_ESC.sub(lambda m: chr(int(m[1], 8)), s)


def parse_mountinfo(text, *, source="/proc/PID/mountinfo"):
    """Parse ``/proc/PID/mountinfo``, proc(5) (and mount_namespaces(7)).

    One dict per mount, in the kernel's order, with keys:

    - ``mount_id``, ``parent_id`` (int); ``dev`` (str ``"maj:min"``);
    - ``root`` (str): the path inside the filesystem that is mounted;
    - ``mount_point`` (str); ``mount_options`` (str, per-mount, comma list);
    - ``optional`` (list of str): the tags, e.g. ``["shared:1", "master:2"]``;
    - ``propagation`` (str): ``"private"`` with no tags, else the tags joined
      by a space (``"shared:1 master:2"``, ``"unbindable"``);
    - ``fstype`` (str, ``type.subtype`` for FUSE); ``source`` (str);
    - ``super_options`` (str, per-superblock, comma list).

    ``root``, ``mount_point`` and ``source`` are unescaped (``\\040`` space,
    ``\\011`` tab, ``\\012`` newline, ``\\134`` backslash).  Fields are split
    at single spaces, not runs: a mount whose source is the empty string
    prints as two spaces (``- tmpfs  rw``) and gives ``source == ""``.
    """
    text = _text(text, source)
    out = []
    for lineno, line in _lines(text):
        f = line.split(" ")
        try:
            sep = f.index("-", 6)
        except ValueError:
            _fail(source, lineno, "no ' - ' separator after field 6", line)
        if len(f) - sep - 1 != 3:
            _fail(source, lineno, "need fstype, source and super options after ' - '", line)
        optional = f[6:sep]
        if "" in optional or "" in f[:6] or not f[sep + 1]:
            _fail(source, lineno, "empty field", line)
        if _DEV.fullmatch(f[2]) is None:
            _fail(source, lineno, "dev is not maj:min", line)
        out.append(
            {
                "mount_id": _uint(f[0], source, lineno, "mount ID", line),
                "parent_id": _uint(f[1], source, lineno, "parent ID", line),
                "dev": f[2],
                "root": _unescape_octal(f[3]),
                "mount_point": _unescape_octal(f[4]),
                "mount_options": f[5],
                "optional": optional,
                "propagation": " ".join(optional) if optional else "private",
                "fstype": f[sep + 1],
                "source": _unescape_octal(f[sep + 2]),
                "super_options": f[sep + 3],
            }
        )
    return out


# -- /proc/PID/cgroup ----------------------------------------------------------


def parse_cgroup(text, *, source="/proc/PID/cgroup"):
    """Parse ``/proc/PID/cgroup``, proc(5) and cgroups(7).

    Returns a list of tuples ``(hierarchy_id, controllers, path)``; the v2
    line is ``(0, "", "/...")``.  The path may contain ``:`` (split at most
    twice).  In a cgroup namespace the path is relative to the namespace's
    root (cgroup_namespaces(7)).  A removed v2 cgroup is printed with a
    ``" (deleted)"`` suffix (kernel/cgroup/cgroup.c), kept here as is.
    """
    text = _text(text, source)
    out = []
    for lineno, line in _lines(text):
        parts = line.split(":", 2)
        if len(parts) != 3:
            _fail(source, lineno, "need 'id:controllers:path'", line)
        out.append((_uint(parts[0], source, lineno, "hierarchy ID", line), parts[1], parts[2]))
    return out


# -- time namespaces -----------------------------------------------------------

# time_namespaces(7): Linux 5.6 printed the clock ids 1 and 7; later kernels
# print names.  Writes accept both.
_CLOCKS = {"monotonic": "monotonic", "1": "monotonic", "boottime": "boottime", "7": "boottime"}
_CLOCK_IDS = {"monotonic": 1, "boottime": 7}
_NSEC = 1_000_000_000


def parse_timens_offsets(text, *, source="/proc/PID/timens_offsets"):
    """Parse ``/proc/PID/timens_offsets``, time_namespaces(7).

    Lines are ``<clock> <secs> <nanosecs>``, clock ``monotonic``/``boottime``
    (or the ids 1/7 of Linux 5.6).  Returns ``{"monotonic": ns,
    "boottime": ns}``: total nanoseconds, negative when the namespace's
    clocks run behind.  The kernel keeps nanosecs in 0..999999999, so -1.5 s
    reads ``-2 500000000``.  A clock the file does not list has offset 0.
    """
    text = _text(text, source)
    out = {}
    for lineno, line in _lines(text):
        parts = line.split()
        if len(parts) != 3:
            _fail(source, lineno, "need '<clock> <secs> <nanosecs>'", line)
        clock = _CLOCKS.get(parts[0])
        if clock is None:
            _fail(source, lineno, f"unknown clock {parts[0][:20]!r}", line)
        if clock in out:
            _fail(source, lineno, f"{clock} listed twice", line)
        secs = _sint(parts[1], source, lineno, "seconds", line)
        nsecs = _uint(parts[2], source, lineno, "nanoseconds", line)
        if nsecs >= _NSEC:
            _fail(source, lineno, "nanoseconds not below 10**9", line)
        out[clock] = secs * _NSEC + nsecs
    return {"monotonic": out.get("monotonic", 0), "boottime": out.get("boottime", 0)}


def format_timens_offsets(offsets, *, numeric=False):
    """The text to write to ``/proc/PID/timens_offsets``, time_namespaces(7).

    ``offsets`` maps ``"monotonic"`` and/or ``"boottime"`` to nanoseconds
    (int, may be negative).  One line per clock, ``monotonic 5 0``; the
    nanosecond part is kept in 0..999999999 and negative offsets carry the
    sign on the seconds, as the kernel requires (-1.5 s is ``-2 500000000``;
    the kernel answers EINVAL otherwise).  ``numeric=True`` writes the clock
    ids 1 and 7 instead of names.  Raises NsValueError on bad input.
    """
    if not isinstance(offsets, dict):
        raise NsValueError(f"timens offsets must be a dict, not {type(offsets).__name__}")
    unknown = set(offsets) - set(_CLOCK_IDS)
    if unknown:
        raise NsValueError(
            f"only monotonic and boottime can be offset, not {sorted(map(str, unknown))}",
            nstype="time",
            hint="CLOCK_REALTIME is never namespaced (time_namespaces(7))",
        )
    lines = []
    for clock in ("monotonic", "boottime"):
        if clock not in offsets:
            continue
        ns = offsets[clock]
        if isinstance(ns, bool) or not isinstance(ns, int):
            raise NsValueError(f"{clock} offset must be an int of nanoseconds, not {ns!r}", nstype="time")
        secs, nsecs = divmod(ns, _NSEC)  # floor division: nsecs is never negative
        lines.append(f"{_CLOCK_IDS[clock] if numeric else clock} {secs} {nsecs}\n")
    return "".join(lines)


# -- /proc/sysvipc -------------------------------------------------------------

_IPC_ID = {"shm": "shmid", "msg": "msqid", "sem": "semid"}


def parse_sysvipc(kind, text, *, source=None):
    """Parse ``/proc/sysvipc/shm``, ``msg`` or ``sem``, proc(5) and sysvipc(7).

    The first line names the columns; each further line is one object, a
    dict keyed by those names with int values, plus ``id`` (the
    shmid/msqid/semid) and ``kind`` (``"shm"``, ``"msg"``, ``"sem"``).
    Columns today: ``key`` (signed: keys with the high bit set print
    negative), the id, ``perms``, ``uid``, ``gid``, ``cuid``, ``cgid``, and
    per kind ``size cpid lpid nattch atime dtime ctime rss swap`` (shm),
    ``cbytes qnum lspid lrpid stime rtime ctime`` (msg), ``nsems otime ctime``
    (sem).  ``perms`` is printed in OCTAL (``600``) and returned as the mode
    int (``0o600 == 384``).  The tables show the reader's IPC namespace.
    """
    if kind not in _IPC_ID:
        raise ParseError(f"unknown System V IPC kind {kind!r}: use shm, msg or sem", step="parse /proc/sysvipc")
    source = source or f"/proc/sysvipc/{kind}"
    text = _text(text, source)
    lines = text.split("\n")
    header = lines[0].split()
    idcol = _IPC_ID[kind]
    for col in ("key", idcol, "perms"):
        if col not in header:
            _fail(source, 1, f"header has no {col!r} column", lines[0])
    if len(set(header)) != len(header):
        _fail(source, 1, "header names a column twice", lines[0])
    out = []
    for lineno, line in enumerate(lines[1:], 2):
        if not line:
            continue
        values = line.split()
        if len(values) != len(header):
            _fail(source, lineno, f"{len(values)} values for {len(header)} columns", line)
        row = {}
        for col, val in zip(header, values, strict=True):
            if col == "perms":
                row[col] = _num(val, _OCT, 8, source, lineno, col, line)
            else:
                row[col] = _sint(val, source, lineno, col, line)
        row["id"] = row[idcol]
        row["kind"] = kind
        out.append(row)
    return out


# -- /proc/net/tcp and friends -------------------------------------------------

# include/net/tcp_states.h; UDP reuses them (07 CLOSE = unconnected,
# 01 ESTABLISHED = connected).
TCP_STATES = {
    0x01: "ESTABLISHED",
    0x02: "SYN_SENT",
    0x03: "SYN_RECV",
    0x04: "FIN_WAIT1",
    0x05: "FIN_WAIT2",
    0x06: "TIME_WAIT",
    0x07: "CLOSE",
    0x08: "CLOSE_WAIT",
    0x09: "LAST_ACK",
    0x0A: "LISTEN",
    0x0B: "CLOSING",
    0x0C: "NEW_SYN_RECV",
    0x0D: "BOUND_INACTIVE",
}
_SOCK_PROTOS = ("tcp", "tcp6", "udp", "udp6", "udplite", "udplite6", "raw", "raw6")


def _sock_addr(s, family, byteorder, source, lineno, line):
    addr, sep, port = s.partition(":")
    width = 8 if family == socket.AF_INET else 32
    if not sep or len(addr) != width or len(port) != 4:
        _fail(source, lineno, "address is not HEX:PORT of the protocol's width", line)
    # The kernel prints each 32-bit word of the network-order address with
    # "%08X" as a host-order integer: on little-endian x86 127.0.0.1 reads
    # 0100007F.  Re-pack each word in the host's order to get the bytes back.
    words = [_hex(addr[i : i + 8], source, lineno, "address", line) for i in range(0, width, 8)]
    packed = b"".join(w.to_bytes(4, byteorder) for w in words)
    return socket.inet_ntop(family, packed), _hex(port, source, lineno, "port", line)


def parse_proc_net_sockets(proto, text, *, byteorder=sys.byteorder, source=None):
    """Parse ``/proc/net/tcp``, ``tcp6``, ``udp``, ``udp6``, proc(5).

    One dict per socket with keys ``proto`` (str), ``local_addr`` and
    ``remote_addr`` (str: dotted IPv4, or compressed IPv6 such as ``"::1"``
    and ``"::ffff:10.1.2.3"`` for v4-mapped), ``local_port``,
    ``remote_port`` (int), ``state`` (str: ``"LISTEN"``, ``"ESTABLISHED"``...,
    ``"UNKNOWN(n)"`` for a code this table lacks), ``uid`` and ``inode``
    (int; the inode matches ``socket:[inode]`` in ``/proc/PID/fd``).

    The kernel prints addresses as 32-bit words in the host's byte order
    (``%08X`` of each ``__be32``), ports in plain hex.  ``byteorder`` is the
    order of the machine that printed the text (default: this one's), so a
    fixture from x86 parses the same on a big-endian host with
    ``byteorder="little"``.  The tables list the reader's network namespace.
    """
    if proto not in _SOCK_PROTOS:
        raise ParseError(f"unknown /proc/net table {proto!r}", step="parse /proc/net")
    if byteorder not in ("little", "big"):
        raise ParseError(f"byteorder must be 'little' or 'big', not {byteorder!r}", step="parse /proc/net")
    source = source or f"/proc/net/{proto}"
    family = socket.AF_INET6 if proto.endswith("6") else socket.AF_INET
    text = _text(text, source)
    lines = text.split("\n")
    if not lines[0].lstrip().startswith("sl"):
        _fail(source, 1, "no 'sl local_address ...' header", lines[0])
    out = []
    for lineno, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        f = line.split()
        if len(f) < 10 or not f[0].endswith(":"):
            _fail(source, lineno, "need 'sl: local remote st ... uid timeout inode'", line)
        laddr, lport = _sock_addr(f[1], family, byteorder, source, lineno, line)
        raddr, rport = _sock_addr(f[2], family, byteorder, source, lineno, line)
        if len(f[3]) != 2:
            _fail(source, lineno, "state is not two hex digits", line)
        code = _hex(f[3], source, lineno, "state", line)
        out.append(
            {
                "proto": proto,
                "local_addr": laddr,
                "local_port": lport,
                "remote_addr": raddr,
                "remote_port": rport,
                "state": TCP_STATES.get(code, f"UNKNOWN({code})"),
                "uid": _uint(f[7], source, lineno, "uid", line),
                "inode": _uint(f[9], source, lineno, "inode", line),
            }
        )
    return out


# -- small files ---------------------------------------------------------------

_UPTIME = re.compile(r"([0-9]+\.[0-9]+) ([0-9]+\.[0-9]+)")


def parse_uptime(text, *, source="/proc/uptime"):
    """Parse ``/proc/uptime``, proc(5).

    Returns ``{"uptime": float, "idle": float}`` in seconds.  ``uptime`` is
    CLOCK_BOOTTIME, so a time namespace's boottime offset moves it
    (time_namespaces(7)); ``idle`` is summed over all CPUs and can exceed it.
    """
    text = _text(text, source)
    m = _UPTIME.fullmatch(text.strip())
    if m is None:
        _fail(source, 1, "need '<uptime> <idle>' in seconds", text)
    return {"uptime": float(m[1]), "idle": float(m[2])}


def parse_kv(text, *, source="key-value file"):
    """Read a ``Key: value`` file (``/proc/meminfo``, ``/proc/PID/status``...).

    Returns a dict of str to str with the value stripped; empty lines are
    skipped, the first of two equal keys wins, a line without ``:`` is a
    ParseError.  No units are interpreted.
    """
    text = _text(text, source)
    out = {}
    for lineno, line in _lines(text):
        key, sep, value = line.partition(":")
        key = key.strip()
        if not sep or not key:
            _fail(source, lineno, "no 'Key:' field", line)
        out.setdefault(key, value.strip())
    return out
