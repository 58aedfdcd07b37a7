# %% [markdown]
# # 07 · TIME: two clocks that can be moved, one that cannot
#
# A time namespace (Linux 5.6) holds two offsets, one for `CLOCK_MONOTONIC`
# and one for `CLOCK_BOOTTIME` (and their `_RAW`, `_COARSE` and `_ALARM`
# variants). Every process in the namespace reads those clocks shifted by the
# offsets. `CLOCK_REALTIME`, the wall clock, is never shifted. The man page is
# `time_namespaces(7)`.
#
# Clocks tick while the notebook runs, so it prints offsets and differences
# rounded to whole seconds, never raw clock readings.

# %%
import sys

import nslab
from nslab.plots import plot_clocks
from nslab.widgets import TimePanel

TIME = nslab.NAMESPACES["time"]
print(f"{TIME.name}: {TIME.isolates} — {TIME.man}, since Linux {TIME.since}")
SKIP = nslab.skip_reason(["time"])  # None when time namespaces work here
print(SKIP or "time namespaces work here")

# %% [markdown]
# Kernels built without `CONFIG_TIME_NS` (WSL2's, for one) refuse
# `unshare(CLONE_NEWTIME)` with `EINVAL`. The kit then says so in the cell
# above, and every cell below that needs a time namespace prints that reason
# instead of failing.
#
# ## The article's try-it
#
# `unshare --time --boottime 100` makes a namespace whose boot-time clock is
# 100 s ahead; `/proc/uptime` reads `CLOCK_BOOTTIME`, so uptime inside is
# 100 s more than on the host. Like PID namespaces, `unshare(2)` does not move
# its caller: the new namespace becomes the caller's `time_for_children`,
# which its children enter (recent kernels, this one among them, also switch
# on the caller's next `execve`). `--fork` runs the commands as a child, the
# way it works on every kernel with time namespaces. Inside,
# `/proc/self/timens_offsets` lists the offsets as `clock seconds
# nanoseconds`.

# %% tags=["nbval-ignore-output"]
# output varies every run: the uptime is a clock reading
if SKIP:
    print(SKIP)
else:
    t = nslab.try_it(["--time", "--boottime", "100", "--fork"], "cat /proc/uptime; cat /proc/self/timens_offsets")
    print(t)
    with open("/proc/uptime") as f:
        host_uptime = float(f.read().split()[0])

# %%
if SKIP:
    print(SKIP)
else:
    inside_uptime = float(t.stdout.split()[0])
    offsets = [" ".join(line.split()) for line in t.stdout.splitlines()[1:]]
    print("offsets inside:", offsets)
    print("uptime inside − host, whole seconds:", round(inside_uptime - host_uptime))
    assert offsets == ["monotonic 0 0", "boottime 100 0"]
    assert abs(inside_uptime - host_uptime - 100) < 2

# %% [markdown]
# ## The same from nslab
#
# `nslab.spawn(["time"], boottime=3600, monotonic=60)` writes the offsets
# before the child's first process enters the namespace. The child's View
# holds the offsets and the three clocks read inside; the host's View holds
# the same clocks read outside a moment later.

# %%
if SKIP:
    print(SKIP)
else:
    with nslab.spawn(["time"], boottime=3600, monotonic=60) as child:
        inside = child.view()
        host = nslab.view()
    moved = {clock: round(inside.clocks[clock] - host.clocks[clock]) for clock in ("monotonic", "boottime", "realtime")}
    print("offsets inside:", inside.offsets)
    print("offsets on the host:", host.offsets)
    print("child − host, whole seconds:", moved)
    assert inside.offsets == {"monotonic": 60, "boottime": 3600}
    assert host.offsets == {"monotonic": 0, "boottime": 0}
    assert moved == {"monotonic": 60, "boottime": 3600, "realtime": 0}

# %% [markdown]
# As a figure: child − host for each clock. The two Views are read a moment
# apart, so even the clock that did not move shows a few milliseconds.

# %%
if SKIP:
    print(SKIP)
else:
    plot_clocks(host, inside);

# %% [markdown]
# Side by side, as the other notebooks show it: `time` is new (rootless, so
# is `user`: the kit adds it), and its row is the one that speaks of clocks.

# %%
if SKIP:
    print(SKIP)
else:
    d = nslab.diff(host, inside, labels=("host", "child")).set_index("type")
    print(d.loc[["time"], ["shared", "host_sees", "child_sees"]].to_string())
    assert not d.loc["time", "shared"]
    assert d.drop(["time", "user"])["shared"].all()  # user is new too when rootless (the kit adds it)

# %% [markdown]
# ## Set once, before anyone is inside
#
# The offsets can be written only while the namespace has no process yet.
# After the first one enters, a write to `timens_offsets` fails with
# `EACCES` (time_namespaces(7)), even from root inside with `CAP_SYS_TIME`.
# Here a process in the child tries to move its own monotonic clock by 5 s.
# (Through `sh`'s `echo` the same refusal would print only as a write error;
# Python names the errno.)

