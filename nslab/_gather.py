"""Gather what one process sees, as raw texts: the cheap half of a View.

This runs inside children (the helper's reader, a child's init), so it only
reads: no parsing beyond what must be done where the data lives (netlink
answers and clocks exist only in the reading process's namespaces), and no
pandas.  `View` parses lazily on the caller's side.

Live parts (hostname, System V IPC, links and routes, clocks) describe the
namespaces of the *calling* process; file parts describe ``proc/pid``.
Callers put themselves into the right namespaces first (the helper does, by
setns, for a foreign pid).
"""

from __future__ import annotations

import errno
import os
import time

from ._ns import NS_LINKS

FILES = ("status", "uid_map", "gid_map", "setgroups", "mountinfo", "cgroup", "timens_offsets")
SYSVIPC = ("shm", "msg", "sem")


def _read(path):
    # os.read, not open(): no buffer objects on the hot path of every view.
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks).decode("utf-8", "surrogateescape")


def _reason(err):
    return f"{errno.errorcode.get(err.errno, err.errno)}: {err.strerror}"


def read_ns(pid="self", proc="/proc"):
    """{link: (st_dev, st_ino) or None} for the ten /proc/PID/ns links; reasons for the missing ones."""
    out, errors = {}, {}
    base = f"{proc}/{pid}/ns/"
    for link in NS_LINKS:
        try:
            st = os.stat(base + link)
            out[link] = [st.st_dev, st.st_ino]
        except OSError as err:
            out[link] = None
            # pid_for_children is unreadable until the first child exists;
            # time links are absent on kernels before 5.6 (namespaces(7)).
            errors[f"ns.{link}"] = _reason(err)
    return out, errors


def gather(pid="self", proc="/proc", live=True):
    """Everything a View needs, as JSON-friendly raw data."""
    errors = {}
    data = {"pid": os.getpid() if pid == "self" else pid, "proc_pid": pid, "errors": errors}
    data["ns"], nserr = read_ns(pid, proc)
    if not any(data["ns"].values()):
        # Nothing readable: the process is gone (or /proc is not procfs).
        raise ProcessLookupError(errno.ESRCH, f"{proc}/{pid}/ns: {next(iter(nserr.values()), 'unreadable')}")
    errors.update(nserr)
    base = f"{proc}/{pid}/"
    files = {}
    for name in FILES:
        try:
            files[name] = _read(base + name)
        except OSError as err:
            files[name] = None
            errors[name] = _reason(err)
    data["files"] = files
    if live:
        data.update(gather_live())
        errors.update(data.pop("live_errors"))
        data["mqueue"], reason = _mqueue(base, files.get("mountinfo"))
        if reason:
            errors["mqueue"] = reason
    return data


def gather_live():
    """The parts that only the calling process's own namespaces can answer."""
    errors = {}
    data = {}
    u = os.uname()
    data["uts"] = {"nodename": u.nodename, "sysname": u.sysname, "release": u.release, "machine": u.machine}
    try:
        data["uts"]["domainname"] = _read("/proc/sys/kernel/domainname").rstrip("\n")
    except OSError as err:
        data["uts"]["domainname"] = None
        errors["domainname"] = _reason(err)
    ipc = {}
    for kind in SYSVIPC:
        try:
            ipc[kind] = _read(f"/proc/sysvipc/{kind}")
        except OSError as err:
            ipc[kind] = None
            errors[f"sysvipc.{kind}"] = _reason(err)
    data["sysvipc"] = ipc
    try:
        from . import _netlink

        data["net"] = {
            "links": _netlink.dump_links(),
            "addrs": _netlink.dump_addrs(),
            "routes": _netlink.dump_routes(),
        }
    except (OSError, ImportError, ValueError) as err:  # ValueError: the kit's ParseError
        data["net"] = None
        errors["net"] = f"{type(err).__name__}: {err}"
    data["clocks"] = {
        "monotonic": time.clock_gettime_ns(time.CLOCK_MONOTONIC),
        "boottime": time.clock_gettime_ns(time.CLOCK_BOOTTIME),
        "realtime": time.clock_gettime_ns(time.CLOCK_REALTIME),
    }
    data["creds"] = {"euid": os.geteuid(), "egid": os.getegid()}
    data["live_errors"] = errors
    return data


def _mqueue(base, mountinfo):
    """POSIX message queues, when an mqueue filesystem is mounted at /dev/mqueue in that mount namespace.

    The mqueue fs shows the queues of the IPC namespace of whoever mounted it
    (mq_overview(7)), so a listing through a mount made by another IPC
    namespace would lie; callers compare namespaces before trusting it.
    """
    if not mountinfo:
        return None, "no mountinfo"
    mounted = False
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) > 4 and fields[4] == "/dev/mqueue" and " - mqueue " in line:
            mounted = True
    if not mounted:
        return None, "no mqueue filesystem mounted at /dev/mqueue"
    try:
        return sorted(os.listdir(base + "root/dev/mqueue")), None
    except OSError as err:
        return None, _reason(err)
