# Notebook 03: network namespaces (network_namespaces(7)).
# Built and executed by notebooks/build.py; see notebooks/CONVENTIONS.md.

# %% [markdown]
# # 03 · NET: a network stack of its own
#
# A network namespace gives its processes their own **network devices,
# addresses, routes, port table, firewall and `/proc/net`**, and even their
# own space of abstract Unix socket names (network_namespaces(7)). A fresh one
# holds exactly one device, the loopback `lo`, and it is **DOWN**: no address,
# no route, nothing can be reached, not even `127.0.0.1`.
#
# This is why two containers can both listen on port 8080: there is no shared
# port table for them to collide in. This notebook shows that on your kernel,
# then joins two namespaces with a virtual cable and sends a request across.
#
# Reading: `network_namespaces(7)`, `veth(4)`, `ip-netns(8)`, `unix(7)`.
# Runs as an ordinary user too (the kit then adds a user namespace you own).
# About 15 minutes.

# %%
import os
import shutil
import socket
import sys

import nslab
import nslab.plots
import nslab.widgets

NET = nslab.NAMESPACES["net"]
print(f"{NET.man}: {NET.isolates}")
SKIP = nslab.skip_reason(["net"])
print(SKIP or "network namespaces can be made here")

# %% [markdown]
# ## Try it yourself
#
# The article makes its namespace with `sudo ip netns add mytest` and looks
# inside with `ip netns exec`. Here the same question (which links, which
# routes?) is asked of a namespace that `unshare --net` makes for one
# command and that vanishes when the command ends. (Not root? `try_it` adds
# `--user --map-root-user`, as you would have to.)

# %%
t = nslab.try_it(["--net"], "ip link; ip route")
print(t)
assert t.returncode == 0 and "1: lo:" in t.stdout and "state DOWN" in t.stdout
assert "2:" not in t.stdout  # one link, no route: `ip route` printed nothing

# %% [markdown]
# One link, `lo`, `state DOWN`, and `ip route` prints nothing at all.
#
# ### The trap in `ip netns add`
#
# Why not `ip netns add` as the article does? Because it changes the host in
# a way `ip netns del` does not undo. A namespace lives only while something
# holds it: a process in it, an open file descriptor of its
# `/proc/PID/ns/net`, or a bind mount of that file (namespaces(7)).
# `ip netns add NAME` chooses the bind mount: it creates `/run/netns`, makes
# it a **shared mount** of its own, and bind-mounts the namespace onto
# `/run/netns/NAME`. `ip netns del` removes `NAME`, but the shared
# `/run/netns` mount stays behind until the next reboot.
#
# Watch it happen, in a scratch mount namespace whose `/run` is a private
# tmpfs, so that not even the `/run/netns` directory appears on your host:

# %%
t = nslab.try_it(
    ["--mount", "--net"],
    "mount -t tmpfs nslab-run /run; "
    "ip netns add demo; echo '--- after ip netns add:'; ls -A /run/netns; "
    "findmnt -n -o TARGET,PROPAGATION -R /run/netns; "
    "ip netns del demo; echo '--- after ip netns del:'; ls -A /run/netns; "
    "findmnt -n -o TARGET,PROPAGATION -R /run/netns",
)
print(t)
after_del = t.stdout.split("--- after ip netns del:")[1]
assert t.returncode == 0 and "demo" not in after_del and "/run/netns" in after_del

# %% [markdown]
# After `ip netns del` the name is gone and the mount is not. The kit holds
# namespaces the other way: a child's init process holds them, and the kit
# holds the child by a socket. When the child closes, the namespace goes
# with it, and `/run/netns` is never touched:

