# Notebook 05: IPC namespaces (ipc_namespaces(7), sysvipc(7), mq_overview(7), shm_overview(7)).
# Built and executed by notebooks/build.py; see notebooks/CONVENTIONS.md.

# %% [markdown]
# # 05 · IPC: System V objects and POSIX message queues
#
# An IPC namespace gives its processes their own **System V IPC objects**
# (shared memory segments, message queues, semaphore sets: sysvipc(7)) and
# their own **POSIX message queues** (mq_overview(7)). Each object has a key
# and an id, and both are looked up in the caller's IPC namespace only
# (ipc_namespaces(7)): a process in another namespace cannot find, attach
# or exhaust them. When the last process of a namespace leaves, its objects
# are destroyed with it.
#
# One popular mechanism is missing from that list: POSIX shared memory
# (`shm_open(3)`, Python's `multiprocessing.shared_memory`). The myth section
# shows which namespace really isolates it.
#
# Reading: `ipc_namespaces(7)`, `sysvipc(7)`, `mq_overview(7)`, `shm_overview(7)`.
# Runs as an ordinary user too (the kit then adds a user namespace you own).
# About 10 minutes.

# %%
import os

import matplotlib.pyplot as plt

import nslab
import nslab.plots
import nslab.widgets

IPC = nslab.NAMESPACES["ipc"]
print(f"{IPC.man}: {IPC.isolates}")
SKIP = nslab.skip_reason(["ipc"])
print(SKIP or "IPC namespaces can be made here")


def host_sysv():
    """Every System V object this notebook's kernel process can see, as (kind, key, id): read, never changed."""
    seen = set()
    for kind, name in (("shm", "shm"), ("msg", "msg"), ("sem", "sem")):
        with open(f"/proc/sysvipc/{name}") as f:
            for line in f.read().splitlines()[1:]:
                fields = line.split()
                seen.add((kind, int(fields[0]), int(fields[1])))
    return seen


HOST_AT_START = host_sysv()

# %% [markdown]
# ## Try it yourself
#
# The article creates a segment on the host (`ipcmk -M 1024`), then looks
# from a new IPC namespace (`sudo unshare --ipc bash`, `ipcs -m`). Here the
# "host" side is a scratch IPC namespace too, so no segment is ever left on
# your machine: `ipcmk` runs in the scratch one, and the inner
# `unshare --ipc` makes a second, new namespace inside it.

# %%
t = nslab.try_it(
    ["--ipc"],
    "ipcmk -M 1024 >/dev/null; ipcs -m; echo '--- in a new IPC namespace:'; unshare --ipc ipcs -m",
)
print(t)
scratch_side, new_side = t.stdout.split("--- in a new IPC namespace:")
assert " 1024 " in scratch_side and " 1024 " not in new_side
assert host_sysv() == HOST_AT_START  # the host's tables never had it

# %% [markdown]
# The segment (its key is random, printed as `0xADDR` once outputs are
# compared) is listed where it was made; the new namespace's table is empty.
#
# ## The same with nslab, side by side
#
# `scratch` stands in for the host: it gets one object of each System V
# kind. `other` is a second child with a new IPC namespace. Each `view()` is
# read inside its child, from `/proc/sysvipc/*`, which shows the reader's
# IPC namespace (proc(5)).

# %%
with nslab.spawn(["ipc"]) as scratch, nslab.spawn(["ipc"]) as other:
    for args in (["-M", "1024"], ["-Q"], ["-S", "1"]):  # a segment, a message queue, a semaphore set
        made = scratch.run(["ipcmk", *args])
        assert made.returncode == 0, made.stderr
    views = {"scratch": scratch.view(), "other": other.view()}
    print(nslab.expect(scratch, new=["ipc"], ipc_objects=3))
    print(nslab.expect(other, new=["ipc"], ipc_objects=0))
views["scratch"].frame("ipc").drop(columns="key")  # keys are random: ipcmk picks them

# %% [markdown]
# Both children started from empty tables: the ids begin at 0 in each
# (sysvipc(7)). The host next to the scratch child (your host's objects, if
# any, are your own, so this output is not compared):

