"""Thin wrappers over the system calls the helper makes.

Python 3.12 has os.unshare/os.setns; 3.10 and 3.11 do not, so libc is called
through ctypes with use_errno=True (FACTS.md).  Every wrapper raises a plain
OSError; the caller translates it at its one error boundary.

Only the helper and its children call the state-changing ones (unshare, setns,
mount, sethostname...): the Jupyter kernel is threaded and must not.
"""

from __future__ import annotations

import ctypes
import os

# dlopen(NULL): the interpreter's own symbols, libc's among them.  Not
# ctypes.util.find_library, which imports shutil, tempfile and random into
# the helper, whose every fork then pays for them (random reseeds after fork).
_libc = ctypes.CDLL(None, use_errno=True)

# include/uapi/linux/mount.h
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MNT_DETACH = 2

# include/uapi/linux/prctl.h
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NAME = 15
PR_SET_CHILD_SUBREAPER = 36

# include/uapi/linux/nsfs.h: _IO(0xb7, n)
NS_GET_USERNS = 0xB701
NS_GET_PARENT = 0xB702
NS_GET_NSTYPE = 0xB703
NS_GET_OWNER_UID = 0xB704

_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 217, "riscv64": 41, "ppc64le": 203, "s390x": 217}.get(os.uname().machine)

_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
_libc.setdomainname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]


def _check(ret, what):
    if ret == -1:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")
    return ret


def _b(s):
    return None if s is None else os.fsencode(s)


def unshare(flags):
    if hasattr(os, "unshare"):
        os.unshare(flags)
    else:
        _check(_libc.unshare(flags), "unshare")


def setns(fd, nstype=0):
    if hasattr(os, "setns"):
        os.setns(fd, nstype)
    else:
        _check(_libc.setns(fd, nstype), "setns")


def mount(source, target, fstype, flags=0, data=None):
    _check(_libc.mount(_b(source), _b(target), _b(fstype), flags, _b(data)), f"mount {target}")


def umount2(target, flags=0):
    _check(_libc.umount2(_b(target), flags), f"umount {target}")


def sethostname(name):
    raw = os.fsencode(name)
    _check(_libc.sethostname(raw, len(raw)), "sethostname")


def setdomainname(name):
    raw = os.fsencode(name)
    _check(_libc.setdomainname(raw, len(raw)), "setdomainname")


def prctl(option, arg2=0, arg3=0, arg4=0, arg5=0):
    return _check(_libc.prctl(option, arg2, arg3, arg4, arg5), "prctl")


def set_pdeathsig(sig):
    prctl(PR_SET_PDEATHSIG, sig)


def set_subreaper():
    prctl(PR_SET_CHILD_SUBREAPER, 1)


def set_name(name):
    """The comm a `ps` shows (15 bytes at most)."""
    buf = ctypes.create_string_buffer(os.fsencode(name)[:15])
    _libc.prctl(PR_SET_NAME, ctypes.cast(buf, ctypes.c_void_p).value or 0, 0, 0, 0)


def pivot_root(new_root, put_old):
    if _SYS_PIVOT_ROOT is None:
        raise OSError(38, "pivot_root: unknown syscall number on this architecture")
    _libc.syscall.restype = ctypes.c_long
    _check(_libc.syscall(_SYS_PIVOT_ROOT, _b(new_root), _b(put_old)), "pivot_root")
