"""nslab.plots: figures checked by their data (texts, patch positions, colours, lines), never by pixels.

Most tests draw synthetic data; one live test draws every figure from the
Views of a real child (it runs inside conftest.py's host snapshot).
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display in CI

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.colors import to_rgba
from matplotlib.patches import Polygon, Rectangle

import nslab
from nslab import plots
from nslab._view import NsRef

HOST_INO = {
    "uts": 4026531838,
    "pid": 4026531836,
    "net": 4026531833,
    "mnt": 4026531832,
    "ipc": 4026531839,
    "user": 4026531837,
    "time": 4026531834,
    "cgroup": 4026531835,
}


@pytest.fixture(autouse=True)
def _close_figures(monkeypatch):
    def no_show(*a, **k):
        raise AssertionError("plots must never call plt.show()")

    monkeypatch.setattr(plt, "show", no_show)
    yield
    plt.close("all")


def texts(ax):
    return [t.get_text() for t in ax.texts]


def rects(ax):
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def cell_colours(ax):
    """{(column, row): facecolor} of the matrix cells."""
    return {(round(p.get_x()), round(p.get_y())): p.get_facecolor() for p in rects(ax)}


# ------------------------------------------------------------------ matrix
def _matrix_frame():
    rows = {
        "1 systemd": dict(HOST_INO),
        "1234 bash": dict(HOST_INO),
        "2000 nslab-init": dict(HOST_INO, uts=4026532001, pid=4026532002, mnt=4026532003),
        "2001 sleep": dict(HOST_INO, uts=4026532001, pid=4026532002, mnt=4026532003),
        "3000 other": dict(HOST_INO, uts=4026532101),
    }
    return pd.DataFrame.from_dict(rows, orient="index")[list(nslab.NAMESPACES)]


def test_ns_matrix_colours_by_identity():
    ax = plots.plot_ns_matrix(_matrix_frame())
    assert [t.get_text() for t in ax.get_xticklabels()] == ["uts", "pid", "net", "mnt", "ipc", "user", "time", "cgroup"]
    assert [t.get_text() for t in ax.get_yticklabels()][:2] == ["1 systemd", "1234 bash"]
    c = cell_colours(ax)
    assert len(c) == 5 * 8
    grey = to_rgba(plots.NEUTRAL)
    # uts column (0): host (rows 0, 1) grey; rows 2 and 3 share a colour; row 4 another.
    assert c[(0, 0)] == c[(0, 1)] == grey
    assert c[(0, 2)] == c[(0, 3)] != grey
    assert c[(0, 4)] not in (grey, c[(0, 2)])
    # net column (2): everyone shares the host's.
    assert {c[(2, r)] for r in range(5)} == {grey}
    # small matrix: every cell carries its inode
    assert str(HOST_INO["net"]) in texts(ax)
    assert texts(ax).count("4026532001") == 2


def test_ns_matrix_processes_shape_and_large():
    labels = ["1 systemd", "1234 bash", "2000 nslab-init", "2001 sleep", "3000 other"]
    # nslab.processes(): a (pid, comm) MultiIndex, Int64 inodes, <NA> where unreadable
    df = _matrix_frame().reset_index(drop=True).astype("Int64")
    df.index = pd.MultiIndex.from_tuples([tuple(lab.split(" ")) for lab in labels], names=["pid", "comm"])
    df.iloc[4, 0] = pd.NA
    ax = plots.plot_ns_matrix(df)
    assert [t.get_text() for t in ax.get_yticklabels()] == labels
    assert cell_colours(ax)[(0, 4)] == to_rgba("white")
    assert cell_colours(ax)[(0, 2)] != to_rgba(plots.NEUTRAL)
    # pid and comm as columns (the pid namespace then a second "pid" column)
    values = _matrix_frame().values.tolist()
    procs = [(1, "systemd"), (1234, "bash"), (2000, "nslab-init"), (2001, "sleep"), (3000, "other")]
    flat = pd.DataFrame(
        [[*p, *v] for p, v in zip(procs, values, strict=True)], columns=["pid", "comm", *nslab.NAMESPACES]
    )
    ax = plots.plot_ns_matrix(flat)
    assert [t.get_text() for t in ax.get_yticklabels()] == labels
    assert [t.get_text() for t in ax.get_xticklabels()] == list(nslab.NAMESPACES)
    assert "4026532002" in texts(ax)
    big = pd.concat([flat] * 8, ignore_index=True)  # 40 rows: no annotations
    ax2 = plots.plot_ns_matrix(big)
    assert len(rects(ax2)) == 40 * 8 and not any(t.isdigit() for t in texts(ax2))


def test_ns_matrix_views_use_dev_and_ino():
    class FakeView:  # just what the matrix reads: .ns, .raw, .uid_map
        raw, uid_map = {}, []

        def __init__(self, ns):
            self.ns = ns

    host = {t: NsRef(t, 4, i) for t, i in HOST_INO.items()}
    other_dev = dict(host, uts=NsRef("uts", 5, HOST_INO["uts"]))  # same inode, another nsfs: another namespace
    ax = plots.plot_ns_matrix({"host": FakeView(host), "a": FakeView(host), "child": FakeView(other_dev)})
    c = cell_colours(ax)
    assert c[(0, 0)] == c[(0, 1)] != c[(0, 2)]


def test_ns_matrix_missing_cell_and_bad_input():
    df = _matrix_frame()
    df.loc["3000 other", "time"] = None
    ax = plots.plot_ns_matrix(df)
    assert cell_colours(ax)[(6, 4)] == to_rgba("white")
    assert "?" in texts(ax)
    with pytest.raises(nslab.NsValueError):
        plots.plot_ns_matrix(42)
    with pytest.raises(nslab.NsValueError):
        plots.plot_ns_matrix(pd.DataFrame({"x": [1]}))


# --------------------------------------------------------------------- pid
def test_pid_translation_lines_and_boxes():
    data = [
        {"name": "nslab-init", "host_pid": 8606, "ns_pid": 1},
        {"name": "sleep", "host_pid": 8610, "ns_pid": 2},
        {"name": "deep", "host_pid": 8620, "ns_pid": None, "nspid": [8620, 5, 1]},  # depth 3: first and last
        {"name": "hidden", "host_pid": 8630, "ns_pid": None},
    ]
    _fig, given = plt.subplots()
    ax = plots.plot_pid_translation(data, ax=given)
    assert ax is given
    t = texts(ax)
    assert "host PID namespace" in t and "child PID namespace" in t
    assert {"8606", "1", "8610", "2", "8620", "nslab-init", "deep"} <= set(t)
    assert t.count("?") == 1
    assert len(ax.lines) == 3  # the unknown number gets no line
    # boxes: host column centred on x=0, child column on x=1, same row per process
    centres = sorted(
        (round(p.get_x() + p.get_width() / 2, 3), round(p.get_y() + p.get_height() / 2, 3)) for p in rects(ax)
    )
    assert centres == sorted([(0.0, float(i)) for i in range(4)] + [(1.0, float(i)) for i in range(4)])
    for line in ax.lines:
        ys = line.get_ydata()
        assert ys[0] == ys[1]


def test_pid_translation_frame_input_and_title():
    df = pd.DataFrame([{"name": "init", "host_pid": 77, "ns_pid": 1, "nspid": [77, 1]}])
    ax = plots.plot_pid_translation(df)
    assert ax.get_title().startswith("one process, two PIDs")
    assert len(ax.lines) == 1


def _fake_proc(tmp_path, procs, other=()):
    """A procfs-like tree: ns/pid symlinks to one file per namespace, so os.stat gives shared (st_dev, st_ino)."""
    (tmp_path / "nsfs").mkdir()
    for ns in ("child", "host"):
        (tmp_path / "nsfs" / ns).write_text("")
    for pid, ns, status in procs:
        d = tmp_path / str(pid)
        (d / "ns").mkdir(parents=True)
        os.symlink(tmp_path / "nsfs" / ns, d / "ns" / "pid")
        if status is not None:
            (d / "status").write_text(status)
    (tmp_path / "self").mkdir()
    return str(tmp_path)


def _status(name, pid, nspid):
    return f"Name:\t{name}\nState:\tS (sleeping)\nPid:\t{pid}\nPPid:\t1\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nNSpid:\t{nspid}\n"


def test_pid_translation_frame_scans(tmp_path, monkeypatch):
    proc = _fake_proc(
        tmp_path,
        [
            (500, "child", _status("nslab-init", 500, "500\t1")),
            (501, "child", _status("sh", 501, "501\t2")),
            (502, "child", None),  # vanished: no status any more
            (503, "child", _status("secret", 503, "503\t3")),
            (10, "host", _status("systemd", 10, "10")),
        ],
    )
    real = plots._read_status

    def read(path):
        if "/503/" in path:
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(plots, "_read_status", read)
    df = plots.pid_translation_frame(500, proc=proc)
    assert list(df.columns) == ["name", "host_pid", "ns_pid", "nspid"]
    assert df["host_pid"].tolist() == [500, 501, 503]
    assert df["ns_pid"].tolist()[:2] == [1, 2]
    assert pd.isna(df.loc[2, "name"]) and pd.isna(df.loc[2, "ns_pid"]) and 503 in df.attrs["errors"]
    assert df.loc[0, "nspid"] == [500, 1]
    ax = plots.plot_pid_translation(df)
    assert len(ax.lines) == 2
    with pytest.raises(nslab.ChildFailed):
        plots.pid_translation_frame(999, proc=proc)
    with pytest.raises(nslab.NsValueError):
        plots.pid_translation_frame("500", proc=proc)


# --------------------------------------------------------------------- ids
def bands(ax):
    return [p for p in ax.patches if isinstance(p, Polygon)]


def test_uid_map_bands_and_labels():
    _fig, given = plt.subplots()
    ax = plots.plot_uid_map([(0, 100000, 65536)], ax=given)
    assert ax is given
    t = texts(ax)
    assert "0-65535 → 100000-165535" in t
    assert "inside the user namespace" in t and "outside" in t
    assert {"0", "65535", "100000", "165535"} <= set(t)
    assert any("65534" in s and "unmapped" in s for s in t)
    assert ax.get_title() == "root inside is uid 100000 outside: nobody special on the host"
    (band,) = bands(ax)
    xy = band.get_xy()
    left = sorted({y for x, y in xy if x == 0})  # a closed Polygon repeats its first vertex
    right = sorted({y for x, y in xy if x == 1})
    ymin, ymax = ax.get_ylim()
    assert ymin < left[0] and right[1] < ymax  # 0 and 165535 both on screen
    assert right[0] > left[1]  # the outside range sits above the inside one: a shift, drawn
    assert abs((left[1] - left[0]) - (right[1] - right[0])) < 1e-9  # equal counts, equal heights


def test_uid_map_single_id_gid_and_view_like():
    ax = plots.plot_uid_map("0 1000 1\n", [(0, 1000, 1), (1, 100000, 10)])
    t = texts(ax)
    assert "0 → 1000" in t and "gid 1-10 → 100000-100009" in t
    assert [x.get_text() for x in ax.get_legend().get_texts()] == ["uid_map and gid_map", "gid_map only"]
    assert len(bands(ax)) == 2
    for band in bands(ax):
        ys = band.get_xy()[:, 1]
        assert max(ys) - min(ys) > 0.5  # a single id is as visible as a range

    class V:  # what plot_uid_map reads from a View
        ns, raw = {}, {}
        uid_map = gid_map = ((0, 0, 4294967295),)

    ax2 = plots.plot_uid_map(V())
    assert "0-4294967294 → 0-4294967294" in texts(ax2)
    assert [x.get_text() for x in ax2.get_legend().get_texts()] == ["uid_map = gid_map"]
    assert ax2.get_title() == "root inside is uid 0 outside: the same root"
    ax3 = plots.plot_uid_map([])
    assert any("nothing mapped" in s for s in texts(ax3))
    ax4 = plots.plot_uid_map(
        pd.DataFrame([("uid", 0, 1000, 1), ("gid", 0, 1000, 1)], columns=["map", "inside", "outside", "count"])
    )
    assert [x.get_text() for x in ax4.get_legend().get_texts()] == ["uid_map = gid_map"]


# ------------------------------------------------------------------ clocks
def test_clocks_differences():
    host = {"monotonic": 1000.0, "boottime": 1000.5, "realtime": 1.7e9}
    child = {"monotonic": 1000.02, "boottime": 1100.52, "realtime": 1.7e9 + 0.02}
    _fig, given = plt.subplots()
    ax = plots.plot_clocks(host, child, ax=given)
    assert ax is given
    bars = rects(ax)
    assert [round(b.get_width(), 2) for b in bars] == [0.02, 100.02, 0.02]
    assert bars[1].get_facecolor() != bars[0].get_facecolor() == to_rgba(plots.NEUTRAL)
    t = texts(ax)
    assert "+100.0 s" in t and t.count("+0.0 s") == 2
    assert "CLOCK_REALTIME never moves (time_namespaces(7))" in t
    assert [x.get_text() for x in ax.get_yticklabels()] == ["CLOCK_MONOTONIC", "CLOCK_BOOTTIME", "CLOCK_REALTIME"]
    with pytest.raises(nslab.NsValueError):
        plots.plot_clocks({"monotonic": 1}, child)


# ------------------------------------------------------------------ mounts
def _mount(mid, parent, mp, fstype="ext4", prop="private"):
    return {
        "mount_id": mid,
        "parent_id": parent,
        "mount_point": mp,
        "fstype": fstype,
        "source": "x",
        "propagation": prop,
    }


MOUNTS = [
    _mount(20, 1, "/", "ext4", "shared:1"),
    _mount(21, 20, "/proc", "proc", "shared:5"),
    _mount(22, 20, "/sys", "sysfs", "master:7"),
    _mount(23, 22, "/sys/fs/cgroup", "cgroup2", "shared:9 master:8"),
    _mount(24, 20, "/tmp", "tmpfs", "private"),
    _mount(25, 20, "/mnt/locked", "tmpfs", "unbindable"),
]


def _label_text(ax, mp):
    (t,) = [t for t in ax.texts if t.get_text().split("  ")[0] == mp]
    return t


def test_mounts_tree_colours_and_highlight():
    _fig, given = plt.subplots()
    ax = plots.plot_mounts(MOUNTS, ax=given, highlight="/tmp")
    assert ax is given
    assert _label_text(ax, "/proc").get_text() == "/proc  proc"
    colour = {
        mp: _label_text(ax, mp).get_bbox_patch().get_facecolor()
        for mp in ("/", "/sys", "/sys/fs/cgroup", "/tmp", "/mnt/locked")
    }
    assert colour["/"] == to_rgba(plots.PROPAGATION_COLOURS["shared"])
    assert colour["/sys"] == to_rgba(plots.PROPAGATION_COLOURS["slave"])
    assert colour["/sys/fs/cgroup"] == to_rgba(plots.PROPAGATION_COLOURS["shared+slave"])
    assert colour["/tmp"] == to_rgba(plots.PROPAGATION_COLOURS["private"])
    assert colour["/mnt/locked"] == to_rgba(plots.PROPAGATION_COLOURS["unbindable"])
    # indentation follows depth
    x = {mp: _label_text(ax, mp).get_position()[0] for mp in ("/", "/sys", "/sys/fs/cgroup")}
    assert x["/"] < x["/sys"] < x["/sys/fs/cgroup"]
    # the highlighted mount: red edge, bold; the others not
    hl = _label_text(ax, "/tmp")
    assert hl.get_bbox_patch().get_edgecolor() == to_rgba(plots.HIGHLIGHT) and hl.get_fontweight() == "bold"
    assert _label_text(ax, "/proc").get_bbox_patch().get_edgecolor() != to_rgba(plots.HIGHLIGHT)
    assert len(ax.lines) == 5  # one edge per non-root mount
    assert sum(1 for ln in ax.lines if ln.get_color() == plots.HIGHLIGHT) == 1
    legend = {t.get_text() for t in ax.get_legend().get_texts()}
    assert {"shared (shared:N)", "slave (master:N)", "private (no tag)", "unbindable", "highlighted"} <= legend


def test_mounts_accepts_frame_and_prunes_big_trees():
    ax = plots.plot_mounts(pd.DataFrame(MOUNTS))
    assert len([t for t in ax.texts if t.get_bbox_patch() is not None]) == 6
    # 1 root, 10 second-level mounts with 8 children each: 91 mounts
    big = [_mount(1, 0, "/")]
    for i in range(10):
        big.append(_mount(100 + i, 1, f"/d{i}"))
        big += [_mount(1000 + 10 * i + k, 100 + i, f"/d{i}/s{k}") for k in range(8)]
    big.append(_mount(5000, 1035, "/d3/s5/deep", "tmpfs"))
    ax = plots.plot_mounts(big, highlight=["/d3/s5/deep"])
    drawn = [t.get_text().split("  ")[0] for t in ax.texts if t.get_bbox_patch() is not None]
    assert len(drawn) <= 60 + 3
    assert "/d3/s5/deep" in drawn and "/d3/s5" in drawn and "/d7/s2" not in drawn
    assert _label_text(ax, "/d7").get_text().endswith("(+8)")
    assert _label_text(ax, "/d3").get_text().endswith("(+7)")  # s5 is drawn: it leads to the highlight
    assert _label_text(ax, "/").get_text() == "/  ext4"  # its children are all drawn


# --------------------------------------------------------------------- net
def _link(index, name, kind=None, state="UP", link=None, netnsid=None, addresses=()):
    return {
        "index": index,
        "name": name,
        "kind": kind,
        "state": state,
        "flags": [],
        "mtu": 1500,
        "address": None,
        "link": link,
        "link_netnsid": netnsid,
        "addresses": list(addresses),
    }


def test_net_boxes_and_veth_pairs():
    nets = {
        "host": [
            _link(1, "lo", state="UNKNOWN", addresses=["127.0.0.1/8"]),
            _link(7, "veth-a", "veth", link=2, netnsid=0, addresses=["10.0.0.1/24"]),
            _link(9, "veth-b", "veth", link=2, netnsid=1, addresses=["10.0.1.1/24"]),
        ],
        "child": [_link(1, "lo", state="DOWN"), _link(2, "eth0", "veth", link=7, netnsid=0, addresses=["10.0.0.2/24"])],
        "other": [
            _link(1, "lo", state="DOWN"),
            _link(2, "eth0", "veth", link=9, netnsid=0, addresses=["10.0.1.2/24"]),
            _link(3, "stray", "veth", link=4, netnsid=None),
        ],
    }
    _fig, given = plt.subplots()
    ax = plots.plot_net(nets, ax=given)
    assert ax is given
    assert len(ax.lines) == 2  # host-child and host-other; the stray end has no peer
    boxes = rects(ax)
    assert len(boxes) == 3 and boxes[0].get_x() < boxes[1].get_x() < boxes[2].get_x()
    t = texts(ax)
    assert {"host", "child", "other"} <= set(t)
    assert "7: veth-a  UP" in t and "1: lo  DOWN" in t
    assert t.count("10.0.0.2/24") == 2  # in the box and at the line's end
    assert ax.get_title() == "3 network namespaces, 2 veth pairs between them"


def test_net_unpaired_and_empty():
    ax = plots.plot_net(
        {"a": [_link(5, "v", "veth", link=6, netnsid=None)], "b": [_link(6, "w", "veth", link=5, netnsid=None)]}
    )
    assert len(ax.lines) == 0  # no link_netnsid: not known to cross namespaces
    ax = plots.plot_net({"fresh": []})
    assert "no links" in texts(ax)


def test_new_axes_when_none():
    for ax in (
        plots.plot_ns_matrix(_matrix_frame()),
        plots.plot_pid_translation([{"name": "a", "host_pid": 2, "ns_pid": 1}]),
        plots.plot_uid_map([(0, 0, 1)]),
        plots.plot_clocks(
            {"monotonic": 1, "boottime": 1, "realtime": 1}, {"monotonic": 1, "boottime": 1, "realtime": 1}
        ),
        plots.plot_mounts(MOUNTS),
        plots.plot_net({"x": []}),
    ):
        assert isinstance(ax, matplotlib.axes.Axes) and ax.figure is not None
    assert len(plt.get_fignums()) == 6


# -------------------------------------------------------------------- live
@pytest.mark.live
def test_live_figures_from_real_views():
    host = nslab.view()
    with nslab.spawn(["pid", "mnt", "user", "time", "net"], boottime=100) as child:
        inside = child.view()
        frame = plots.pid_translation_frame(child)
        assert frame["ns_pid"].tolist() == [1] and frame["host_pid"].tolist() == [child.pid]

        ax = plots.plot_pid_translation(frame)
        assert {str(child.pid), "1"} <= set(texts(ax)) and len(ax.lines) == 1

        ax = plots.plot_ns_matrix({"host": host, "child": inside})
        c = cell_colours(ax)
        new = set(child.namespaces)
        for j, t in enumerate(nslab.NAMESPACES):
            assert (c[(j, 0)] == c[(j, 1)]) == (t not in new), t

        ax = plots.plot_clocks(host, inside)
        boot = rects(ax)[1].get_width()
        assert 99.5 < boot < 101 and abs(rects(ax)[2].get_width()) < 0.5
        assert any(s.startswith("+100.") or s == "+99.9 s" for s in texts(ax))

        ax = plots.plot_uid_map(inside)
        assert ax.patches and ax.get_title().startswith("root inside is uid")

        tmpfs = [m["mount_point"] for m in inside.mounts][-1]
        ax = plots.plot_mounts(inside, highlight=tmpfs)
        assert any(t.get_fontweight() == "bold" for t in ax.texts if t.get_bbox_patch() is not None)

        ax = plots.plot_net({"host": host, "child": inside})
        assert len(rects(ax)) == 2 and len(ax.lines) == 0  # no veth was made
