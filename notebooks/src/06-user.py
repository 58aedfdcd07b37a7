# %% [markdown]
# # 06 · USER: root inside, nobody special outside
#
# A user namespace gives a process a second set of user and group IDs, with a
# table that says which inside id is which outside id. Root inside, an
# ordinary user outside: that table is what rootless containers are made of.
# The man page is `user_namespaces(7)`.
#
# Every claim below is checked on the kernel running this notebook.

# %%
import os
import subprocess

import nslab
from nslab.plots import plot_uid_map
from nslab.widgets import UserPanel

USER = nslab.NAMESPACES["user"]
print(f"{USER.name}: {USER.isolates} — {USER.man}, since Linux {USER.since}")
print(nslab.skip_reason(["user"]) or "user namespaces work here")

# %% [markdown]
# ## The map: `inside outside length`
#
# Each line of `/proc/PID/uid_map` (and `gid_map`) has three numbers: the first
# id of a range inside the namespace, the id it is outside, and how many ids
# the range holds. The initial user namespace maps everything to itself: one
# line, `0 0 4294967295`.
#
# The article's try-it runs `unshare --user --map-root-user`, then `whoami`.
# Here the same command runs without a terminal, and also prints the map it
# wrote.

# %% tags=["nbval-ignore-output"]
# output varies by who runs it: --map-root-user maps the caller's own uid (0 as root, yours otherwise)
t = nslab.try_it(["--user", "--map-root-user"], "whoami; cat /proc/self/uid_map")
print(t)
assert t.returncode == 0, t.stderr
inside, outside, count = (int(v) for v in t.stdout.splitlines()[1].split())
assert (inside, count) == (0, 1) and outside == os.geteuid()

# %% [markdown]
# ## Myth: "`--map-root-user` writes `0 0 1`"
#
# A popular walk-through says the line you read is `0 0 1`, "namespace UID 0
# maps to host UID 0". It is `0 0 1` only when root ran the command.
# `--map-root-user` maps root inside to **whoever ran `unshare`**: run by
# uid 1000 it writes `0 1000 1`. The previous cell checked that the middle
# number is your own uid.
#
# Run as root, this notebook shows what an ordinary user gets by dropping to
# uid 65534 (`nobody`) with `setpriv(1)` before `unshare(1)`. Note the third
# file: an unprivileged writer must write `deny` to `setgroups` before it may
# write `gid_map` (user_namespaces(7)), so that nobody can drop a group that
# was keeping them out of a file.

# %%
if nslab.privilege() == "root":
    argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--",
            "unshare", "--user", "--map-root-user", "--",
            "cat", "/proc/self/uid_map", "/proc/self/gid_map", "/proc/self/setgroups"]  # fmt: skip
    p = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    lines = [" ".join(line.split()) for line in p.stdout.splitlines()]
    print("run by uid 65534:", *lines, sep="\n  ")
    assert p.returncode == 0, p.stderr
    assert lines == ["0 65534 1", "0 65534 1", "deny"], lines
else:
    # Already an ordinary user: the try-it above showed your own uid; here is setgroups too.
    t = nslab.try_it(["--user", "--map-root-user"], "cat /proc/self/setgroups")
    print(t)
    assert t.stdout.strip() == "deny"

# %% [markdown]
# ## Root inside, an ordinary uid outside
#
# The same from nslab: a child in a new user namespace, mapped the way an
# ordinary user's `--map-root-user` maps it. As root the notebook maps
# uid 0 inside to 65534 outside; as an ordinary user the kit's default map is
# already `0 <your uid> 1`.
#
# The article's second terminal reads the `Uid:` line of the process's
# `/proc/PID/status` from the host. The four numbers are the real, effective,
# saved and filesystem uid, in the host's numbering.

# %%
ORDINARY = [(0, 65534, 1)] if nslab.privilege() == "root" else None  # None: the kit maps your uid
with nslab.spawn(["user"], uid_map=ORDINARY, gid_map=ORDINARY) as child:
    whoami = child.run(["whoami"]).stdout.strip()
    v = child.view()
    with open(f"/proc/{child.pid}/status") as f:
        uid_line = next(line for line in f if line.startswith("Uid:"))
    outside_uid = int(uid_line.split()[1])
