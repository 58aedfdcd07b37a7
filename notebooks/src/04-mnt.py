# Notebook 04: mount namespaces (mount_namespaces(7)).
# Built and executed by notebooks/build.py; see notebooks/CONVENTIONS.md.

# %% [markdown]
# # 04 · MNT: a mount table of its own
#
# A mount namespace gives its processes their own **list of mounts**: which
# filesystem sits on which directory (mount_namespaces(7)). A new one starts
# as a *copy* of its creator's table; from then on a mount or unmount inside
# changes only the copy... unless **propagation** carries it across. That
# "unless" is the part popular accounts leave out, and this notebook proves
# it on your kernel, in scratch namespaces that never touch your real mounts.
#
# Containers get their own `/` this way: a new mount namespace, an image
# assembled into a root, and `pivot_root(2)` into it (notebook 09).
#
# Reading: `mount_namespaces(7)`, `unshare(1)` (`--propagation`), `findmnt(8)`.
# Runs as an ordinary user too (the kit then adds a user namespace you own).
# About 15 minutes.

# %%

import matplotlib.pyplot as plt

import nslab
import nslab.plots
import nslab.widgets

MNT = nslab.NAMESPACES["mnt"]
print(f"{MNT.man}: {MNT.isolates}")
SKIP = nslab.skip_reason(["mnt"])
print(SKIP or "mount namespaces can be made here")


def passed(result):
    """Name expect()'s checks (it also reports how many mounts it saw, which differs between machines)."""
    print(f"✔ {len(result.results)} checks passed: " + "; ".join(name for name, *_ in result.results))


def sources_on_host():
    """The mount sources this notebook's kernel process sees: the host's table, read fresh."""
    return {m["source"] for m in nslab.view().mounts}


# %% [markdown]
# ## Try it yourself
#
# The article runs `sudo unshare --mount bash`, then `mkdir /tmp/ns-test` and
# mounts a tmpfs on it. One change here: `mkdir` writes to the filesystem,
# and a filesystem is shared by every mount namespace that mounts it, so that
# directory would stay on your disk. The mount goes on `/mnt`, which exists
# already. It covers whatever `/mnt` holds, but only inside.

# %%
t = nslab.try_it(["--mount"], "mount -t tmpfs nslab-demo /mnt; findmnt -o TARGET,SOURCE,FSTYPE /mnt")
print(t)
print("the host sees nslab-demo:", "nslab-demo" in sources_on_host())
assert t.returncode == 0 and "nslab-demo tmpfs" in t.stdout
assert "nslab-demo" not in sources_on_host()

# %% [markdown]
# ## The same with nslab, side by side
#
# `nslab.spawn(["mnt"])` makes a child with a new mount namespace; its
# `run()` executes a command inside. `expect` then asks the kernel twice:
# is `/mnt` a mount point in the child, and does the host see a mount whose
# source is `nslab-demo`?

# %%
with nslab.spawn(["mnt"]) as child:
    before = child.view()
    child.run(["mount", "-t", "tmpfs", "nslab-demo", "/mnt"])
    inside = child.view()
    checked = nslab.expect(child, mounted="/mnt", not_mounted_on_host="nslab-demo")
new = [m for m in inside.mounts if m["mount_id"] not in {b["mount_id"] for b in before.mounts}]
print("mounts added inside:", [(m["mount_point"], m["fstype"], m["source"], m["propagation"]) for m in new])
print("the child's / is", next(m for m in inside.mounts if m["mount_point"] == "/")["propagation"])
passed(checked)

# %% [markdown]
# The copy differs from the host's table by exactly one mount, and the
# child's `/` is **private**: nslab made it so before anything else
# happened, as `unshare(1)` does (the next section shows why that matters).
# The host and the child side by side (your host's table is your own, so
# this output is not compared):

# %% tags=["nbval-ignore-output"]
# output varies by machine: the host's mount table and namespace inodes
host = nslab.view()
table = nslab.diff(host, inside, labels=("host", "child"))
assert set(table.loc[~table["shared"], "type"]) <= {"mnt", "user"} and not table.set_index("type").loc["mnt", "shared"]
print("the host's / is", next(m for m in reversed(host.mounts) if m["mount_point"] == "/")["propagation"])
table

