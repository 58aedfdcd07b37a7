# %% [markdown]
# # 00 · The mechanism: what a namespace is, on your kernel
#
# A namespace is a kernel object that wraps one global resource (the
# hostname, the process numbers, the network stack, …) so that the processes
# inside it see their own instance. Every process is in exactly one
# namespace of each type at every moment, and `/proc/PID/ns/` says which.
# This notebook shows the machinery that the other nine take for granted:
# how a namespace is named, how one is made or joined, what this machine
# allows, how to find every namespace on it, and how the kit itself works.
#
# Reading: `namespaces(7)`, `clone(2)`, `unshare(2)`, `setns(2)`,
# `ioctl_ns(2)`, `lsns(8)`. Runs as an ordinary user. About 15 minutes.

# %%
import os

import nslab
import nslab.plots


def ns_links(pid="self"):
    """{link: readlink target} of /proc/PID/ns: what `ls -l /proc/PID/ns` shows."""
    return {link: os.readlink(f"/proc/{pid}/ns/{link}") for link in sorted(os.listdir(f"/proc/{pid}/ns"))}


KERNEL_NS = ns_links()  # this Jupyter kernel's namespaces now; compared again at the end

# %% [markdown]
# ## A namespace is a file in `/proc/PID/ns`
#
# `ls -l /proc/$$/ns` is the classic first look. Each entry is a magic link;
# `readlink` prints `type:[inode]`. The inode numbers differ on every
# machine (the comparison of this notebook replaces them with `INODE`), the
# shape does not:

# %%
for link, target in KERNEL_NS.items():
    print(f"{link:<18} -> {target}")

# %% [markdown]
# Ten links. Eight are the namespace types this process is in. The two
# `*_for_children` links are not types of their own: they name the PID and
# time namespace this process's **next children** will be in
# (`namespaces(7)`). Usually they equal `pid` and `time`; they differ right
# after `unshare(CLONE_NEWPID)` or `unshare(CLONE_NEWTIME)`, which move only
# the children (notebooks 02 and 07).

# %%
for kind in ("pid", "time"):
    print(f"{kind}_for_children is {kind}:", KERNEL_NS[f"{kind}_for_children"] == KERNEL_NS[kind])
assert len(KERNEL_NS) == 10 and KERNEL_NS["pid_for_children"] == KERNEL_NS["pid"]

# %% [markdown]
# ### Identity: (st_dev, st_ino), not the inode alone
#
# The number in brackets is the inode of a file in the kernel's `nsfs`
# filesystem. Two processes are in the same namespace exactly when the two
# links have the same **device and inode** (`namespaces(7)`: "the same
# device ID and inode number"); the inode alone is what `readlink` and
# `lsns` print, and is unique only within one nsfs. `os.stat` gives both.
# Here: this kernel and its parent process (the Jupyter server, or
# whatever started the kernel).

# %% tags=["nbval-ignore-output"]
# output varies by machine: nsfs device and inode numbers
mine, parents = os.stat("/proc/self/ns/uts"), os.stat(f"/proc/{os.getppid()}/ns/uts")
print("this kernel:", (mine.st_dev, mine.st_ino), " its parent:", (parents.st_dev, parents.st_ino))

# %%
print("same UTS namespace as the parent:", (mine.st_dev, mine.st_ino) == (parents.st_dev, parents.st_ino))
print("same as readlink's number:", mine.st_ino == int(KERNEL_NS["uts"].split("[")[1].rstrip("]")))
assert (mine.st_dev, mine.st_ino) == (parents.st_dev, parents.st_ino)

# %% [markdown]
# The kit keeps the pair: a `View`'s namespaces are `NsRef(type, dev, ino)`,
# printed the way `readlink` prints them.

# %%
ref = nslab.view().ns["uts"]
print(ref, "== (st_dev, st_ino):", (ref.dev, ref.ino) == (mine.st_dev, mine.st_ino))
assert (ref.dev, ref.ino) == (mine.st_dev, mine.st_ino)

# %% [markdown]
# ## Myth: "there are seven namespace types"
#
# The popular count is seven: mount, UTS, IPC, PID, network, user, time.
# Count them on this kernel instead of believing a list:

# %%
links = sorted(os.listdir("/proc/self/ns"))
types = sorted({link.removesuffix("_for_children") for link in links})
ARTICLE_SEVEN = {"mnt", "uts", "ipc", "pid", "net", "user", "time"}
print(len(links), "links,", len(types), "types:", ", ".join(types))
print("left out of the seven:", sorted(set(types) - ARTICLE_SEVEN))
assert set(types) == set(nslab.NAMESPACES)

