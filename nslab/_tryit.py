"""try_it(): the article's shell commands, run non-interactively in new namespaces.

A learner's terminal session (``sudo unshare --uts bash`` then typing) becomes
one ``unshare(1) ... -- sh -c SCRIPT`` process whose SCRIPT is a literal
written in the notebook.  Its options come from an allow-list; as an
ordinary user ``--user --map-root-user`` is added, as the article's readers
would have to.  Nothing runs against the host's namespaces: every option
creates a namespace.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from typing import NamedTuple

from ._errors import NsUnsupportedError, NsValueError

__all__ = ["Transcript", "skip_reason", "try_it"]

# unshare(1) options that create namespaces or shape how; never one that joins the host's.
_FLAGS = {
    "--uts", "--pid", "--net", "--mount", "--ipc", "--user", "--time", "--cgroup",
    "--fork", "--mount-proc", "--map-root-user", "--kill-child",
}
_VALUED = {"--boottime", "--monotonic", "--propagation"}
_CREATES = {"--uts", "--pid", "--net", "--mount", "--ipc", "--user", "--time", "--cgroup"}


class Transcript(NamedTuple):
    """What a terminal would have shown: the command, its output, its status."""

    argv: tuple
    returncode: int
    stdout: str
    stderr: str

    def __repr__(self):
        lines = ["$ " + shlex.join(self.argv)]
        lines += [self.stdout.rstrip("\n")] if self.stdout else []
        lines += [self.stderr.rstrip("\n")] if self.stderr else []
        if self.returncode:
            lines.append(f"[exit status {self.returncode}]")
        return "\n".join(lines)


def try_it(options, script, *, timeout=10.0):
    """Run ``unshare OPTIONS -- sh -c SCRIPT``; returns a Transcript."""
    from ._api import privilege

    if isinstance(options, str) or not all(isinstance(o, str) for o in options):
        raise NsValueError(f"options must be a list of unshare(1) options, got {options!r}")
    opts = list(options)
    i = 0
    while i < len(opts):
        o = opts[i]
        if o in _VALUED:
            if i + 1 >= len(opts) or (not opts[i + 1].lstrip("-").isdigit() and o != "--propagation"):
                raise NsValueError(f"{o} needs a value")
            if o == "--propagation" and opts[i + 1] not in ("private", "slave", "unchanged"):
                raise NsValueError("--propagation takes private, slave or unchanged (never shared: it would leak to the host)")
            i += 2
            continue
        if o not in _FLAGS:
            raise NsValueError(f"unshare option {o!r} is not one try_it allows", hint=f"use some of {sorted(_FLAGS | _VALUED)}")
        i += 1
    if not _CREATES & set(opts):
        raise NsValueError("try_it runs commands only inside new namespaces: give at least one of " + ", ".join(sorted(_CREATES)))
    if not isinstance(script, str) or "\0" in script:
        raise NsValueError("script must be a string without NUL bytes")
    try:
        script.encode("utf-8")
    except UnicodeEncodeError:
        raise NsValueError("script is not UTF-8 text (a lone surrogate)") from None
    if shutil.which("unshare") is None:
        raise NsUnsupportedError("unshare(1) is missing", hint="install util-linux")
    if privilege() != "root" and "--user" not in opts:
        opts = ["--user", "--map-root-user", *opts]
    if "--fork" in opts and "--kill-child" not in opts:
        opts.append("--kill-child")  # nothing the script starts outlives it
    argv = ("unshare", *opts, "--", "sh", "-c", script)
    try:
        p = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as err:
        raise NsValueError(f"the commands did not finish within {timeout} s", hint="try_it is for commands that end") from err
    # Show what the reader would type (without the added flags' noise for root).
    return Transcript(argv, p.returncode, p.stdout, p.stderr)


_REASONS = {}


def skip_reason(namespaces):
    """None when a child in these namespaces can be made here; else the cause and the fix, for a cell to print."""
    from ._api import spawn
    from ._errors import NslabError
    from ._ns import parse_namespaces

    key = parse_namespaces(namespaces)
    if key not in _REASONS:
        try:
            opts = {"monotonic": 1} if "time" in key else {}
            with spawn(key, **opts):
                pass
            _REASONS[key] = None
        except NslabError as err:
            _REASONS[key] = f"skipped here: {err.message}" + (f" — {err.hint}" if err.hint else "")
    return _REASONS[key]