# %%
TRY_WRITE = """
import errno, os
fd = os.open("/proc/self/timens_offsets", os.O_WRONLY)
try:
    os.write(fd, b"monotonic 5 0\\n")
    print("written")
except OSError as err:
    print(errno.errorcode[err.errno], err.strerror)
"""
if SKIP:
    print(SKIP)
else:
    with nslab.spawn(["time"], boottime=3600, monotonic=60) as child:
        r = child.run([sys.executable, "-c", TRY_WRITE])
        after = child.view().offsets
    print("write inside:", r.stdout.strip() or r.stderr.strip())
    print("offsets afterwards:", after)
    assert r.stdout.strip() == "EACCES Permission denied"
    assert after == {"monotonic": 60, "boottime": 3600}

# %% [markdown]
# ## Myth: "a per-process offset on the system's monotonic clock"
#
# The article calls the time namespace "a per-process offset on the system's
# monotonic clock" and says it shows "this process's view". Two corrections,
# both visible here:
#
# - The offsets belong to the **namespace**: every process in it reads the
#   same shifted clocks. Below, a command run by the child's init and a
#   command that joins the namespace later with `setns(2)` (the way
#   `nsenter` and `docker exec` do) read the same offsets.
# - Nothing moves for anyone else: the host's offsets stay 0, its clocks go
#   on as before, and `CLOCK_REALTIME` is the same inside and out. A time
#   namespace cannot set the date.

# %%
if SKIP:
    print(SKIP)
else:
    with nslab.spawn(["time"], boottime=3600, monotonic=60) as child:
        started = child.run(["cat", "/proc/self/timens_offsets"]).stdout
        joined = child.enter(["cat", "/proc/self/timens_offsets"]).stdout
    with open("/proc/self/timens_offsets") as f:
        on_host = f.read()

    def rows(text):
        return [" ".join(line.split()) for line in text.splitlines()]

    print("a process started inside:", rows(started))
    print("a process that joined:   ", rows(joined))
    print("the host:                ", rows(on_host))
    assert rows(started) == rows(joined) == ["monotonic 60 0", "boottime 3600 0"]
    assert rows(on_host) == ["monotonic 0 0", "boottime 0 0"]

# %% [markdown]
# ## Why it exists: checkpoint and restore
#
# CRIU (Checkpoint/Restore In Userspace) freezes a process tree, writes its
# memory and state to disk, and restores it later, possibly on another
# machine. The program's timers and timeouts were computed from
# `CLOCK_MONOTONIC`, which counts from boot: on the new machine it reads a
# different value, so every pending timeout would be wrong. CRIU restores
# the tree in a new time namespace whose offsets make the monotonic and
# boot-time clocks continue from where they were. The wall clock is not
# theirs to fix: it is meant to be the same everywhere.

# %% [markdown]
# ## The panel
#
# `TimePanel` wraps the calls above: set the boot-time and monotonic offsets
# and it spawns a fresh child and redraws the child − host bars.

# %% tags=["nbval-ignore-output"]
# output is a live widget: its state renders in the browser, not in the stored text
panel = None if SKIP else TimePanel(["time"], boottime=100)
panel if panel is not None else print(SKIP)

# %%
# What the panel shows, read back from it.
if SKIP:
    print(SKIP)
else:
    print("offsets in the panel's child:", panel.result.offsets)
    print("clock table columns:", list(panel.frames["clocks"].columns))
    assert panel.result.offsets == {"monotonic": 0, "boottime": 100}

# %% [markdown]
# ## Exercises
#
# **1.** Make a child whose boot-time clock is one day ahead of the host's.

# %% tags=["solution"]
answer = None if SKIP else nslab.spawn(["time"], boottime=86400)

# %%
result = SKIP  # what the cell shows where time namespaces are missing
if not SKIP:
    with answer:
        result = nslab.expect(answer, new=["time"], boottime=86400)
result

# %% [markdown]
# **2.** A negative offset moves a clock back. How far back can the
# monotonic clock go? Try an offset of minus ten years and read what the kit
# says. (The kernel refuses an offset that would make a clock negative, with
# `ERANGE`; the kit checks that before it asks the kernel.)

# %% tags=["solution"]
try:
    nslab.spawn(["time"], monotonic=-10 * 365 * 86400)
except nslab.NsValueError as err:
    refusal = err

# %%
print(refusal.hint)
assert isinstance(refusal, nslab.NsValueError) and "negative" in refusal.message

# %% [markdown]
# The limit is the clock's current value: this machine has been up for less
# than ten years, so going that far back would put `CLOCK_MONOTONIC` below
# zero.
#
# ## Summary
#
# - A time namespace shifts `CLOCK_MONOTONIC` and `CLOCK_BOOTTIME` by fixed
#   offsets; `CLOCK_REALTIME` never moves, and neither does the host.
# - The offsets are the namespace's: every process in it, joined later or
#   not, reads the same clocks.
# - They are written to `/proc/self/timens_offsets` before the first process
#   enters; afterwards the write fails with `EACCES`.
# - Checkpoint/restore is why it exists; a kernel without `CONFIG_TIME_NS`
#   refuses with `EINVAL`, and the kit says so.

# %%
if panel is not None:
    panel.close()  # ends the panel's child; re-run the panel cell to play again