print("whoami inside:       ", whoami)
print("uid inside (View):   ", v.uid)
print("Uid: seen from host: ", outside_uid)
assert whoami == "root" and v.uid == 0
assert outside_uid == v.uid_map[0][1] != 0  # the kernel checks permissions as this uid

# %% [markdown]
# Side by side with the host: only the `user` row has a namespace of its own.

# %%
with nslab.spawn(["user"]) as child:
    d = nslab.diff(nslab.view(), child.view(), labels=("host", "child"))
print(d[["type", "shared"]].to_string(index=False))
assert d.set_index("type")["shared"].drop("user").all() and not d.set_index("type").loc["user", "shared"]

# %% [markdown]
# The kit's default map differs by who runs it: as root, 0–65535 inside are
# 100000–165535 outside (the customary first `/etc/subuid` block,
# `nslab.ROOT_RANGE`); as an ordinary user, one id, your own.

# %% tags=["nbval-ignore-output"]
# output varies: the default map is 0 100000 65536 as root and 0 <your uid> 1 rootless
with nslab.spawn(["user"]) as child:
    v = child.view()
print("uid_map:", v.uid_map, " gid_map:", v.gid_map, " setgroups:", v.setgroups)
plot_uid_map(v);
assert v.uid_map[0][0] == 0 and v.uid == 0

# %% [markdown]
# ## What root inside can do
#
# Root in a user namespace holds every capability — over the namespaces that
# user namespace owns. Create a UTS or mount namespace together with it and
# root inside may set that hostname and mount there, while the host's stay as
# they were.

# %%
with nslab.spawn(["user", "uts"], hostname="userns-box") as child:
    print("hostname inside:", child.run(["hostname"]).stdout.strip())
    print("host hostname unchanged:", nslab.view().hostname != "userns-box")
with nslab.spawn(["user", "mnt"]) as child:
    r = child.run(["mount", "-t", "tmpfs", "nslab-userns", "/mnt"])
    print("mount -t tmpfs nslab-userns /mnt inside: exit status", r.returncode, r.stderr.strip())
    seen = child.run(["findmnt", "-n", "-o", "SOURCE,FSTYPE", "/mnt"]).stdout.split()
    print("inside, /mnt is:", " ".join(seen))
    on_host = [m["mount_point"] for m in nslab.view().mounts if m["source"] == "nslab-userns"]
print("visible on the host:", on_host or "no")
assert r.returncode == 0 and seen == ["nslab-userns", "tmpfs"] and not on_host

# %% [markdown]
# ## What root inside cannot do
#
# Capabilities in a user namespace count only for objects that namespace
# owns. A file on the host belongs to the host's ids, and the kernel checks
# the process as the outside uid. So `id -u` says 0 and `cat /etc/shadow`
# still fails.
#
# The article also says "inside the namespace, `ls /root` works". It does not
# when `/root` is mode 700 and owned by the host's root, as on most
# distributions: uid 0 outside is not mapped inside, so `stat` shows the
# overflow id 65534 (`nobody`, `/proc/sys/kernel/overflowuid`), and root
# inside is not its owner.

# %%
with nslab.spawn(["user"]) as child:
    uid = child.run(["id", "-u"]).stdout.strip()
    shadow = child.run(["cat", "/etc/shadow"])
    owner = child.run(["stat", "-c", "%u %a", "/root"]).stdout.split()
    ls_root = child.run(["ls", "/root"])
print("id -u inside:", uid)
print("cat /etc/shadow:", shadow.stderr.strip())
print("stat -c '%u %a' /root inside:", " ".join(owner))
print("ls /root:", ls_root.stderr.strip() or "works")
assert uid == "0" and shadow.returncode != 0 and "Permission denied" in shadow.stderr
assert owner[0] == "65534"  # the host's root, unmapped, reads as the overflow id
if owner[1] == "700":
    assert ls_root.returncode != 0

# %% [markdown]
# ## When the unshare works and the map does not: AppArmor
#
# On Ubuntu 23.10 and later, AppArmor's
# `kernel.apparmor_restrict_unprivileged_userns=1` lets an unconfined program
# create the user namespace and then denies it the map write and the
# capabilities. The symptom is confusing: `unshare` succeeded, and you are
# `nobody`. `nslab.doctor()` tries a real child, map write included, and names
# the cause. On this machine:

