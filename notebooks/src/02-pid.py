# %% [markdown]
# # 02 · PID: one process, two numbers
#
# A PID namespace numbers processes. The first process in a new one is
# **PID 1** there, its children are 2, 3, …, and every one of them also has
# its ordinary number in the parent namespace (and in every ancestor: PID
# namespaces nest). The kernel keeps all the numbers at once; `getpid()`
# returns the one of the caller's own namespace.
#
# Reading: `pid_namespaces(7)`, and in `proc(5)` the `NSpid:` line of
# `/proc/PID/status`, which is the translation table itself.
# Runs as an ordinary user too (the kit then adds a user namespace you own).
# About 15 minutes.

# %%
import os
import shutil

import nslab
import nslab.plots

print(nslab.NAMESPACES["pid"].man, "-", nslab.NAMESPACES["pid"].isolates)
# None: PID children can be made here; otherwise the cause and the fix.
print(nslab.skip_reason(["pid", "mnt"]) or "PID namespaces (with a fresh /proc) work here")

# %% [markdown]
# ## Try it: PID 1, and a `ps` that sees only its own
#
# The article's session is `sudo unshare --pid --fork --mount-proc bash`,
# then `echo $$` and `ps aux` inside. Here it is as one non-interactive
# command (`ps -e -o pid,comm` keeps the output to what matters):

# %%
t = nslab.try_it(["--pid", "--fork", "--mount-proc"], "echo $$; ps -e -o pid,comm")
t

# %%
lines = t.stdout.split()
print("the shell is PID", lines[0], "| processes ps sees:", (len(t.stdout.splitlines()) - 2))
assert t.returncode == 0 and lines[0] == "1"
assert t.stdout.splitlines()[2:] == ["      1 sh", "      2 ps"]

# %% [markdown]
# ## The translation table: `NSpid`
#
# `nslab.spawn(["pid", "mnt"])` makes a child whose init is PID 1 of a new
# PID namespace, with a fresh `/proc` mounted in its new mount namespace.
# `child.pid` is that init's number on the host; `child.pid_inside` is its
# number inside. `child.start` starts more processes inside (here two
# `sleep`s), and `pid_translation_frame` scans the host's `/proc` for every
# process in the child's PID namespace, reading each one's `NSpid:` line:
# leftmost the host's number, rightmost the child's.
#
# The host numbers change on every run, so the table is not compared; the
# cell after it prints the inside numbers, which do not.

# %% tags=["nbval-ignore-output"]
# output varies by run: host PIDs
with nslab.spawn(["pid", "mnt"]) as child:
    started = [child.start(["sleep", "30"]) for _ in range(2)]
    frame = nslab.plots.pid_translation_frame(child)
    with open(f"/proc/{child.pid}/status") as f:
        nspid_line = next(line for line in f if line.startswith("NSpid:"))
    inside_ps = child.run(["ps", "-e", "-o", "pid,comm"]).stdout
print(f"host PID {child.pid} is PID {child.pid_inside} inside;", "its", " ".join(nspid_line.split()))
frame

# %%
print("inside numbers:", list(zip(frame["name"], frame["ns_pid"].tolist())))
print("NSpid chain length:", sorted({len(c) for c in frame["nspid"]}))
print("ps inside:")
print(inside_ps, end="")
assert child.pid_inside == 1 and frame["ns_pid"].tolist()[0] == 1
assert nspid_line.split()[1:] == [str(child.pid), "1"]  # host's number first (proc(5))
assert set(started) <= set(frame["ns_pid"].tolist())

# %% [markdown]
# The same process, twice numbered: the figure joins each process's host PID
# to its PID inside. (Host numbers differ on your machine.)

# %%
with nslab.spawn(["pid", "mnt"]) as child:
    for _ in range(2):
        child.start(["sleep", "30"])
    frame = nslab.plots.pid_translation_frame(child)
    ax = nslab.plots.plot_pid_translation(frame);