# %%
def netns_entries():
    """What `ip netns list` would find: the names under /run/netns (none when it does not exist)."""
    return sorted(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else []


before = netns_entries()
with nslab.spawn(["net"]) as child:
    during = netns_entries()
    held_by = f"/proc/{child.pid}/ns/net"
    own = os.stat(held_by).st_ino != os.stat("/proc/self/ns/net").st_ino
after = netns_entries()
print("the child has a network namespace of its own:", own)
print("/run/netns unchanged while it lived and after:", before == during == after)
assert own and before == during == after

# %% [markdown]
# ## What a fresh namespace holds, read by nslab
#
# `child.view()` asks the kernel from inside the child, over rtnetlink (the
# protocol `ip` speaks), so what it reports is the child's own network stack.
# `nslab.expect` turns the claims into checks against the kernel:

# %%
with nslab.spawn(["net"]) as child:
    inside = child.view()
    checked = nslab.expect(child, new=["net"], links=["lo"], routes=0)
print([(link["name"], link["state"], link["addresses"]) for link in inside.links])
checked

# %% [markdown]
# The same child next to the kernel that runs this notebook (the "host"):
# only the `net` row differs. Your host's links are your own, so this table's
# output is not compared between machines.

# %% tags=["nbval-ignore-output"]
# output varies by machine: the host's links, hostname and namespace inodes
host = nslab.view()
table = nslab.diff(host, inside, labels=("host", "child"))
new = set(table.loc[~table["shared"], "type"])
assert "net" in new and new <= {"net", "user"}  # user too when not root: the kit adds one
table

# %% [markdown]
# ### `/sys/class/net` is not where to look
#
# `ls /sys/class/net` inside a new network namespace still lists the
# **host's** interfaces: a sysfs mount shows the devices of the network
# namespace that mounted it (sysfs(5)), and the child inherited the host's
# `/sys`. Only a fresh sysfs mount, in a mount namespace of the child's own,
# shows the child's devices. The kit reads links over netlink inside the
# namespace, which is right whatever is mounted where.

# %%
with nslab.spawn(["net", "mnt"]) as child:
    inherited = child.run(["ls", "/sys/class/net"]).stdout.split()
    child.run(["mount", "-t", "sysfs", "nslab-sysfs", "/sys"])  # inside the child's mount namespace only
    remounted = child.run(["ls", "/sys/class/net"]).stdout.split()
    netlink = [link["name"] for link in child.view().links]
print("inherited /sys lists the host's devices:", inherited == sorted(os.listdir("/sys/class/net")))
print("a fresh sysfs inside lists:", remounted)
print("netlink inside lists:      ", netlink)
assert inherited == sorted(os.listdir("/sys/class/net")) and remounted == netlink == ["lo"]

# %% [markdown]
# ## Two servers on port 8080, and a cable between them
#
# Now the article's claim: start a web server on port 8080 in namespace `a`
# and another on port 8080 in namespace `b`. Neither bind fails, because
# each namespace has its own port table.
#
# On their own the two could never talk: each has only its own `lo`. A
# **veth pair** (veth(4)) is a virtual cable with one end in each namespace.
# `nslab.veth(a, b)` creates it and addresses the ends `10.0.0.1/24` (`veth0`,
# in `a`) and `10.0.0.2/24` (`veth1`, in `b`). Without root, both namespaces
# must belong to one user namespace for that, so `b` is made inside `a`'s
# (`userns=a`); as root both are plain network namespaces.
#
# The request from `a` to `b` is a fixed Python script run inside `a`. It
# retries for a few seconds, since a server just started may not be
# listening yet.

# %%
SERVE = [sys.executable, "-m", "http.server", "8080", "--bind", "0.0.0.0"]  # noqa: S104 (all interfaces of the child's own namespace)
FETCH = """
import sys, time, urllib.request
url = sys.argv[1]
for attempt in range(100):
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            print(url, "->", reply.status)
            break
    except OSError:
        time.sleep(0.05)
else:
    print(url, "-> no answer")
"""


def peer_of(a):
    """A second network namespace that nslab.veth can join to a (rootless: inside a's user namespace)."""
    return nslab.spawn(["net"], userns=a) if "user" in a.namespaces else nslab.spawn(["net"])


def listening(proc_net_tcp):
    """Listening TCP ports in /proc/net/tcp and tcp6 text (proc(5): state 0A is LISTEN, ports in hex)."""
    ports = set()
    for line in proc_net_tcp.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 3 and fields[3] == "0A":
            ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return sorted(ports)


def host_tcp():
    text = ""
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(name) as f:
            text += f.read()
    return text


host_8080_before = 8080 in listening(host_tcp())
with nslab.spawn(["net"]) as a, peer_of(a) as b:
    nslab.veth(a, b)  # veth0 10.0.0.1/24 in a, veth1 10.0.0.2/24 in b
    a.start(SERVE)
    b.start(SERVE)
    print("in a:", a.run([sys.executable, "-c", FETCH, "http://10.0.0.2:8080/"]).stdout.strip())
    print("in b:", b.run([sys.executable, "-c", FETCH, "http://10.0.0.1:8080/"]).stdout.strip())
    ports = {name: listening(c.run(["cat", "/proc/net/tcp", "/proc/net/tcp6"]).stdout) for name, c in (("a", a), ("b", b))}
    ss = {name: c.run(["ss", "-Hltn"]).stdout.split() for name, c in (("a", a), ("b", b))} if shutil.which("ss") else None
    views = {"a": a.view(), "b": b.view()}
host_8080_after = 8080 in listening(host_tcp())
print("listening in a:", ports["a"], " in b:", ports["b"])
if ss:
    print("ss -ltn in a:", ss["a"][3], " in b:", ss["b"][3])
print("the host's port table unchanged on 8080:", host_8080_before == host_8080_after)
assert ports == {"a": [8080], "b": [8080]} and host_8080_before == host_8080_after

# %% [markdown]
# Both servers bound `0.0.0.0:8080`, each in its own port table, and the
# host's port table never had them. Each answered a request that came down
# the cable. Each namespace's `/proc/net/tcp` is its own: `/proc/net` is a
# link to `/proc/self/net`, which shows the network namespace of the process
# reading it (proc(5)).
#
# The two namespaces and the cable, drawn from the two views (a link's
# `IFLA_LINK` names its peer's index, and `IFLA_LINK_NETNSID` says the peer
# lives in another namespace):

# %%
ax = nslab.plots.plot_net(views)
assert len(ax.lines) == 1  # one veth pair, one line
for name, v in views.items():
    print(name, [(link["name"], link["kind"], [addr for addr in link["addresses"] if "." in addr]) for link in v.links])

# %% [markdown]
# (The IPv6 `fe80::` addresses in the figure are link-local ones the kernel
# derives from each end's random MAC address; the lists above keep IPv4.)
#
# ### Abstract Unix sockets follow the network namespace too
#
# A Unix socket whose name starts with a NUL byte has no file: it lives in
# the network namespace (unix(7)). Two namespaces can bind the same abstract
# name, and the host cannot reach either.

# %%
BIND_AND_WAIT = """
import socket, time
s = socket.socket(socket.AF_UNIX)
s.bind(b"\\0nslab-demo")
s.listen()
time.sleep(30)
"""
CONNECT = """
import socket, sys, time
for attempt in range(100):
    try:
        socket.socket(socket.AF_UNIX).connect(b"\\0nslab-demo")
        print("connected")
        break
    except OSError:
        time.sleep(0.05)
else:
    print("nothing there")
"""
BIND_ONCE = """
import socket
socket.socket(socket.AF_UNIX).bind(b"\\0nslab-demo")
print("bound")
"""
with nslab.spawn(["net"]) as a, nslab.spawn(["net"]) as b:
    a.start([sys.executable, "-c", BIND_AND_WAIT])
    in_a = a.run([sys.executable, "-c", CONNECT]).stdout.strip()
    in_b = b.run([sys.executable, "-c", BIND_ONCE]).stdout.strip()
    probe = socket.socket(socket.AF_UNIX)
    try:
        probe.connect(b"\0nslab-demo")
        on_host = "connected"
    except OSError:
        on_host = "nothing there"
    finally:
        probe.close()
print("connect in a:", in_a)
print("bind the same name in b:", in_b)
print("connect on the host:", on_host)
assert (in_a, in_b, on_host) == ("connected", "bound", "nothing there")

# %% [markdown]
# ## The panel
#
# `NetPanel` wraps the calls above: toggle `net` (and `user`), tick "veth to
# a peer", edit the two addresses, and the panel spawns a fresh child (and a
# peer) and shows their links, routes and the figure. It starts with a veth
# to a peer here.

# %% tags=["nbval-ignore-output"]
# output is a live widget: its state renders in the browser, not in stored text
panel = nslab.widgets.NetPanel(["net"], veth=True)
panel

# %% [markdown]
# The panel keeps what it showed, so code can read it (`panel.result` is the
# child's View, `panel.frames` the tables):

# %%
print(panel.spawn_call)
print("child links:", panel.frames["links"]["name"].tolist())
print("peer links: ", panel.frames["peer_links"]["name"].tolist())
print("routes:     ", panel.frames["routes"][panel.frames["routes"]["family"] == "inet"]["dst"].tolist())
assert panel.frames["links"]["name"].tolist() == ["lo", "veth0"]

# %% [markdown]
# ## Exercises
#
# **1.** Make a child whose network stack is as empty as the article's
# `ip netns add` namespace: only `lo`, and no route at all. Call it `answer`.

# %% tags=["solution"]
answer = nslab.spawn(["net"])

# %%
with answer:
    result = nslab.expect(answer, new=["net"], links=["lo"], routes=0)
result

# %% [markdown]
# **2.** A fresh `lo` is DOWN, so even `127.0.0.1` is unreachable: binding
# it fails with `EADDRNOTAVAIL`. Make a child with a new network namespace,
# bring its `lo` up *inside* it (`answer.run([...])` with `ip link set`), and
# call it `answer`. The check asks the kernel for the link's flags and tries
# a TCP connection to `127.0.0.1` inside.

# %% tags=["solution"]
answer = nslab.spawn(["net"])
up = answer.run(["ip", "link", "set", "dev", "lo", "up"])

# %%
LOOPBACK = """
import socket
server = socket.socket()
try:
    server.bind(("127.0.0.1", 0))
except OSError as err:
    print("127.0.0.1 unreachable:", err.strerror)
else:
    server.listen()
    socket.create_connection(server.getsockname(), timeout=2).close()
    print("127.0.0.1 reachable")
"""
with answer:
    lo = answer.view().links[0]
    reach = answer.run([sys.executable, "-c", LOOPBACK]).stdout.strip()
    result = nslab.expect(answer, new=["net"], links=["lo"])
print("lo flags:", lo["flags"], "| addresses:", lo["addresses"])
print(reach)
assert "UP" in lo["flags"], "lo is still DOWN: run ip link set dev lo up inside the child"
assert reach == "127.0.0.1 reachable"
result

# %% [markdown]
# Bringing `lo` up gave it `127.0.0.1/8` and `::1/128` and routes for them,
# but in the **local** routing table (`ip route show table local`), which is
# why the main table, and `expect(..., routes=0)`, stay empty.
#
# The panel's child and peer end here (re-run the panel cell to play again):

# %%
panel.close()

# %% [markdown]
# ## Summary
#
# - A new network namespace starts with one device, `lo`, DOWN, no address
#   and no route; it has its own port table, `/proc/net`, and abstract Unix
#   socket names.
# - Two servers on port 8080 in two namespaces do not conflict; a veth pair
#   is the cable that lets them reach each other.
# - `ip netns add` holds a namespace with a bind mount under a shared
#   `/run/netns` that outlives `ip netns del`; a process or an fd holds one
#   just as well and leaves nothing behind.
# - `/sys/class/net` shows the devices of whoever mounted sysfs; ask netlink
#   (`ip`, or `child.view().links`) inside the namespace instead.
#
# Next: `04-mnt`, the mount table.
