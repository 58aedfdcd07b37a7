"""The lab panels, driven from code as a reader's clicks would drive them.

No browser: setting a widget's ``value`` runs the same handler a click runs,
and the checks read what the panel exposes (``result``, ``frames``,
``figure``, ``child``) against the kernel's own state.  Figures are checked
by their artists (ticks, patches, texts), never by pixels.  Every panel spawns
a child as it is built, so nearly every test is ``live`` and runs inside the
host-snapshot fixture.  The same file runs as root and as uid 65534.
"""

from __future__ import annotations

import gc
import io
import os

import pytest
from matplotlib.colors import to_hex

import nslab
from nslab import widgets
from nslab.widgets import Lab, parse_map_text

live = pytest.mark.live
ROOT = nslab.privilege() == "root"
TYPES = list(nslab.NAMESPACES)


@pytest.fixture(scope="session", autouse=True)
def _warm_matplotlib():
    """Load fonts and caches before the first host snapshot (session scope: set up before it).

    matplotlib keeps font files and caches for the life of the process; the
    first figure of the session would otherwise look like a leak of the
    first test that draws.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure()
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.text(0, 0, "x", fontweight="bold")
    ax.text(0, 1, "x", style="italic")
    ax.set_title("x")
    for fmt in ("png", "svg"):
        fig.savefig(io.BytesIO(), format=fmt)


@pytest.fixture
def panels():
    """Make panels that are closed at teardown, before the host fixture compares."""
    made = []

    def make(cls=Lab, *args, **kw):
        lab = cls(*args, **kw)
        made.append(lab)
        return lab

    yield make
    for lab in made:
        lab.close()


def _gone(pid):
    return not os.path.exists(f"/proc/{pid}")


def _row(frame, t):
    return frame.set_index("type").loc[t]


# ---------------------------------------------------------------- pure


def test_parse_map_text():
    assert parse_map_text("0 100000 65536") == [(0, 100000, 65536)]
    assert parse_map_text("0 1000 1, 1 100000 65535") == [(0, 1000, 1), (1, 100000, 65535)]
    assert parse_map_text("0 1000 1\n5 5 1;") == [(0, 1000, 1), (5, 5, 1)]
    assert parse_map_text("   ") is None
    # Not integers: kept as they are, so the kit's check_idmap names the entry.
    assert parse_map_text("x y z") == [("x", "y", "z")]


PANELS = (
        widgets.UtsPanel,
        widgets.PidPanel,
        widgets.NetPanel,
        widgets.MntPanel,
        widgets.IpcPanel,
        widgets.UserPanel,
        widgets.TimePanel,
        widgets.CgroupPanel,
)


def test_focused_panels_are_configurations_of_lab():
    for cls in PANELS:
        assert issubclass(cls, Lab)
        assert set(cls.types) <= set(TYPES)
        # No copies: the behaviour lives in Lab alone.
        assert not {"update", "_request", "_show", "set", "close"} & set(vars(cls))


# ---------------------------------------------------------------- layout and state


@live
def test_toggles_in_kernel_order_and_options_hidden_without_their_namespace(panels):
    lab = panels()
    assert list(lab.toggles) == ["uts", "pid", "net", "mnt", "ipc", "user", "time", "cgroup"]
    assert set(lab.options) == {"hostname", "uid_map", "boottime", "monotonic", "mount_proc", "veth", "veth_addresses"}
    hidden = {n for n, w in lab.options.items() if w.layout.display == "none"}
    assert hidden == set(lab.options)
    lab.toggles["uts"].value = True
    assert lab.options["hostname"].layout.display != "none"
    lab.toggles["pid"].value = True
    assert lab.options["mount_proc"].layout.display == "none"  # needs pid AND mnt
    lab.toggles["mnt"].value = True
    assert lab.options["mount_proc"].layout.display != "none"
    lab.set(net=True)
    assert lab.options["veth"].layout.display != "none"
    assert lab.options["veth_addresses"].layout.display == "none"  # until the checkbox is on
    lab.set(uts=False, time=True)
    assert lab.options["hostname"].layout.display == "none"
    assert lab.options["boottime"].layout.display != "none" and lab.options["monotonic"].layout.display != "none"
    assert lab.state["namespaces"] == ("pid", "net", "mnt", "time")


@live
def test_all_toggles_off_shows_a_child_that_shares_everything(panels):
    lab = panels()
    assert lab.child is not None and lab.child.alive
    assert lab.spawn_call == "nslab.spawn([])"
    d = lab.frames["diff"]
    assert list(d.columns) == ["type", "host", "child", "shared", "host_sees", "child_sees", "differs"]
    assert list(d.type) == TYPES
    assert d.shared.all()
    assert set(lab.frames) == {"diff"}  # no toggles, no topic tables


@live
def test_uts_toggle_hostname_inside_only(panels):
    host_name = os.uname().nodename
    lab = panels()
    lab.toggles["uts"].value = True
    lab.options["hostname"].value = "inside-lab"
    assert lab.result.hostname == "inside-lab"
    uts = _row(lab.frames["diff"], "uts")
    assert uts.child_sees == "inside-lab"
    assert uts.host_sees == host_name
    assert not uts.shared
    assert lab.result.ns["uts"] != nslab.view().ns["uts"]
    assert os.uname().nodename == host_name


@live
def test_set_changes_several_with_one_respawn(panels):
    lab = panels()
    calls = []
    real = lab._spawn

    def counting(namespaces, **kw):
        calls.append((tuple(namespaces), kw))
        return real(namespaces, **kw)

    lab._spawn = counting
    lab.set(uts=True, pid=True, mnt=True, hostname="one-respawn")
    assert calls == [(("uts", "pid", "mnt"), {"hostname": "one-respawn", "mount_proc": True})]
    assert lab.result.hostname == "one-respawn" and lab.result.pid == 1
    with pytest.raises(nslab.NsValueError):
        lab.set(no_such_option=1)


@live
def test_option_without_its_namespace_is_not_passed(panels):
    lab = panels(Lab, hostname="kept-for-later")
    assert "hostname" not in lab.spawn_call
    assert _row(lab.frames["diff"], "uts").shared
    lab.toggles["uts"].value = True
    assert lab.result.hostname == "kept-for-later"
    with pytest.raises(nslab.NsValueError):
        widgets.UtsPanel(uid_map="0 0 1")  # the UTS panel has no user toggle


# ---------------------------------------------------------------- per type


@live
def test_pid_panel_child_is_pid_1_in_both_numberings(panels):
    lab = panels(widgets.PidPanel)
    lab.toggles["pid"].value = True
    assert lab.frames["pid"].pid[0] == 1
    tr = lab.frames["pid_translation"]
    init = tr[tr.host_pid == lab.child.pid]
    assert list(init.ns_pid) == [1]
    ax = lab.figure.axes[0]
    texts = {t.get_text() for t in ax.texts}
    assert {str(lab.child.pid), "1", "host PID namespace", "child PID namespace"} <= texts
    lab.toggles["pid"].value = False
    tr = lab.frames["pid_translation"]
    assert list(tr.host_pid) == list(tr.ns_pid) == [lab.child.pid]  # one process, one number


@live
def test_time_panel_shows_the_offsets(panels):
    lab = panels(widgets.TimePanel, ["time"], boottime=3600)
    clocks = lab.frames["clocks"].set_index("clock")
    assert clocks.loc["boottime", "offset"] == 3600
    assert clocks.loc["monotonic", "offset"] == 0
    assert clocks.loc["realtime", "offset"] == 0
    bars = lab.figure.axes[0].patches  # monotonic, boottime, realtime (plot_clocks)
    assert abs(bars[1].get_width() - 3600) < 1
    assert abs(bars[0].get_width()) < 1 and abs(bars[2].get_width()) < 1
    lab.options["monotonic"].value = -60
    assert lab.result.offsets == {"monotonic": -60, "boottime": 3600}


@live
def test_user_panel_map(panels, is_root):
    own = os.geteuid()
    lab = panels(widgets.UserPanel, ["user"])
    ids = lab.frames["ids"]
    uid_rows = ids[ids["map"] == "uid"]
    expect = (0, nslab.ROOT_RANGE[0], nslab.ROOT_RANGE[1]) if is_root else (0, own, 1)
    assert [tuple(r) for r in uid_rows[["inside", "outside", "count"]].itertuples(index=False)] == [expect]
    title = lab.figure.axes[0].get_title()
    assert f"uid {expect[1]} outside" in title
    if is_root:
        lab.options["uid_map"].value = "0 200000 1000"
        assert lab.result.uid_map == [(0, 200000, 1000)]
    else:
        # The kit's own rule, found by spawn's dry run: one line, your own id.
        pid = lab.child.pid
        lab.options["uid_map"].value = "0 100000 65536"
        assert isinstance(lab.result, nslab.NsValueError) and lab.child.pid == pid
        assert "uid_map" in lab.invalid


@live
def test_ns_matrix_figure_reflects_the_toggles(panels):
    lab = panels()
    fig = lab.figure
    lab.set(uts=True, ipc=True)
    assert lab.figure is fig and len(fig.axes) == 1  # one Figure, redrawn
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == TYPES
    assert [t.get_text() for t in ax.get_yticklabels()] == ["host", "child"]
    cells = {(round(p.get_x()), round(p.get_y())): to_hex(p.get_facecolor()) for p in ax.patches}
    new = set(lab.child.namespaces)
    for j, t in enumerate(TYPES):
        if t in new:
            assert cells[(j, 1)] != cells[(j, 0)], t
        else:
            assert cells[(j, 1)] == cells[(j, 0)], t
    svg = bytes(lab.image.value)
    assert svg.startswith(b"<?xml") and b"<svg" in svg[:400]
    assert lab.image.format == "svg+xml"


@live
def test_png_figure_format(panels):
    class PngLab(Lab):
        figure_format = "png"

    lab = panels(PngLab, ["uts"])
    assert lab.image.format == "png"
    assert bytes(lab.image.value).startswith(b"\x89PNG\r\n\x1a\n")


@live
@pytest.mark.parametrize("cls", PANELS)
def test_each_focused_panel_toggles_its_type(panels, cls):
    lab = panels(cls)
    assert list(lab.toggles) == list(cls.types)
    t = cls.types[0]
    lab.toggles[t].value = True
    assert lab.error is None, lab.error
    assert t in lab.child.namespaces
    assert not _row(lab.frames["diff"], t).shared
    assert set(cls.topics) <= set(lab.frames)
    assert lab.figure.axes and lab.image.value
    assert 0 < lab.update_seconds < 10


@live
def test_mnt_panel_fresh_proc(panels):
    lab = panels(widgets.MntPanel, ["mnt", "pid"])
    assert lab.options["mount_proc"].value is True
    mounts = lab.frames["mounts"]
    assert "/proc" in set(mounts.mount_point)
    assert lab.result.pid == 1
    ax = lab.figure.axes[0]
    bold = [t.get_text() for t in ax.texts if t.get_fontweight() == "bold"]
    assert any(s.startswith("/proc ") for s in bold)  # highlighted by plot_mounts


@live
def test_veth_peer_and_addresses(panels):
    lab = panels(Lab, ["net"])
    lab.set(veth=True, veth_addresses=("10.9.0.1/24", "10.9.0.2/24"))
    assert lab.error is None, lab.error
    assert lab.peer is not None and lab.peer.alive
    if nslab.privilege() == "user":
        assert "user" in lab.child.namespaces  # the peer joined its user namespace
    mine = {link["name"]: link["addresses"] for link in lab.result.links}
    theirs = {link["name"]: link["addresses"] for link in lab.peer_result.links}
    assert "10.9.0.1/24" in mine["veth0"] and "10.9.0.2/24" in theirs["veth1"]
    assert "veth1" in set(lab.frames["peer_links"].name)
    assert [t.get_text() for t in lab.figure.axes[0].get_yticklabels()] == ["host", "child", "peer"]
    peer_pid = lab.peer.pid
    lab.options["veth"].value = False
    assert lab.peer is None and _gone(peer_pid)


# ---------------------------------------------------------------- invalid input


@live
def test_invalid_hostname_spawns_nothing(panels):
    lab = panels(Lab, ["uts"])
    pid = lab.child.pid
    lab.options["hostname"].value = "bad name!"
    assert lab.child.pid == pid and lab.child.alive  # the previous child stays
    assert isinstance(lab.result, nslab.NsValueError) and lab.error is lab.result
    assert set(lab.invalid) == {"hostname"}
    assert "bad name!" in lab.messages["hostname"].value
    assert "RFC 1123" in lab.messages["hostname"].value
    assert widgets.RED in lab.options["hostname"].description
    assert "Nothing started" in lab.status.value
    # Other toggles keep working... only once the input is fixed or its namespace is off.
    lab.toggles["uts"].value = False
    assert lab.child.pid != pid and lab.error is None and not lab.invalid
    assert widgets.RED not in lab.options["hostname"].description
    assert _gone(pid)


@live
def test_invalid_uid_map_spawns_nothing(panels):
    lab = panels(Lab, ["user"])
    pid = lab.child.pid
    lab.options["uid_map"].value = "x y z"
    assert lab.child.pid == pid
    assert set(lab.invalid) == {"uid_map"}
    assert "not three integers" in lab.messages["uid_map"].value
    lab.options["uid_map"].value = ""
    assert lab.child.pid != pid and lab.error is None


@live
def test_negative_offset_beyond_the_clock_spawns_nothing(panels):
    lab = panels(widgets.TimePanel, ["time"])
    pid = lab.child.pid
    lab.options["boottime"].value = -(10**9)  # the clock reads far less than 31 years
    assert lab.child.pid == pid
    assert set(lab.invalid) == {"boottime"}
    assert "negative" in lab.messages["boottime"].value


@live
def test_invalid_address_spawns_nothing(panels):
    lab = panels(Lab, ["net"])
    pid = lab.child.pid
    lab.set(veth=True, veth_addresses=("10.0.0.1/24", "not-an-address"))
    assert lab.child.pid == pid and lab.peer is None
    assert set(lab.invalid) == {"veth_addresses"}
    child_end, peer_end = lab.options["veth_addresses"].children
    assert widgets.RED in peer_end.description and widgets.RED not in child_end.description


# ---------------------------------------------------------------- machine errors


@live
def test_unavailable_type_is_shown_and_other_toggles_keep_working(panels):
    lab = panels()
    real = lab._spawn

    def no_net(namespaces, **kw):
        if "net" in namespaces:
            raise nslab.NsLimitError(
                "unshare(CLONE_NEWNET) failed: No space left on device",
                nstype="net",
                errno=28,
                hint="/proc/sys/user/max_net_namespaces is 0 here: raise it",
            )
        return real(namespaces, **kw)

    lab._spawn = no_net
    old = lab.child.pid
    lab.toggles["net"].value = True
    assert isinstance(lab.result, nslab.NsLimitError)
    assert lab.child is None and _gone(old)
    shown = lab.error_box.value
    assert "NsLimitError" in shown and "max_net_namespaces is 0 here" in shown and "ENOSPC" in shown
    assert "Traceback" not in shown
    assert lab.frames == {}
    lab.set(net=False, uts=True)
    assert lab.error is None and lab.child.alive and "uts" in lab.child.namespaces
    assert lab.error_box.layout.display == "none"


# ---------------------------------------------------------------- lifetimes


@live
def test_replaced_child_is_gone(panels):
    lab = panels(Lab, ["uts"])
    old = lab.child.pid
    lab.toggles["pid"].value = True
    assert lab.child.pid != old
    assert _gone(old)


@live
def test_close_leaves_no_child(panels):
    lab = panels(Lab, ["pid", "mnt"])
    pid = lab.child.pid
    lab.close()
    assert lab.child is None and _gone(pid)
    lab.toggles["uts"].value = True  # a closed panel ignores its widgets
    assert lab.child is None
    assert lab._repr_mimebundle_() == {"text/plain": repr(lab)}


@live
def test_closing_the_widget_closes_the_child(panels):
    lab = panels(Lab, ["uts"])
    pid = lab.child.pid
    lab.widget.close()
    assert lab.child is None and _gone(pid)


@live
def test_garbage_collected_panel_closes_its_child():
    lab = Lab(["uts", "pid"])
    pid = lab.child.pid
    del lab
    gc.collect()
    assert _gone(pid)


@live
def test_displayable(panels):
    lab = panels()
    bundle = lab._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == lab.widget.model_id