# %% [markdown]
# Eight (on Linux 5.6 or later; `time` is the youngest). The one missing from
# the seven is **cgroup** (Linux 4.6, `cgroup_namespaces(7)`): it virtualises
# the process's view of `/proc/PID/cgroup` and of cgroupfs, so that a
# container sees its own cgroup as `/`. `namespaces(7)`, `lsns(8) -t` and the
# OCI runtime spec all list eight. Notebook 08 is about it.
#
# ## Making and joining: clone, unshare, setns
#
# Three system calls do all of it (`namespaces(7)`):
#
# | call | what it does | who uses it |
# |---|---|---|
# | `clone(2)` with `CLONE_NEW*` flags | makes a **new process** in new namespaces | container runtimes making a container's first process |
# | `unshare(2)` | moves the **caller** into new namespaces (PID and time: its next children) | `unshare(1)`; runtimes, between their forks |
# | `setns(2)` | moves the caller into an **existing** namespace, given an fd of its `/proc/PID/ns` file | `nsenter(1)`, `ip netns exec`, `docker exec` |
#
# So `docker run` is, at bottom, a new process with new namespaces (the
# runtime, `runc` under Docker, does the `clone`/`unshare`), and
# `docker exec` is a new process that `setns`-es into the namespaces of the
# running container and then forks your command.
#
# The kit has both. `nslab.spawn` makes a child in new namespaces (the
# `docker run` side); `child.run` starts a command as a child of that
# child's init, so it inherits everything. `child.enter` (or
# `nslab.enter(pid, argv)` for any process) is the `docker exec` side: a
# throwaway helper process opens the target's `/proc/PID/ns/*`, calls
# `setns` on each, then forks the command.

# %%
with nslab.spawn(["uts", "pid", "mnt"], hostname="box") as child:
    want = str(child.view().ns["uts"])
    ran = child.run(["readlink", "/proc/self/ns/uts"]).stdout.strip()
    entered = child.enter(["readlink", "/proc/self/ns/uts"]).stdout.strip()
    by_pid = nslab.enter(child.pid, ["hostname"]).stdout.strip()
    pids = [child.run(["sh", "-c", "echo $$"]).stdout.strip(), child.enter(["sh", "-c", "echo $$"]).stdout.strip()]
print("run (inherits) is in the child's UTS namespace:", ran == want)
print("enter (setns) is in the child's UTS namespace: ", entered == want)
print("nslab.enter(child.pid, ['hostname']) prints:", by_pid)
print("both numbered inside the child's PID namespace:", all(1 < int(p) < 10 for p in pids))
assert ran == entered == want and by_pid == "box"
assert want != KERNEL_NS["uts"]

# %% [markdown]
# `enter` forks after `setns`, and that matters: like `unshare`, `setns` into
# a PID namespace only affects the caller's children (`setns(2)`), so the
# command must be a child to be numbered inside.
#
# ## What this machine allows
#
# Whether you may make each type depends on who you are (root, or an
# ordinary user through a user namespace), on the kernel's configuration,
# and on whatever sandbox this runs in (seccomp, AppArmor, sysctls).
# `nslab.doctor()` finds out by trying each type in a throwaway child, and
# names the cause and the fix of every refusal.

# %% tags=["nbval-ignore-output"]
# output varies by machine: kernel version, privilege and what it allows
report = nslab.doctor()
report

# %%
print("doctor tried all eight types:", sorted(r["type"] for r in report.rows) == sorted(nslab.NAMESPACES))
print("UTS and PID work here:", report.works("uts") and report.works("pid"))

# %% [markdown]
# ## Finding every namespace on the machine
#
# `lsns(8)` lists namespaces by reading every `/proc/PID/ns/*`.
# `nslab.namespaces()` does that and a little more: namespaces held only by
# an open fd or a bind mount, and the owning user namespace and parent (via
# the `ioctl_ns(2)` calls `NS_GET_USERNS` and `NS_GET_PARENT`). Here are the
# rows for the namespaces of one child in new UTS and PID namespaces.

# %% tags=["nbval-ignore-output"]
# output varies by machine: inodes, host PIDs and processes
with nslab.spawn(["uts", "pid"], hostname="box") as child_a, nslab.spawn(["net"]) as child_b:
    table = nslab.namespaces()
    refs = {str(r) for t, r in child_a.view().ns.items() if t in child_a.namespaces}
    rows = table[table["ref"].isin(refs)]
    procs = nslab.processes()
    pids = [os.getpid(), child_a.pid, child_b.pid]
    chosen = procs[procs.index.get_level_values("pid").isin(pids)]
    a_new, b_new = child_a.namespaces, child_b.namespaces
rows[["type", "ref", "nprocs", "pid", "comm", "held_by", "userns"]]

# %%
print("the child's new namespaces are listed:", sorted(rows["type"]) == sorted(a_new))
assert sorted(rows["type"]) == sorted(a_new)

# %% [markdown]
# `nslab.processes()` is the other view: one row per process, one column per
# type, the inode as value. Drawn as a matrix (same colour, same namespace),
# this kernel and the two children:

# %%
ax = nslab.plots.plot_ns_matrix(chosen);
matrix = chosen.droplevel("comm")
print("kernel vs child A differ in:", [t for t in matrix.columns if matrix.at[pids[0], t] != matrix.at[pids[1], t]])
print("kernel vs child B differ in:", [t for t in matrix.columns if matrix.at[pids[0], t] != matrix.at[pids[2], t]])
assert matrix.at[pids[0], "uts"] != matrix.at[pids[1], "uts"]
assert matrix.at[pids[0], "net"] != matrix.at[pids[2], "net"]