# %% [markdown]
# ## Myth: "mounts made inside a mount namespace never reach the host"
#
# The copy keeps each mount's **propagation type**. A *shared* mount is in a
# peer group: a mount made under it in one namespace is replayed in every
# peer, and the copy a new namespace gets is a peer of the original
# (mount_namespaces(7), "Shared subtrees"). systemd makes `/` shared at boot
# (`findmnt -o TARGET,PROPAGATION /` says `shared` on most distributions).
# So a raw `unshare(CLONE_NEWNS)` followed by a mount, which is what
# `os.unshare(os.CLONE_NEWNS)` in Python gives you, **leaks the mount to the
# host**. `unshare(1)` hides this by making everything private first
# (`--propagation private` is its default); the system call does not.
#
# The proof, without risking your host: a scratch mount namespace stands in
# for the host; its `/` is made shared as systemd would; then
# `unshare --propagation unchanged` behaves like the raw system call:

# %%
t = nslab.try_it(
    ["--mount"],
    "mount --make-rshared /; "
    "unshare --mount --propagation unchanged sh -c 'mount -t tmpfs leak /mnt'; "
    "findmnt -n -o SOURCE /mnt || echo 'nothing on /mnt'",
)
print(t)
assert t.stdout.split() == ["leak"]  # the inner namespace's mount is visible to its "host"

# %% [markdown]
# The inner namespace has ended, and its mount is still there, in the
# scratch "host". Now the same with the default that `unshare(1)` applies:

# %%
t = nslab.try_it(
    ["--mount"],
    "mount --make-rshared /; "
    "unshare --mount --propagation private sh -c 'mount -t tmpfs leak /mnt'; "
    "findmnt -n -o SOURCE /mnt || echo 'nothing on /mnt'",
)
print(t)
assert t.stdout.split() == ["nothing", "on", "/mnt"]

# %% [markdown]
# ### And without root?
#
# An ordinary user must create a user namespace with the mount namespace.
# The kernel then treats the copy as **less privileged** than the table it
# came from (mount_namespaces(7), "Restrictions on mount namespaces"):
#
# - shared mounts arrive as **slave** mounts: they still *receive* mounts
#   from the original, but never send any back, so nothing made inside can
#   leak out, whatever propagation you ask for;
# - the inherited mounts are **locked** together: `umount` of one of them
#   fails (`EINVAL`), so that whatever it covers stays covered.
#
# Below, the scratch "host" mounts a tmpfs called `scratch` on `/mnt`; the
# inner `unshare` adds a user namespace and keeps the propagation unchanged:

# %%
t = nslab.try_it(
    ["--mount"],
    "mount --make-rshared /; mount -t tmpfs scratch /mnt; "
    "unshare --user --map-root-user --mount --propagation unchanged sh -c '"
    "findmnt -n -o PROPAGATION /mnt; "
    "umount /mnt 2>/dev/null && echo unmounted || echo umount refused; "
    "mount -t tmpfs leak /mnt; findmnt -n -o SOURCE /mnt'; "
    "echo '--- the scratch host:'; findmnt -n -o SOURCE /mnt",
)
print(t)
inner, outer = t.stdout.split("--- the scratch host:")
assert "slave" in inner and "umount refused" in inner and "leak" in inner
assert outer.split() == ["scratch"]  # no leak back across the user namespace

# %% [markdown]
# `findmnt` shows the inherited `/mnt` as a slave; its `umount` was refused
# although the inner shell is root in its own user namespace; the inner
# `leak` stayed inside. That is the rootless case: when this notebook runs
# without root, every `try_it` above added `--user --map-root-user` around
# the scratch "host", and the results are the same, because the scratch
# "host" and the inner namespace share that one user namespace.
#
# ## The mount tree, coloured by propagation
#
# The child's table as a tree: each mount under the one it is mounted on,
# coloured by its propagation type, `/mnt` highlighted.

# %%
with nslab.spawn(["mnt"]) as child:
    child.run(["mount", "-t", "tmpfs", "nslab-demo", "/mnt"])
    view = child.view()
fig, ax = plt.subplots(figsize=(8, 7))
nslab.plots.plot_mounts(view, ax=ax, highlight="/mnt")
assert any(t.get_fontweight() == "bold" and t.get_text().startswith("/mnt  tmpfs") for t in ax.texts)
print("propagation types in the child:", sorted({m["propagation"] for m in view.mounts}))

