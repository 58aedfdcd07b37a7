# %% [markdown]
# # 01 · UTS: a hostname of its own
#
# A UTS namespace holds two strings: the **hostname** (`uname -n`) and the
# **NIS domain name** (`uname` has no flag for it; `domainname` prints it).
# Nothing else. The name is a fossil ("UNIX Time-sharing System", the
# `struct utsname` that `uname(2)` fills in), but the idea is the clearest of
# the eight: a process in a new UTS namespace starts with a *copy* of its
# parent's two strings and from then on changes only its own copy.
#
# Reading: `uts_namespaces(7)`, `sethostname(2)`, `uname(2)`.
# Runs as an ordinary user too (the kit then adds a user namespace you own).
# About 10 minutes.

# %%
import socket

import nslab
import nslab.plots

print(nslab.NAMESPACES["uts"].man, "-", nslab.NAMESPACES["uts"].isolates)
# None: UTS children can be made here; otherwise the cause and the fix.
print(nslab.skip_reason(["uts"]) or "UTS namespaces work here")
HOST_HOSTNAME = socket.gethostname()  # kept, never printed: every later check compares with it

# %% [markdown]
# ## Try it: the article's terminal session
#
# The usual demonstration is interactive: `sudo unshare --uts bash`, then
# `hostname inside-ns` in that shell, then `hostname` in a second terminal on
# the host. `nslab.try_it` runs the same commands as one non-interactive
# `unshare --uts -- sh -c '…'`, so nothing ever touches this machine's own
# UTS namespace. (As an ordinary user it adds `--user --map-root-user`, as
# you would have to.)

# %%
t = nslab.try_it(["--uts"], "hostname inside-ns; hostname")
t

# %% [markdown]
# That shell is gone, and with it the only process in that UTS namespace, so
# the namespace is gone too. The "second terminal" is this kernel:

# %%
assert t.returncode == 0 and t.stdout.strip() == "inside-ns"
print("host hostname unchanged:", socket.gethostname() == HOST_HOSTNAME)
assert socket.gethostname() == HOST_HOSTNAME

# %% [markdown]
# ## The same thing, with nslab: host and child side by side
#
# `nslab.spawn(["uts"], hostname="lab-01")` makes a live child in a new UTS
# namespace (and nothing else new) and sets its hostname before anything runs
# there. `nslab.view()` reads what a process sees; `nslab.diff` puts two views
# side by side, one row per namespace type.
#
# The table shows this machine's hostname and namespace inode numbers, so its
# output differs on every machine; the next cell prints the part that does not.

# %% tags=["nbval-ignore-output"]
# output varies by machine: the host's hostname and namespace inodes
with nslab.spawn(["uts"], hostname="lab-01") as child:
    host, inside = nslab.view(), child.view()
    d = nslab.diff(host, inside, labels=("host", "child"))
    in_child = child.run(["hostname"]).stdout.strip()
d

# %% [markdown]
# Only the `uts` row is not shared. The child's `hostname` command (run by
# `child.run`, a process started inside the child like `docker run`'s) reads
# the child's copy:

# %%
print("child sees:", inside.hostname, "| hostname(1) inside prints:", in_child)
print("uts shared with the host:", bool(d.set_index("type").loc["uts", "shared"]))
print("host hostname unchanged:", socket.gethostname() == HOST_HOSTNAME)
assert inside.hostname == in_child == "lab-01"
assert inside.ns["uts"] != host.ns["uts"]  # (st_dev, st_ino) differ: another namespace
assert socket.gethostname() == HOST_HOSTNAME

# %% [markdown]
# The domain name travels with it: `spawn(["uts"], domainname="lab")` sets
# the NIS domain name of the child's copy, and `View.domainname` reads it.

# %%
with nslab.spawn(["uts"], hostname="lab-01", domainname="lab") as child:
    v = child.view()
    print("child:", v.hostname, "domain", v.domainname)
assert (v.hostname, v.domainname) == ("lab-01", "lab")

# %% [markdown]
# ## A figure: which namespaces moved
#
# One column per namespace type, one row per process. Same colour means same
# namespace; grey is the one most rows share. Only the `uts` column of the
# child gets its own colour.

# %%
with nslab.spawn(["uts"], hostname="lab-01") as child:
    host, inside = nslab.view(), child.view()
moved = [t for t in nslab.NAMESPACES if host.ns.get(t) != inside.ns.get(t)]
ax = nslab.plots.plot_ns_matrix({"host": host, "child (lab-01)": inside});
ax.set_xlabel("new here: " + ", ".join(moved))
assert "uts" in moved

