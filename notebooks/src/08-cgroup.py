# %% [markdown]
# # 08 · CGROUP: your cgroup becomes `/`
#
# Control groups (cgroups) decide what a process **gets**: memory, CPU time,
# I/O, a number of PIDs. A cgroup namespace decides what a process **sees**
# of them: in a new one, the cgroup its creator was in becomes the root `/`,
# and everything above it is out of view. The man page is
# `cgroup_namespaces(7)`; the type exists since Linux 4.6.
#
# The article this kit grew from covers seven types and leaves this one out.

# %%
import os

import nslab
from nslab.plots import plot_ns_matrix
from nslab.widgets import CgroupPanel

CGROUP = nslab.NAMESPACES["cgroup"]
print(f"{CGROUP.name}: {CGROUP.isolates} — {CGROUP.man}, since Linux {CGROUP.since}")
print(nslab.skip_reason(["cgroup"]) or "cgroup namespaces work here")

# %% [markdown]
# ## Myth: "there are seven namespaces"
#
# The article's title counts seven. `namespaces(7)` lists eight types, and
# every process carries a link for each in `/proc/PID/ns`. There are ten
# links: `pid_for_children` and `time_for_children` name the namespace a
# process's *children* will be in, which is not always its own.

# %%
links = sorted(os.listdir("/proc/self/ns"))
types = sorted({link.removesuffix("_for_children") for link in links})
print(len(links), "links:", " ".join(links))
print(len(types), "types:", " ".join(types))
assert types == sorted(nslab.NAMESPACES) and len(types) == 8

# %% [markdown]
# ## Where this process is
#
# `/proc/self/cgroup` has one line per hierarchy: `hierarchy-ID:controllers:path`.
# On a cgroup v2 machine there is just one, `0::/path`; a machine that still
# mounts v1 controllers lists those too. The path is relative to the root
# of the reader's cgroup namespace. The host's path depends on how this
# notebook was started (a systemd user slice, a container, a CI runner):

# %% tags=["nbval-ignore-output"]
# output varies by machine: the host's cgroup paths
with open("/proc/self/cgroup") as f:
    print(f.read(), end="")
host = nslab.view()
print("unified (v2) path:", host.cgroup)

# %% [markdown]
# ## Inside a new cgroup namespace
#
# A child in a new cgroup namespace reads the same file. Every path is now
# `/`: the child is still in exactly the same cgroups, with the same limits;
# it only sees them from a different root.

# %%
with nslab.spawn(["cgroup"]) as child:
    inside = child.view()
    r = child.run(["cat", "/proc/self/cgroup"])
unified = [line for line in r.stdout.splitlines() if line.startswith("0::")]
print("the unified line inside:", *unified)
print("every path inside is /:", all(path == "/" for _h, _c, path in inside.cgroups))
print("View.cgroup inside:", inside.cgroup)
assert unified == ["0::/"] and inside.cgroup == "/"
assert all(path == "/" for _h, _c, path in inside.cgroups)

# %% [markdown]
# The whole file inside, every hierarchy (this machine's list of v1
# controllers, if any, is host-specific); and the same with `unshare(1)`:

# %% tags=["nbval-ignore-output"]
# output varies by machine: which cgroup hierarchies are mounted
print(r.stdout, end="")
print(nslab.try_it(["--cgroup"], "cat /proc/self/cgroup"))

# %% [markdown]
# Side by side with the host: only the `cgroup` namespace is new, and the
# host still sees its own path (which on some machines is `/` too: the root
# cgroup; the namespace is still a different one).

# %%
d = nslab.diff(host, inside, labels=("host", "child")).set_index("type")
print(d[["shared"]].T.to_string())
print("child sees:", d.loc["cgroup", "child_sees"])
assert not d.loc["cgroup", "shared"]
assert d.drop(["cgroup", "user"])["shared"].all()  # user is new too when rootless (the kit adds it)

# %% [markdown]
# ## What it isolates, and what it does not
#
# A cgroup namespace virtualises **paths**: `/proc/PID/cgroup` and the root
# of a cgroup filesystem mounted inside. It does not move the process to
# another cgroup, and it does not give it new limits: memory, CPU and PID
# limits still come from the cgroup it is in. Namespaces control what a
# process sees; cgroups control what it gets. A container runtime uses both:
# it puts the container's init in a fresh cgroup with limits, then makes a
# cgroup namespace there so that the container sees its own cgroup as `/`
# and cannot read the host's layout.
#
# This notebook never creates a cgroup on the host: everything it does is
# reading, and mounting inside a child's own mount namespace.
#
# ## A fresh cgroup2 mount inside
#
# With a new mount namespace as well, the child can mount the cgroup2
# filesystem on its own `/sys/fs/cgroup`. The root of that mount (field 4 of
# `/proc/self/mountinfo`, proc(5)) is the namespace's root: `/`. The host's
# mount table does not change: the mount lives in the child's mount
# namespace and ends with it.

