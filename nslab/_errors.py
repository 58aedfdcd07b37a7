"""The kit's exceptions: one hierarchy, each refining the builtin it is.

    NslabError(Exception)
    ├── NsValueError(NslabError, ValueError)        bad input, raised before any syscall
    │   └── UnsafeRequest                            would change a namespace shared with the host
    ├── NsPermissionError(NslabError, PermissionError)
    ├── NsUnsupportedError(NslabError, OSError)      the kernel or machine lacks it
    ├── NsLimitError(NslabError, OSError)            ENOSPC: a max_*_namespaces limit or depth
    ├── ChildFailed(NslabError, ChildProcessError)   the child died or its setup step failed
    │   └── ChildTimeout(ChildFailed, TimeoutError)
    ├── ParseError(NslabError, ValueError)           a /proc or netlink text was not as documented
    └── HelperError(NslabError, RuntimeError)        the fork-server helper misbehaved

Every error carries ``nstype`` (a /proc/PID/ns name or None), ``errno``
(or None), ``pid`` (or None), ``step`` (what was being done) and ``hint``
(the cause and what to do).  ``to_dict``/``from_dict`` let an error raised in
a child cross the helper's socket unchanged.
"""

from __future__ import annotations

import errno as _errno
import html
import os

__all__ = [
    "ChildFailed",
    "ChildTimeout",
    "HelperError",
    "NsLimitError",
    "NsPermissionError",
    "NsUnsupportedError",
    "NsValueError",
    "NslabError",
    "ParseError",
    "UnsafeRequest",
    "translate_oserror",
]


class NslabError(Exception):
    """Base of every error the kit raises on purpose."""

    def __init__(self, message, *, nstype=None, errno=None, pid=None, step=None, hint=None):
        super().__init__(message)
        self.message = message
        self.nstype = nstype
        self.errno = errno
        self.pid = pid
        self.step = step
        self.hint = hint

    # OSError subclasses set .errno themselves; keep ours authoritative.
    def __str__(self):
        parts = [self.message]
        if self.errno:
            parts.append(f"[{_errno.errorcode.get(self.errno, self.errno)}]")
        if self.hint:
            parts.append(f"— {self.hint}")
        return " ".join(parts)

    def __reduce__(self):
        return (_rebuild, (self.to_dict(),))

    def to_dict(self):
        return {
            "class": type(self).__name__,
            "message": self.message,
            "nstype": self.nstype,
            "errno": self.errno,
            "pid": self.pid,
            "step": self.step,
            "hint": self.hint,
        }

    @staticmethod
    def from_dict(d):
        cls = _CLASSES.get(d.get("class"), NslabError)
        return cls(
            d.get("message", "?"),
            nstype=d.get("nstype"),
            errno=d.get("errno"),
            pid=d.get("pid"),
            step=d.get("step"),
            hint=d.get("hint"),
        )

    def _fields(self):
        rows = []
        for key in ("nstype", "step", "errno", "pid"):
            val = getattr(self, key)
            if val is None:
                continue
            if key == "errno":
                val = f"{_errno.errorcode.get(val, val)} ({os.strerror(val)})"
            rows.append((key, val))
        return rows

    def _render_traceback_(self):
        # IPython prints these lines instead of a traceback: the cause and the fix are the message.
        lines = [f"{type(self).__name__}: {self.message}"]
        lines += [f"  {k}: {v}" for k, v in self._fields()]
        if self.hint:
            lines.append(f"  what to do: {self.hint}")
        return lines

    def _repr_html_(self):
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
            for k, v in self._fields()
        )
        hint = f"<p><b>What to do:</b> {html.escape(self.hint)}</p>" if self.hint else ""
        return (
            "<div style='border-left:4px solid #c0392b;padding:4px 8px'>"
            f"<b>{html.escape(type(self).__name__)}</b>: {html.escape(self.message)}"
            f"<table>{rows}</table>{hint}</div>"
        )


class NsValueError(NslabError, ValueError):
    """Bad input, found before anything was started."""


class UnsafeRequest(NsValueError):
    """The request would change a namespace the caller shares with the host."""


class NsPermissionError(NslabError, PermissionError):
    """The kernel (or a security module) refused."""


class NsUnsupportedError(NslabError, OSError):
    """This kernel or machine cannot do it at all (no CONFIG_TIME_NS, not Linux...)."""