# %% tags=["nbval-ignore-output"]
# output varies by machine: the host's IPC objects and namespace inodes
host = nslab.view()
table = nslab.diff(host, views["scratch"], labels=("host", "scratch"))
assert not table.set_index("type").loc["ipc", "shared"]
assert host_sysv() == HOST_AT_START
table

# %% [markdown]
# A figure of the same: how many objects of each kind each namespace holds,
# and the namespace matrix (same colour, same namespace) for the three
# views.

# %%
views_all = {"host": nslab.view(), **views}
fig, (bars, matrix) = plt.subplots(1, 2, figsize=(11, 3), gridspec_kw={"width_ratios": [1, 2]})
kinds = ("shm", "msg", "sem")
bottom = [0] * len(views_all)
for kind in kinds:
    counts = [len(v.ipc.get(kind) or []) for v in views_all.values()]
    bars.bar(list(views_all), counts, bottom=bottom, label=kind)
    bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
bars.set_ylabel("System V objects")
bars.set_title("objects per IPC namespace", fontsize=10)
bars.legend(fontsize=8)
nslab.plots.plot_ns_matrix(views_all, ax=matrix)
counts = {label: sum(len(v.ipc.get(k) or []) for k in kinds) for label, v in views.items()}
print(counts)
assert counts == {"scratch": 3, "other": 0}

# %% [markdown]
# ## Myth: "POSIX shared memory is isolated by the IPC namespace"
#
# `shm_open("/name")` is, in glibc, an `open()` of `/dev/shm/name`: POSIX
# shared memory objects are files in a **tmpfs mounted on `/dev/shm`**
# (shm_overview(7)). Files follow mounts, so POSIX shared memory is
# isolated by the **mount** namespace (a container runtime mounts a fresh
# tmpfs on the container's `/dev/shm`), not by the IPC one.
#
# The proof, again in a scratch namespace standing in for the host: it first
# covers `/dev/shm` with a private tmpfs of its own, so that nothing is
# written to your real `/dev/shm`; then it creates `nslab-demo` there and
# looks from a new IPC namespace, and from a new mount namespace with a
# fresh tmpfs on `/dev/shm`.

# %%
t = nslab.try_it(
    ["--mount", "--ipc"],
    "mount -t tmpfs nslab-shm /dev/shm; echo hello > /dev/shm/nslab-demo; "
    "echo '--- a new IPC namespace sees:'; unshare --ipc ls -A /dev/shm; "
    "echo '--- a new mount namespace with a fresh /dev/shm sees:'; "
    "unshare --mount sh -c 'mount -t tmpfs fresh /dev/shm; ls -A /dev/shm'; echo '(nothing)'",
)
print(t)
_, ipc_side, mnt_side = t.stdout.split("---")
assert "nslab-demo" in ipc_side and "nslab-demo" not in mnt_side

# %% [markdown]
# The new IPC namespace still sees the "shared memory"; only a new mount
# namespace with its own tmpfs hides it.
#
# ## POSIX message queues and `/dev/mqueue`
#
# POSIX message queues *are* isolated by the IPC namespace, and they too
# appear as files: in an `mqueue` filesystem, customarily mounted on
# `/dev/mqueue`. An mqueue mount shows the queues of the IPC namespace of
# **whoever mounted it** (mq_overview(7)), so a new IPC namespace that kept
# its creator's `/dev/mqueue` would list its creator's queues. nslab mounts a
# fresh one inside a child that has new `ipc` and `mnt` namespaces, when
# `/dev/mqueue` exists. Many containers and minimal hosts have no
# `/dev/mqueue` at all; then `View.ipc["mqueue"]` is `None` and
# `View.errors["mqueue"]` says why. What this machine says:

# %% tags=["nbval-ignore-output"]
# output varies by machine: whether /dev/mqueue exists and is mounted here
host = nslab.view()
with nslab.spawn(["ipc", "mnt"]) as child:
    inside = child.view()
for label, v in (("host", host), ("child", inside)):
    print(f"{label:5}  queues: {v.ipc['mqueue']}  ({v.errors.get('mqueue', 'read from its own mqueue mount')})")