# %% [markdown]
# ## Myth: "the kernel checks that a hostname is valid"
#
# It does not. `sethostname(2)` copies up to 64 bytes (`__NEW_UTS_LEN`) and
# that is all it checks: a newline, a space or an emoji are fine to the
# kernel (`uts_namespaces(7)`, `sethostname(2)`: only `EINVAL` for a length
# over the limit). The `hostname(1)` command refuses such names, but that is
# userspace being careful, not the kernel.
#
# The proof runs inside a UTS child, so the host's name is never at stake:
# Python's `socket.sethostname` is the bare system call.

# %%
import sys

PROBE = """
import socket
socket.sethostname("a\\nb")
print("kernel accepted:", repr(socket.gethostname()))
socket.sethostname("x" * 64)
print("64 bytes:", len(socket.gethostname()))
try:
    socket.sethostname("x" * 65)
except OSError as err:
    print("65 bytes:", err)
"""
with nslab.spawn(["uts"]) as child:
    r = child.run([sys.executable, "-c", PROBE])
print(r.stdout, end="")
assert "'a\\nb'" in r.stdout and "[Errno 22]" in r.stdout
assert socket.gethostname() == HOST_HOSTNAME

# %% [markdown]
# So validating is somebody's job, and in this kit it is the kit's: `spawn`
# checks a hostname (an RFC 1123 name of at most 64 bytes) in this process,
# before the helper is even asked to start anything, and says why it refuses.

# %%
for bad in ["a\nb", "x" * 65]:
    try:
        nslab.spawn(["uts"], hostname=bad)
    except nslab.NsValueError as err:
        print(type(err).__name__ + ":", err.message)
    else:
        raise AssertionError("the kit accepted " + repr(bad))

# %% [markdown]
# ## The live panel
#
# `UtsPanel` wraps the call above: toggle `uts`, type a hostname, and a fresh
# child is made for every change (the previous one is closed first). Type a
# name with a space in it and the field turns red with the kit's message;
# nothing is started. Turn `uts` off and the hostname field disappears: a
# child sharing the host's UTS namespace cannot be given a name.

# %% tags=["nbval-ignore-output"]
# output varies by session: widget state renders in the browser, and the panel shows host values
from nslab.widgets import UtsPanel

panel = UtsPanel(["uts"], hostname="lab-01")
panel

# %% [markdown]
# What the panel showed is also data (`panel.result` is the child's View,
# `panel.frames["diff"]` the table), which is how this cell checks it:

# %%
print("panel child sees:", panel.result.hostname)
print("uts shared:", bool(panel.frames["diff"].set_index("type").loc["uts", "shared"]))
assert panel.result.hostname == "lab-01"

# %% [markdown]
# ## Exercises
#
# **1.** Write `lab_child()` so that it returns a child whose hostname is
# `lab-01` while the host keeps its own. The check below spawns it, reads
# the child's hostname from inside and compares both namespaces.

# %% tags=["solution"]
def lab_child():
    return nslab.spawn(["uts"], hostname="lab-01")


# %%
with lab_child() as child:
    print(nslab.expect(child, new=["uts"], hostname="lab-01"))
assert socket.gethostname() == HOST_HOSTNAME

# %% [markdown]
# **2.** Now the other way round: a child that **shares** the host's UTS
# namespace (give it a new PID namespace instead). What would setting its
# hostname do? Ask the kit for it anyway and catch what it raises in
# `refused`; return the sharing child from `sharing_child()`.

# %% tags=["solution"]
def sharing_child():
    return nslab.spawn(["pid"])


try:
    nslab.spawn(["pid"], hostname="lab-02")
except nslab.UnsafeRequest as err:
    refused = err

# %%
with sharing_child() as child:
    print(nslab.expect(child, shared=["uts"], new=["pid"]))
print(type(refused).__name__ + ":", refused.message)
assert isinstance(refused, nslab.UnsafeRequest) and refused.nstype == "uts"
assert socket.gethostname() == HOST_HOSTNAME

# %% [markdown]
# It would have renamed the host: the child's UTS namespace *is* the host's,
# so `sethostname` there changes the one name every process on the machine
# reads. The kit refuses every option whose namespace is not new
# (`UnsafeRequest`, a `ValueError`), before anything starts.
#
# ## Summary
#
# - A UTS namespace is two strings, hostname and NIS domain name
#   (`uts_namespaces(7)`); a new one starts as a copy of its creator's.
# - Changing the copy changes nothing outside: the host's hostname was the
#   same after every cell here (checked, not assumed).
# - The kernel accepts any 64 bytes as a hostname; validation is userspace's
#   job (`hostname(1)`, or here the kit).
# - Setting a hostname is only safe in a namespace you made: with a shared
#   one it renames the machine, which is why `spawn` refuses.
#
# Next: `02-pid`, where a process gets two numbers at once.

# %%
panel.close()  # the panel's child lives until here