# %% tags=["nbval-ignore-output"]
# output varies by machine: kernel version, privilege and this machine's sysctls
report = nslab.doctor(["user"])
f = report.facts
print(f"Linux {f['kernel']}, privilege {f['privilege']}, seccomp {f['seccomp']}")
print(report.frame().to_string(index=False))
print("kernel.apparmor_restrict_unprivileged_userns =", report.facts["apparmor_restrict_unprivileged_userns"] or "(no such sysctl: no AppArmor restriction)")
assert report.works("user")

# %% [markdown]
# Where that sysctl reads 1, the `user` row says NO and its cause reads:
#
# > AppArmor restricts unprivileged user namespaces
# > (kernel.apparmor_restrict_unprivileged_userns=1): run
# > 'sysctl kernel.apparmor_restrict_unprivileged_userns=0' or give python an
# > AppArmor profile that allows userns
#
# As root the restriction does not apply, which is why a notebook that works
# under `sudo` can fail for the same person without it.

# %% [markdown]
# ## The tree of user namespaces
#
# User namespaces nest: each one has a parent, and each other namespace is
# owned by one user namespace. `nslab.ns_tree("user")` walks them with the
# `NS_GET_PARENT` ioctl (ioctl_ns(2)). Here is this machine's, with a child
# of ours in it.

# %% tags=["nbval-ignore-output"]
# output varies by machine: the host's namespaces, inodes and processes
with nslab.spawn(["user"]) as child:
    tree = nslab.ns_tree("user")
    mine = str(child.view().ns["user"])
# ns_tree lists every process it could not read on a line of its own: many, rootless. Count them instead.
lines = tree.splitlines()
unreadable = [line for line in lines if line.startswith("(unreadable")]
print("\n".join(line for line in lines if line.strip() and not line.startswith("(unreadable")))
print("processes whose user namespace this user may not read:", len(unreadable))
assert mine in tree

# %% [markdown]
# ## The panel
#
# `UserPanel` wraps the calls above: toggle `user`, type a map (empty: the
# kit's default), and it spawns a fresh child and shows the child's `ids`
# table and the map figure.

# %% tags=["nbval-ignore-output"]
# output is a live widget: its state renders in the browser, not in the stored text
panel = UserPanel(["user"])
panel

# %%
# What the panel shows, read back from it.
v = panel.result
print("uid inside:", v.uid, "| ids table columns:", list(panel.frames["ids"].columns))
assert v.uid == 0 and not nslab.diff(nslab.view(), v).set_index("type").loc["user", "shared"]

# %% [markdown]
# ## Exercises
#
# **1.** Make a child that is root inside its own user namespace.

# %% tags=["solution"]
answer = nslab.spawn(["user"])

# %%
with answer:
    result = nslab.expect(answer, new=["user"], uid=0)
result

# %% [markdown]
# **2.** Make a child whose `uid_map` maps 0 inside to your own uid outside,
# one id — exactly what an ordinary user's `--map-root-user` writes. (Your uid
# is `os.geteuid()`; map the gid likewise.)

# %% tags=["solution"]
answer = nslab.spawn(["user"], uid_map=[(0, os.geteuid(), 1)], gid_map=[(0, os.getegid(), 1)])

# %%
with answer:
    result = nslab.expect(answer, new=["user"], uid=0, uid_map=[(0, os.geteuid(), 1)])
result

# %% [markdown]
# ## Summary
#
# - `uid_map` lines are `inside outside length`; `--map-root-user` maps root
#   to the caller's uid, so `0 0 1` only when root runs it.
# - Root inside holds capabilities over what its user namespace owns (its
#   hostname, its mounts), never over the host's files: those see the
#   outside uid, and unmapped ids read as 65534.
# - An unprivileged writer maps only its own id and writes `deny` to
#   `setgroups` before `gid_map`.
# - AppArmor's userns restriction lets the namespace be made and refuses the
#   map: `nslab.doctor()` names it.

# %%
panel.close()  # ends the panel's child; re-run the panel cell to play again