# %% [markdown]
# (As an ordinary user, both children also have a user namespace of their
# own: that is how an unprivileged process may make the others.)
#
# User and PID namespaces **nest**: each has a parent (`NS_GET_PARENT`),
# and a user namespace owns every namespace created in it.
# `nslab.ns_tree("user")` walks that tree:

# %% tags=["nbval-ignore-output"]
# output varies by machine: inodes, process counts, host PIDs
with nslab.spawn(["user"]) as child:
    child_user = child.view().ns["user"]
    print(nslab.ns_tree("user"))
    tree = nslab.tree_frame("user")

# %%
row = tree[tree["inode"] == child_user.ino].iloc[0]
print("the child's user namespace is one level below this kernel's:", int(row["depth"]) == int(
    tree[tree["inode"] == nslab.view().ns["user"].ino].iloc[0]["depth"]) + 1)
assert row["parent"] == nslab.view().ns["user"].ino

# %% [markdown]
# ## How to read the kit: the helper process
#
# A Jupyter kernel is **threaded** (heartbeat, I/O and control threads), and
# the kernel refuses `unshare(CLONE_NEWUSER)` to a threaded process, and
# `setns` into a user or mount namespace too (`unshare(2)`, `setns(2)`). So
# the kit never changes this kernel's namespaces. On the first spawn it
# starts one small single-threaded **helper**; the helper forks a **setup**
# process that unshares and writes the id maps, hostname and offsets, and
# that one forks the child's **init**, which answers `view` and `run`
# requests over a socket. Walk up from a child's init:

# %%
def status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


with nslab.spawn(["uts", "pid", "mnt", "net"]) as child:
    chain, pid = [], child.pid
    while pid != os.getpid():
        s = status(pid)
        chain.append((s["Name"], int(s["Threads"])))
        pid = int(s["PPid"])
    after_spawn = ns_links()
for name, threads in chain:
    print(f"{name:<13} threads: {threads}")
print(f"{'this kernel':<13} threads > 1: {int(status('self')['Threads']) > 1}")
assert chain[0][0] == "nslab-init" and chain[-1][0] == "nslab-helper"
assert all(threads == 1 for _, threads in chain)

# %% [markdown]
# And the kernel's own `/proc/self/ns` never moved: not during that spawn,
# not during any cell above.

# %%
print("this kernel's namespaces unchanged during the spawn:", after_spawn == KERNEL_NS)
print("unchanged since the first cell:", ns_links() == KERNEL_NS)
assert after_spawn == ns_links() == KERNEL_NS

# %% [markdown]
# ## Exercise
#
# Write `two_new()` so that it returns a child in new UTS and network
# namespaces that shares the host's PID, mount, IPC, time and cgroup
# namespaces. The check reads both sides from the kernel.

# %% tags=["solution"]
def two_new():
    return nslab.spawn(["uts", "net"])


# %%
with two_new() as child:
    print(nslab.expect(child, new=["uts", "net"], shared=["pid", "mnt", "ipc", "time", "cgroup"]))

# %% [markdown]
# ## The notebooks
#
# Read them in order; each builds on the ones before. None needs root: as an
# ordinary user the kit makes every namespace inside a user namespace you
# own (where `nslab.doctor()` above says yes). Root shows a little more
# (id ranges in 06, the host's view of a few things). Times are for reading
# and trying; each notebook runs in seconds.
#
# | # | notebook | what it shows | root? | time |
# |---|---|---|---|---|
# | 00 | mechanism | this one: `/proc/PID/ns`, clone/unshare/setns, discovery, the helper | no | 15 min |
# | 01 | uts | hostname and NIS domain name; the kernel does not validate hostnames | no | 10 min |
# | 02 | pid | PID 1 and NSpid; why `--fork`; the "/proc not remounted" trap | no | 15 min |
# | 03 | net | a stack with only `lo`; veth pairs; ports per namespace | no | 20 min |
# | 04 | mnt | private mount tables, propagation, why mounts can leak | no | 20 min |
# | 05 | ipc | System V objects and POSIX queues; shared memory follows the mount namespace | no | 10 min |
# | 06 | user | uid_map, root inside and nobody outside | no (ranges need root) | 20 min |
# | 07 | time | monotonic and boottime offsets; realtime never moves | no (needs `CONFIG_TIME_NS`) | 10 min |
# | 08 | cgroup | the eighth type: your cgroup becomes `/` | no | 10 min |
# | 09 | all together | a container by hand: all eight, a root of its own | no | 20 min |
#
# ## Summary
#
# - A namespace is an nsfs file; `/proc/PID/ns/` links to one of each type,
#   and (st_dev, st_ino) is its identity.
# - There are eight types (ten links: `pid_for_children` and
#   `time_for_children` name the children's), not seven: cgroup is the one
#   usually forgotten.
# - `clone` makes a new process in new namespaces, `unshare` moves the
#   caller, `setns` joins an existing one: `docker run` and `docker exec`,
#   `nslab.spawn` and `child.enter`.
# - The kit's helper does every `unshare` and `setns`; this kernel's own
#   namespaces never change.