# %%
with nslab.spawn(["cgroup", "mnt"]) as child:
    m = child.run(["mount", "-t", "cgroup2", "nslab-cgroup2", "/sys/fs/cgroup"])
    mounts = child.view().mounts
fresh = [mt for mt in mounts if mt["source"] == "nslab-cgroup2"]
on_host = [mt for mt in nslab.view().mounts if mt["source"] == "nslab-cgroup2"]
if m.returncode == 0:
    for mt in fresh:
        print(f"mounted {mt['fstype']} on {mt['mount_point']}, root of the mount: {mt['root']}")
    assert [mt["root"] for mt in fresh] == ["/"]
else:
    # A kernel or security module may refuse it (rootless, mount needs CAP_SYS_ADMIN in the
    # user namespace that owns the child's mount namespace): show the kernel's reason.
    print("mount refused:", m.stderr.strip())
print("visible on the host:", [mt["mount_point"] for mt in on_host] or "no")
assert not on_host

# %% [markdown]
# The inherited cgroup mounts tell the rest of the story: a mount whose root
# lies above the namespace's root shows as `/..` (or `/../..`, one `..` per
# level) — the namespace's way of saying "outside your view"
# (cgroup_namespaces(7)). Which mounts show that depends on where this
# notebook's process sits in each hierarchy:

# %% tags=["nbval-ignore-output"]
# output varies by machine: the host's cgroup mounts and where this process sits in them
for mt in mounts:
    if mt["fstype"] in ("cgroup", "cgroup2"):
        print(f"{mt['fstype']:8} {mt['mount_point']:32} root {mt['root']}")

# %% [markdown]
# ## The figure: who shares what
#
# Three processes as rows, the eight types as columns; the same colour means
# the same namespace. The host, a child with a new cgroup namespace only,
# and a child with all eight new.

# %%
with nslab.spawn(["cgroup"]) as only, nslab.spawn("all") as every:
    views = {"host": nslab.view(), "cgroup only": only.view(), "all eight": every.view()}
plot_ns_matrix(views);
new_in = {label: [t for t in nslab.NAMESPACES if v.ns[t] != views["host"].ns[t]] for label, v in views.items()}
print(new_in)
assert new_in["cgroup only"] in (["cgroup"], ["user", "cgroup"])  # rootless adds the user namespace
assert new_in["all eight"] == list(nslab.NAMESPACES)

# %% [markdown]
# Rootless, the "cgroup only" child has a new user namespace too: an ordinary
# user may create the other types only from inside a user namespace it owns
# (the kit adds it and says so in `Child.implicit_user`).
#
# ## The panel
#
# `CgroupPanel` wraps the calls above: toggle `cgroup` and see the child's
# cgroup table turn to `/`.

# %% tags=["nbval-ignore-output"]
# output is a live widget: its state renders in the browser, not in the stored text
panel = CgroupPanel(["cgroup"])
panel

# %%
# What the panel shows, read back from it.
paths = set(panel.frames["cgroups"]["path"])
print("paths in the panel's child:", paths)
assert panel.result.cgroup == "/" and paths == {"/"}

# %% [markdown]
# ## Exercises
#
# **1.** Make a child whose own cgroup is `/`.

# %% tags=["solution"]
answer = nslab.spawn(["cgroup"])

# %%
with answer:
    result = nslab.expect(answer, new=["cgroup"], cgroup="/")
result

# %% [markdown]
# **2.** Hiding the path needs no mount namespace: `/proc/self/cgroup` is
# read relative to the reader's cgroup namespace. Make a child with a new
# cgroup namespace that shares the host's mount and PID namespaces.

# %% tags=["solution"]
answer = nslab.spawn(["cgroup"])

# %%
with answer:
    result = nslab.expect(answer, new=["cgroup"], shared=["mnt", "pid"], cgroup="/")
result

# %% [markdown]
# ## Summary
#
# - There are eight namespace types (ten links in `/proc/PID/ns`); cgroup is
#   the one the article leaves out.
# - In a new cgroup namespace the creator's cgroup reads as `/`, in
#   `/proc/self/cgroup` and as the root of a cgroup2 mount made inside.
# - It hides the cgroup layout; it changes no limit. Namespaces: what a
#   process sees. Cgroups: what it gets.

# %%
panel.close()  # ends the panel's child; re-run the panel cell to play again
