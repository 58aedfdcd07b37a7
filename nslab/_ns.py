"""The eight namespace types, as namespaces(7) lists them.

The order (uts, pid, net, mnt, ipc, user, time, cgroup) is the reading order
of the notebooks: the article's seven, then the one it forgot.
"""

from __future__ import annotations

from typing import NamedTuple

from ._errors import NsValueError

__all__ = ["CLONE_FLAGS", "NAMESPACES", "Namespace", "flags_of", "parse_namespaces"]


class Namespace(NamedTuple):
    name: str  # the /proc/PID/ns link name
    flag: int  # CLONE_NEW* (include/uapi/linux/sched.h)
    proc: str  # the /proc/PID/ns entry, same as name
    man: str  # the man page that documents it
    since: str  # the kernel release that completed it
    isolates: str  # one line: what a process gets its own copy of
    option: str  # the unshare(1) option that makes one

    def __repr__(self):
        return f"<Namespace {self.name} 0x{self.flag:08x} since Linux {self.since}>"


# Values from include/uapi/linux/sched.h; Python 3.12 has os.CLONE_NEW* too,
# but 3.10/3.11 do not, and the values never change.
CLONE_NEWTIME = 0x00000080
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

NAMESPACES = {
    ns.name: ns
    for ns in (
        Namespace("uts", CLONE_NEWUTS, "uts", "uts_namespaces(7)", "2.6.19", "hostname and NIS domain name", "--uts"),
        Namespace("pid", CLONE_NEWPID, "pid", "pid_namespaces(7)", "2.6.24", "process ID numbers (a new PID 1)", "--pid"),
        Namespace(
            "net",
            CLONE_NEWNET,
            "net",
            "network_namespaces(7)",
            "2.6.29",
            "network devices, addresses, routes, ports, firewall, /proc/net",
            "--net",
        ),
        Namespace("mnt", CLONE_NEWNS, "mnt", "mount_namespaces(7)", "2.4.19", "the mount table", "--mount"),
        Namespace(
            "ipc",
            CLONE_NEWIPC,
            "ipc",
            "ipc_namespaces(7)",
            "2.6.19",
            "System V IPC objects and POSIX message queues",
            "--ipc",
        ),
        Namespace(
            "user",
            CLONE_NEWUSER,
            "user",
            "user_namespaces(7)",
            "3.8",
            "user and group IDs, capabilities, keyrings",
            "--user",
        ),
        Namespace(
            "time",
            CLONE_NEWTIME,
            "time",
            "time_namespaces(7)",
            "5.6",
            "offsets of CLOCK_MONOTONIC and CLOCK_BOOTTIME",
            "--time",
        ),
        Namespace("cgroup", CLONE_NEWCGROUP, "cgroup", "cgroup_namespaces(7)", "4.6", "the cgroup root directory", "--cgroup"),
    )
}

CLONE_FLAGS = {name: ns.flag for name, ns in NAMESPACES.items()}

# Every /proc/PID/ns link: eight types, ten links (namespaces(7)).
NS_LINKS = ("cgroup", "ipc", "mnt", "net", "pid", "pid_for_children", "time", "time_for_children", "user", "uts")

_ALIASES = {"mount": "mnt", "ns": "mnt", "network": "net", "cgroups": "cgroup"}


def parse_namespaces(namespaces):
    """Normalise a namespace selection to a tuple in canonical order.

    Accepts an iterable of names, a comma-separated string, or "all".
    Unknown names raise NsValueError before anything happens.
    """
    if namespaces is None:
        return ()
    if isinstance(namespaces, str):
        if namespaces.strip() == "all":
            return tuple(NAMESPACES)
        items = [p.strip() for p in namespaces.split(",") if p.strip()]
    else:
        try:
            items = list(namespaces)
        except TypeError:
            raise NsValueError(f"namespaces must be names such as 'uts', got {namespaces!r}") from None
    chosen = set()
    for item in items:
        if not isinstance(item, str):
            raise NsValueError(f"a namespace name must be a string, got {item!r}")
        name = _ALIASES.get(item.strip().lower(), item.strip().lower())
        if name not in NAMESPACES:
            raise NsValueError(
                f"unknown namespace type {item!r}",
                hint=f"the eight types are: {', '.join(NAMESPACES)}",
            )
        chosen.add(name)
    return tuple(n for n in NAMESPACES if n in chosen)


def flags_of(names):
    """OR of the clone flags of the given (already parsed) names."""
    flags = 0
    for n in names:
        flags |= NAMESPACES[n].flag
    return flags