# %% [markdown]
# Every mount of the child is private: nslab made `/` `MS_REC|MS_PRIVATE`
# right after creating the namespace, the step the raw system call leaves
# to you.
#
# ### What a copy costs
#
# The kernel copies the whole table at `unshare(CLONE_NEWNS)`, so creating a
# mount namespace costs time in proportion to the number of mounts: about
# **1 µs per mount** on a 6.x kernel. A laptop with 30 mounts does not
# notice; a host with thousands of container mounts does. `make bench`
# measures it on your machine (inside a private scratch namespace, so your
# table never grows).
#
# ## The panel
#
# `MntPanel` spawns a child for the toggles you choose (`mnt`, and `pid` for
# a fresh `/proc`) and shows its mount table and tree.

# %% tags=["nbval-ignore-output"]
# output is a live widget: its state renders in the browser, not in stored text
panel = nslab.widgets.MntPanel(["mnt", "pid"])
panel

# %% [markdown]
# What the panel showed, read from `panel.frames` (the tree has your host's
# mounts; the facts below do not depend on them):

# %%
mounts = panel.frames["mounts"]
print(panel.spawn_call)
print("a /proc of its own (procfs mounted last on /proc):", mounts[mounts["mount_point"] == "/proc"].iloc[-1]["fstype"] == "proc")
print("propagation:", sorted(set(mounts["propagation"])))
assert set(mounts["propagation"]) == {"private"}

# %% [markdown]
# ## Exercises
#
# **1.** Make a child (`answer`) with a tmpfs mounted at `/mnt` *only
# inside*: give the mount the source name `nslab-ex1` (the first argument
# after `-t tmpfs`), so that the check can look for it on the host.

# %% tags=["solution"]
answer = nslab.spawn(["mnt"])
mounted = answer.run(["mount", "-t", "tmpfs", "nslab-ex1", "/mnt"])

# %%
with answer:
    result = nslab.expect(answer, new=["mnt"], mounted="/mnt", not_mounted_on_host="nslab-ex1")
    top = [m for m in answer.view().mounts if m["mount_point"] == "/mnt"][-1]
assert top["source"] == "nslab-ex1", f"the top mount on /mnt inside is {top['source']}, not nslab-ex1"
passed(result)

# %% [markdown]
# **2.** Now make that `/mnt` **read-only** inside, so that writing there
# fails, without changing anything outside. (Hint: a mount's read-only flag
# can be changed with a bind remount: `mount -o remount,ro,bind`. That
# changes this one mount, not the filesystem under it, which is exactly
# "read-only inside"; a plain `remount,ro` asks to change the filesystem
# itself, and may be refused when you are not root.)

# %% tags=["solution"]
answer = nslab.spawn(["mnt"])
answer.run(["mount", "-t", "tmpfs", "nslab-ex2", "/mnt"])
remounted = answer.run(["mount", "-o", "remount,ro,bind", "/mnt"])

# %%
with answer:
    top = [m for m in answer.view().mounts if m["mount_point"] == "/mnt"][-1]
    write = answer.run(["touch", "/mnt/nslab-probe"])
    result = nslab.expect(answer, new=["mnt"], mounted="/mnt")
print("/mnt inside:", top["source"], top["mount_options"].split(",")[0])
print("writing there:", write.stderr.strip().split(": ")[-1] if write.returncode else "succeeded")
assert top["mount_options"].split(",")[0] == "ro", "the mount on /mnt is still rw"
assert write.returncode != 0
assert "nslab-ex2" not in sources_on_host()
passed(result)

# %% [markdown]
# The panel's child ends here (re-run the panel cell to play again):

# %%
panel.close()

# %% [markdown]
# ## Summary
#
# - A mount namespace is a copy of its creator's mount table; mounts made
#   in the copy stay there **only if** the copy does not share a peer group
#   with the original.
# - On systemd hosts `/` is shared, so a raw `unshare(CLONE_NEWNS)` (and
#   `os.unshare`) must be followed by making `/` private or slave, which
#   `unshare(1)` and nslab do for you.
# - Across a user namespace the copy is less privileged: shared mounts turn
#   into slaves and the inherited mounts are locked.
# - Creating one costs about 1 µs per mount in the table (`make bench`).
#
# Next: `05-ipc`, System V objects, POSIX message queues, and the one IPC
# mechanism that the IPC namespace does *not* isolate.