assert frame["ns_pid"].tolist() == [1, 2, 3]
assert (frame["host_pid"] != frame["ns_pid"]).all()

# %% [markdown]
# ## Myth: "`--fork` is needed because the OCI spec mandates it"
#
# Nothing in the OCI runtime spec is involved: `unshare --pid bash` fails on
# a bare kernel with no container anywhere. The reason is the kernel's own
# rule (`pid_namespaces(7)`, `unshare(2)`): `unshare(CLONE_NEWPID)` does
# **not** move the caller. The caller keeps its PID namespace for life; only
# its *next child* becomes PID 1 of the new one. When that child exits, the
# namespace has lost its init, and every later `fork()` into it fails with
# `ENOMEM`.
#
# Without `--fork`, `unshare(1)` calls `unshare(2)` and then `exec`s the
# shell, so the shell is the caller. Watch which process gets PID 1 (`[` and
# `echo` are shell built-ins, so only the two `sh -c` start children):

# %%
SCRIPT = (
    '[ $$ = 1 ] && echo "the shell is PID 1" || echo "the shell is not PID 1"; '
    'sh -c "echo first child is PID \\$\\$"; '
    'sh -c "echo second child is PID \\$\\$"'
)
without = nslab.try_it(["--pid"], SCRIPT)
without

# %%
with_fork = nslab.try_it(["--pid", "--fork"], SCRIPT)
with_fork

# %%
assert without.returncode != 0 and "first child is PID 1" in without.stdout
assert "second child" not in without.stdout
assert with_fork.returncode == 0 and with_fork.stdout.splitlines() == [
    "the shell is PID 1",
    "first child is PID 2",
    "second child is PID 3",
]
print("without --fork, the first child was init and the second never started:", "Cannot fork" in without.stderr)

# %% [markdown]
# `dash` (the `sh` here) says only "Cannot fork"; `bash`, the shell of the
# article's session, names the errno. The third command is a built-in, so
# that `bash` cannot quietly replace itself with the second `ls` instead of
# forking it:

# %%
if shutil.which("bash") is None:
    print("skipped here: no bash on this machine; the dash transcript above shows the same failure")
else:
    t = nslab.try_it(["--pid"], 'exec bash -c "ls >/dev/null; ls >/dev/null; true"')
    print(t.stderr, end="")
    assert os.strerror(12) in t.stderr  # ENOMEM: "Cannot allocate memory"

# %% [markdown]
# So `--fork` makes `unshare(1)` fork once after `unshare(2)`, and the shell
# is that first child: PID 1, for as long as the session lasts. Container
# runtimes do the same for the same reason. nslab's helper does it too: its
# setup process unshares, then forks the init you get as `child`.
#
# ## The trap: a PID namespace without a fresh `/proc`
#
# `ps` does not ask the kernel for processes; it reads `/proc`. A `/proc` is
# a mount of one PID namespace's view, made when it was mounted. A child
# with a new PID namespace but the host's mount table still sees the host's
# `/proc`: it *is* PID 1, and yet `ps` lists every process on the machine.
# This is why the kit mounts a fresh `/proc` whenever `pid` and `mnt` are
# both new (and why containers always pair them).

# %%
me = os.getpid()  # this Jupyter kernel, in the host's numbering
with nslab.spawn(["pid"]) as shared_proc:
    ps_shared = shared_proc.run(["ps", "-e", "-o", "pid="]).stdout.split()
    sh_shared = shared_proc.run(["sh", "-c", "echo $$"]).stdout.strip()
    v_shared = shared_proc.view()
with nslab.spawn(["pid", "mnt"]) as fresh_proc:
    ps_fresh = fresh_proc.run(["ps", "-e", "-o", "pid="]).stdout.split()
    v_fresh = fresh_proc.view()
print("pid only:  child is PID", v_shared.pid, "| ps lists this kernel's host PID:", str(me) in ps_shared,
      "| NSpid has", len(v_shared.nspid), "entries")