class NsLimitError(NslabError, OSError):
    """ENOSPC: a user.max_*_namespaces limit, or the nesting depth, was reached."""


class ChildFailed(NslabError, ChildProcessError):
    """A child died, or a step of its setup failed."""


class ChildTimeout(ChildFailed, TimeoutError):
    """A child did not answer in time."""


class ParseError(NslabError, ValueError):
    """A /proc file or netlink message did not follow its documented format."""


class HelperError(NslabError, RuntimeError):
    """The single-threaded helper process died or broke the protocol."""


_CLASSES = {
    c.__name__: c
    for c in (
        NslabError,
        NsValueError,
        UnsafeRequest,
        NsPermissionError,
        NsUnsupportedError,
        NsLimitError,
        ChildFailed,
        ChildTimeout,
        ParseError,
        HelperError,
    )
}


def _rebuild(d):
    return NslabError.from_dict(d)


def _read_int(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _seccomp_mode():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Seccomp:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def _hint(err, nstype, step):
    """Name the usual cause of a failed namespace step and its fix (FACTS.md table)."""
    e = err
    limit = f"/proc/sys/user/max_{nstype}_namespaces" if nstype else None
    if e == _errno.ENOSPC:
        val = _read_int(limit) if limit else None
        if val == 0:
            return f"{limit} is 0 here: raise it (sysctl user.max_{nstype}_namespaces=1000) to allow {nstype} namespaces"
        return (
            f"a namespace limit was reached ({limit or 'user.max_*_namespaces'}) or user namespaces are "
            "nested 32 deep: raise the sysctl, or close other children"
        )
    if e in (_errno.EPERM, _errno.EACCES):
        if step and ("uid_map" in step or "gid_map" in step or "setgroups" in step):
            if _read_int("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == 1:
                return (
                    "AppArmor restricts unprivileged user namespaces "
                    "(kernel.apparmor_restrict_unprivileged_userns=1): run "
                    "'sysctl kernel.apparmor_restrict_unprivileged_userns=0' or give python an AppArmor profile that allows userns"
                )
            return "the id map was refused: an unprivileged writer may map only its own uid/gid, and must write 'deny' to setgroups first"
        if _seccomp_mode() == 2:
            return (
                "a seccomp filter refuses it (Seccomp: 2 in /proc/self/status, as under Docker's default profile or on Binder): "
                "run with a profile that allows unshare/setns/mount, or on a VM"
            )
        if _read_int("/proc/sys/kernel/unprivileged_userns_clone") == 0:
            return "kernel.unprivileged_userns_clone=0 (Debian): 'sysctl kernel.unprivileged_userns_clone=1', or run as root"
        if os.geteuid() != 0:
            return "an unprivileged caller needs a user namespace for this: include 'user', or run as root"
        return "refused although running as root: a security module (AppArmor, SELinux) or a container runtime forbids it"
    if e == _errno.EINVAL:
        if nstype == "time":
            return "this kernel has no time namespaces (needs Linux 5.6+ with CONFIG_TIME_NS; WSL2's kernel lacks it): the other demos still work"
        if nstype == "user":
            return "CLONE_NEWUSER from a threaded process: this is a bug in the kit (it must fork a single-threaded helper first)"
        return "the kernel rejected the arguments (an unsupported flag on this kernel?)"
    if e == _errno.ENOSYS:
        return "this kernel lacks the system call"
    if e == _errno.EUSERS:
        return "user namespaces are nested too deep (the kernel allows 32 levels)"
    return None


def translate_oserror(err, *, nstype=None, step=None, pid=None):
    """The one boundary where an OSError becomes the kit's error (raise it ``from err``)."""
    code = err.errno if isinstance(err, OSError) else err
    msg = f"{step or 'operation'} failed: {os.strerror(code) if code else err}"
    kw = dict(nstype=nstype, errno=code, pid=pid, step=step, hint=_hint(code, nstype, step))
    if code == _errno.ENOSPC:
        return NsLimitError(msg, **kw)
    if code in (_errno.EPERM, _errno.EACCES):
        return NsPermissionError(msg, **kw)
    if code in (_errno.ENOSYS,) or (code == _errno.EINVAL and nstype == "time"):
        return NsUnsupportedError(msg, **kw)
    if code == _errno.ESRCH:
        return ChildFailed(msg, **kw)
    return NslabError(msg, **kw)
