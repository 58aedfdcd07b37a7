"""Checks of every option a reader can type, done before any syscall.

The kernel accepts any 64 bytes as a hostname, newlines included
(uts_namespaces(7)), and an id map it silently truncates; so the kit decides
what is sane and says why when it is not.
"""

from __future__ import annotations

import itertools
import re
import time

from ._errors import NsValueError

__all__ = [
    "MAX_OFFSET",
    "check_hostname",
    "check_idmap",
    "check_ifname",
    "check_offset",
    "check_pid",
    "check_port",
]

_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")
HOST_NAME_MAX = 64  # __NEW_UTS_LEN, include/uapi/linux/utsname.h
IFNAMSIZ = 16  # include/uapi/linux/if.h, NUL included
MAX_OFFSET = 100 * 365 * 86400  # a century: far inside the kernel's KTIME_SEC_MAX / 2
ID_MAX = 4294967295  # (uid_t)-1 is not a valid id: ranges end below it
MAP_LINES_MAX = 340  # user_namespaces(7), since Linux 4.15


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _encode(text, what, nstype):
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise NsValueError(f"{what} {text!r} is not text the kernel could be given (a lone surrogate)", nstype=nstype) from None


def check_hostname(name, what="hostname"):
    """An RFC 1123 host name of at most 64 bytes; returned unchanged."""
    if not isinstance(name, str):
        raise NsValueError(f"{what} must be a string, got {type(name).__name__}", nstype="uts")
    hint = "use letters, digits and '-' in dot-separated labels of 1-63 characters (RFC 1123), at most 64 bytes"
    if not name:
        raise NsValueError(f"{what} is empty", nstype="uts", hint=hint)
    raw = _encode(name, what, "uts")
    if len(raw) > HOST_NAME_MAX:
        raise NsValueError(f"{what} is {len(raw)} bytes; the kernel allows {HOST_NAME_MAX}", nstype="uts", hint=hint)
    for label in name.split("."):
        if not _LABEL.match(label):
            raise NsValueError(f"{what} {name!r} is not an RFC 1123 name", nstype="uts", hint=hint)
    return name


def check_ifname(name):
    """A network interface name: 1-15 bytes, no '/', ':' or white space (dev_valid_name in net/core/dev.c)."""
    if not isinstance(name, str):
        raise NsValueError(f"an interface name must be a string, got {type(name).__name__}", nstype="net")
    raw = _encode(name, "an interface name", "net")
    hint = "1-15 bytes of letters, digits, '-', '_' or '.', not '.' or '..'"
    if not 1 <= len(raw) < IFNAMSIZ:
        raise NsValueError(f"interface name {name!r} is {len(raw)} bytes; 1-15 allowed", nstype="net", hint=hint)
    if name in (".", "..") or not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name.startswith("-"):
        raise NsValueError(f"interface name {name!r} is not allowed", nstype="net", hint=hint)
    return name


def check_port(port):
    if not _is_int(port) or not 1 <= port <= 65535:
        raise NsValueError(f"port must be an integer in 1-65535, got {port!r}", nstype="net")
    return port


def check_pid(pid):
    if not _is_int(pid) or pid <= 0:
        hint = "PID 0 is the kernel's idle task, not a process" if pid == 0 else "pass an int such as child.pid"
        raise NsValueError(f"a PID is a positive integer, got {pid!r}", hint=hint)
    return pid


def check_offset(value, clock):
    """A time namespace offset in whole seconds (time_namespaces(7))."""
    if clock not in ("monotonic", "boottime"):
        raise NsValueError(
            f"no offset for clock {clock!r}",
            nstype="time",
            hint="only CLOCK_MONOTONIC and CLOCK_BOOTTIME can be shifted; CLOCK_REALTIME never moves",
        )
    if not _is_int(value):
        raise NsValueError(f"{clock} offset must be an integer number of seconds, got {value!r}", nstype="time")
    if abs(value) > MAX_OFFSET:
        raise NsValueError(f"{clock} offset {value} s is beyond ±{MAX_OFFSET} s (a century)", nstype="time")
    if value < 0:
        now = time.clock_gettime(time.CLOCK_MONOTONIC if clock == "monotonic" else time.CLOCK_BOOTTIME)
        if now + value < 0:
            raise NsValueError(
                f"{clock} offset {value} s would make the clock negative (it reads {now:.0f} s)",
                nstype="time",
                hint="the kernel refuses offsets that put a clock below zero (ERANGE)",
            )
    return value


def check_idmap(m, what="uid_map"):
    """A list of (inside, outside, count): non-empty, non-negative, no overlaps (user_namespaces(7))."""
    if isinstance(m, (str, bytes)) or m is None:
        raise NsValueError(f"{what} must be a list of (inside, outside, count) tuples, got {m!r}", nstype="user")
    try:
        rows = [tuple(r) for r in m]
    except TypeError:
        raise NsValueError(f"{what} must be a list of (inside, outside, count) tuples, got {m!r}", nstype="user") from None
    if not rows:
        raise NsValueError(f"{what} is empty", nstype="user", hint="map at least one id, e.g. [(0, 1000, 1)]")
    if len(rows) > MAP_LINES_MAX:
        raise NsValueError(f"{what} has {len(rows)} lines; the kernel allows {MAP_LINES_MAX}", nstype="user")
    for r in rows:
        if len(r) != 3 or not all(_is_int(v) for v in r):
            raise NsValueError(f"{what} entry {r!r} is not three integers (inside, outside, count)", nstype="user")
        inside, outside, count = r
        if inside < 0 or outside < 0 or count < 1:
            raise NsValueError(f"{what} entry {r!r}: ids are >= 0 and count >= 1", nstype="user")
        if inside + count > ID_MAX or outside + count > ID_MAX:
            raise NsValueError(f"{what} entry {r!r} runs past the largest id {ID_MAX - 1}", nstype="user")
    for col, name in ((0, "inside"), (1, "outside")):
        spans = sorted((r[col], r[col] + r[2]) for r in rows)
        for (a0, a1), (b0, _b1) in itertools.pairwise(spans):
            if b0 < a1:
                raise NsValueError(f"{what} ranges overlap on the {name} side ({a0}-{a1 - 1} and from {b0})", nstype="user")
    return rows


def format_idmap(rows):
    return "".join(f"{i} {o} {c}\n" for i, o, c in rows)


def covered(current, want):
    """Whether every (start, count) in ``want`` exists in this user namespace.

    ``current`` is the caller's own uid_map or gid_map: its inside column lists
    the ids that exist here, and a child can map only those (user_namespaces(7)).
    """
    for start, count in want:
        if not any(i <= start and start + count <= i + c for i, _o, c in current):
            return False
    return True