print("pid + mnt: child is PID", v_fresh.pid, "| ps lists", ps_fresh, "| NSpid", v_fresh.nspid)
print("yet getpid() inside the pid-only child is the inside number:", int(sh_shared) < 10)
assert v_shared.pid == v_fresh.pid == 1
assert str(me) in ps_shared and len(ps_shared) > len(ps_fresh)
assert len(v_shared.nspid) == 2 and v_fresh.nspid == [1]

# %% [markdown]
# `NSpid` tells the same story from inside: its leftmost entry is relative to
# the PID namespace of *whoever mounted the procfs being read* (`proc(5)`).
# Through the host's `/proc` the child reads its own line as
# `host-number 1`; through its own `/proc`, just `1`. Only the fresh `/proc`
# is the view a container promises. `getpid()` was right all along: the
# system call does not go through `/proc`.
#
# ## The live panel
#
# `PidPanel` is the call above with toggles: `pid`, `mnt` and "fresh /proc".
# Turn `mnt` off and watch the fresh /proc option disappear, and the table
# keep the child's number 1 while its NSpid grows a host entry.

# %% tags=["nbval-ignore-output"]
# output varies by session: widget state renders in the browser, and the panel shows host PIDs
from nslab.widgets import PidPanel

panel = PidPanel(["pid", "mnt"])
panel

# %%
print("panel child sees itself as PID", panel.result.pid, "with NSpid", panel.result.nspid)
print("translation rows inside:", panel.frames["pid_translation"]["ns_pid"].tolist())
assert panel.result.pid == 1 and panel.result.nspid == [1]

# %% [markdown]
# ## Exercises
#
# **1.** Write `fresh_child()` so that it returns a child whose init is PID 1
# and sees a fresh `/proc` (so its `NSpid` is just `[1]`).

# %% tags=["solution"]
def fresh_child():
    return nslab.spawn(["pid", "mnt"])


# %%
with fresh_child() as child:
    print(nslab.expect(child, new=["pid", "mnt"], pid=1, nspid=[1]))

# %% [markdown]
# **2.** From the host side only: given the child's PID namespace (an
# `NsRef`, whose `dev` and `ino` are the namespace's identity), write
# `host_pid_of_init(pidns)` that scans the host's `/proc` and returns the
# host PID of the process that is PID 1 there. No kit calls: `os.stat` of
# `/proc/PID/ns/pid` and the `NSpid:` line of `/proc/PID/status` suffice.

# %% tags=["solution"]
def host_pid_of_init(pidns):
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            st = os.stat(f"/proc/{entry}/ns/pid")
            with open(f"/proc/{entry}/status") as f:
                nspid = next(line.split()[1:] for line in f if line.startswith("NSpid:"))
        except (OSError, StopIteration):
            continue  # gone meanwhile, or not ours to read
        if (st.st_dev, st.st_ino) == (pidns.dev, pidns.ino) and nspid[-1] == "1":
            return int(nspid[0])
    return None


# %%
with nslab.spawn(["pid", "mnt"]) as child:
    found = host_pid_of_init(child.view().ns["pid"])
    print("found the child's init:", found == child.pid)
    # nslab.view(pid) reads that process from the host's side: PID 1 of a PID namespace of its own.
    print(nslab.expect(nslab.view(found), new=["pid"], pid=1))
assert found == child.pid

# %% [markdown]
# ## Summary
#
# - A PID namespace gives processes a second number; PID 1 is the first
#   process in it (`pid_namespaces(7)`). Both numbers exist at once, listed
#   in `NSpid:` (`proc(5)`).
# - `unshare(CLONE_NEWPID)` moves only the caller's next child. `--fork` is
#   kernel semantics, not an OCI rule: without it the first command becomes
#   init, and once it exits every fork fails with `ENOMEM`.
# - `ps` reads `/proc`: a PID namespace without a fresh `/proc` (in its own
#   mount namespace) still shows the host's processes. Pair `pid` with `mnt`.
#
# Next: `03-net`, a network stack of one's own.

# %%
panel.close()  # the panel's child lives until here