assert (inside.ipc["mqueue"] is None) == ("mqueue" in inside.errors)

# %% [markdown]
# Whatever your host has, a scratch namespace can mount its own mqueue
# filesystem (on `/mnt`, which exists everywhere), create a queue by creating
# a file there, and look from a new IPC namespace with its own mqueue mount:

# %%
t = nslab.try_it(
    ["--mount", "--ipc"],
    "mount -t mqueue mqueue /mnt; touch /mnt/nslab-queue; ls -A /mnt; "
    "echo '--- a new IPC namespace, its own mqueue mount:'; "
    "unshare --ipc --mount sh -c 'mount -t mqueue mqueue /mnt; ls -A /mnt'; echo '(nothing)'",
)
print(t)
mine, theirs = t.stdout.split("---")
assert "nslab-queue" in mine and "nslab-queue" not in theirs

# %% [markdown]
# ## The panel
#
# `IpcPanel` toggles `ipc` (and `mnt`, which decides `/dev/shm` and the
# mqueue mount) and shows what a fresh child's IPC tables hold.

# %% tags=["nbval-ignore-output"]
# output is a live widget: its state renders in the browser, not in stored text
panel = nslab.widgets.IpcPanel(["ipc"])
panel

# %% [markdown]
# What the panel showed, from `panel.frames`:

# %%
print(panel.spawn_call)
print("System V objects in the panel's child:", len(panel.frames["ipc"][panel.frames["ipc"]["kind"] != "mqueue"]))
print("ipc shared with the host:", bool(panel.frames["diff"].set_index("type").loc["ipc", "shared"]))
assert panel.frames["ipc"].empty or set(panel.frames["ipc"]["kind"]) == {"mqueue"}

# %% [markdown]
# ## Exercises
#
# **1.** Make a child (`answer`) whose System V tables are empty, whatever
# the host holds.

# %% tags=["solution"]
answer = nslab.spawn(["ipc"])

# %%
with answer:
    result = nslab.expect(answer, new=["ipc"], ipc_objects=0)
result

# %% [markdown]
# **2.** Make a child (`answer`) with a new IPC namespace and create a
# 4096-byte shared memory segment *inside* it (`ipcmk -M 4096`, run with
# `answer.run`). The check finds it in the child's view, confirms the host
# never had it, closes the child, and confirms the namespace, and with it
# the segment, is gone.

# %% tags=["solution"]
answer = nslab.spawn(["ipc"])
made = answer.run(["ipcmk", "-M", "4096"])


# %%
def ipc_ns_held(ino):
    """Whether any process we may inspect is still in the IPC namespace with this inode."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.stat(f"/proc/{pid}/ns/ipc").st_ino == ino:
                return True
        except OSError:
            continue  # exited, or another user's process
    return False


with answer:
    view = answer.view()
    segments = view.ipc["shm"]
    ino = view.ns["ipc"].ino
    result = nslab.expect(answer, new=["ipc"], ipc_objects=1)
    print("segments inside:", [(s["id"], s["size"]) for s in segments])
    assert [s["size"] for s in segments] == [4096], "no 4096-byte segment inside: run ipcmk -M 4096 in the child"
    print("the host had it:", any(key == segments[0]["key"] for kind, key, _ in host_sysv() if kind == "shm"))
print("its namespace still held after close:", ipc_ns_held(ino))
assert not ipc_ns_held(ino) and host_sysv() == HOST_AT_START
result

# %% [markdown]
# The panel's child ends here (re-run the panel cell to play again):

# %%
panel.close()

# %% [markdown]
# ## Summary
#
# - An IPC namespace has its own System V segments, message queues and
#   semaphore sets, and its own POSIX message queues; a new one starts
#   empty, and its objects die with it.
# - POSIX shared memory is files in the `/dev/shm` tmpfs: the **mount**
#   namespace isolates it, not the IPC namespace.
# - An mqueue mount shows its mounter's queues: a new IPC namespace needs its
#   own mount of it, and many hosts have no `/dev/mqueue` at all.
# - The host's objects were never touched: every object in this notebook was
#   made in a scratch namespace.
#
# Next: user namespaces, ids inside and outside.
