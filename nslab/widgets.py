"""Lab panels: one toggle per namespace type, a fresh child on every change.

The plain call first, then the widget around it (ipywidgets' own examples):

    >>> import nslab
    >>> with nslab.spawn(["uts"], hostname="box") as child:
    ...     nslab.diff(nslab.view(), child.view(), labels=("host", "child"))
    >>> from nslab.widgets import Lab
    >>> lab = Lab(["uts"], hostname="box")
    >>> lab                                  # the panel: toggles, options, tables, figure
    >>> lab.frames["diff"]                   # the next cell reads what the panel showed

What a panel exposes (the names notebooks and tests build on):

``lab.toggles[t]``
    the ToggleButton of namespace type ``t`` (uts, pid, net, mnt, ipc, user,
    time, cgroup, in that order; a focused panel shows only some).
``lab.options[name]``
    the widget of one option, shown only while its namespaces are on:
    ``hostname`` (Text, uts), ``uid_map`` (Text such as "0 100000 65536",
    lines separated by "," ";" or newlines, user; empty: the kit's default
    map), ``boottime`` and ``monotonic`` (IntText, seconds, time),
    ``mount_proc`` (Checkbox "fresh /proc", pid and mnt), ``veth`` (Checkbox
    "veth to a peer", net) and ``veth_addresses`` (an HBox of two Texts: the
    child's end and the peer's end, shown while veth is on).
``lab.set(**values)``
    change several toggles (``uts=True``, or ``namespaces=[...]`` for all of
    them) and options (``hostname="box"``, ``veth_addresses=(a, b)``) with
    one respawn.  Setting a widget's ``.value`` from code is a click.
``lab.result``
    the last child's View, or the error shown (an NslabError).
``lab.error``, ``lab.invalid``
    the error shown (or None); {option: NsValueError} for marked options.
``lab.child``, ``lab.peer``
    the live Child and its veth peer (or None); ``lab.peer_result`` its View.
``lab.frames``
    the DataFrames shown: "diff" (host vs child, nslab.diff's columns) and
    one per topic table (View.frame's topics: "pid", "mounts", ...; the PID
    panel adds "pid_translation", a veth peer adds "peer_links").
``lab.figure``
    the matplotlib Figure (one per panel, emptied and redrawn, never
    pyplot's); ``lab.image`` holds it rendered (SVG, or PNG with
    ``figure_format = "png"``).
``lab.spawn_call``
    the nslab.spawn call the panel made last, as text.
``lab.update_seconds``
    how long the last update took, from the change to the new output.
``lab.close()``
    ends the child and its peer and closes the panel's widgets.

Decisions worth knowing:

- With every toggle off the panel still shows a child: one that shares
  every namespace with the kernel (``nslab.spawn([])``), so the diff shows
  "shared" on all eight rows.  That is the baseline the toggles move from.
- Invalid input (a hostname "bad name!", a uid_map "x y z", an offset that
  would make a clock negative) is checked with the kit's own validators and
  spawn's own dry run before anything is closed or started: the option turns
  red with the kit's message under it, the previous child stays, and
  ``lab.result`` is the NsValueError.
- An error the machine raises (NsPermissionError, NsUnsupportedError,
  NsLimitError, ChildFailed...) is shown with its cause and fix in the panel
  and the panel has no child; turning the offending toggle off works again.
- Children live only while the panel shows them: a replaced one is closed
  before the next starts, ``lab.close()`` and closing ``lab.widget`` end
  them, and a garbage-collected panel ends them too (weakref.finalize; the
  widgets' handlers hold the panel weakly so that can happen).
- The host's View is read once per panel (the panel never changes the
  host); ``lab.refresh()`` re-reads it.  The time panel re-reads it on every
  update, because its figure compares clocks read a moment apart.
"""

from __future__ import annotations

import contextlib
import html
import io
import ipaddress
import re
import time
import weakref

import ipywidgets as W

from ._errors import NslabError, NsValueError
from ._ns import NAMESPACES

__all__ = [
    "OPTIONS",
    "TOPICS_OF",
    "TYPES",
    "CgroupPanel",
    "IpcPanel",
    "Lab",
    "MntPanel",
    "NetPanel",
    "PidPanel",
    "TimePanel",
    "UserPanel",
    "UtsPanel",
    "parse_map_text",
]

TYPES = tuple(NAMESPACES)  # uts, pid, net, mnt, ipc, user, time, cgroup

# Each option and the namespaces it belongs to: without all of them the
# widget is hidden and the value is not passed (spawn would refuse it).
OPTIONS = {
    "hostname": ("uts",),
    "uid_map": ("user",),
    "boottime": ("time",),
    "monotonic": ("time",),
    "mount_proc": ("pid", "mnt"),
    "veth": ("net",),
    "veth_addresses": ("net",),  # and the veth checkbox
}

# The topic tables (View.frame topics) that go with each type in the full Lab.
TOPICS_OF = {
    "uts": (),  # the diff's uts row says it all
    "pid": ("pid",),
    "net": ("links", "routes"),
    "mnt": ("mounts",),
    "ipc": ("ipc",),
    "user": ("ids",),
    "time": ("clocks",),
    "cgroup": ("cgroups",),
}

DEFAULTS = {
    "hostname": "child",
    "uid_map": "",
    "boottime": 0,
    "monotonic": 0,
    "mount_proc": True,
    "veth": False,
    "veth_addresses": ("10.0.0.1/24", "10.0.0.2/24"),
}

RED = "#c0392b"
_DESC = {"description_width": "initial"}


def parse_map_text(text):
    """ "0 100000 65536, 1000 1000 1" -> [(0, 100000, 65536), (1000, 1000, 1)]; empty -> None.

    Pure text-to-rows: a token that is not an integer is kept as it is, so
    that the kit's own check (check_idmap) names the bad entry.
    """
    if not isinstance(text, str):
        raise NsValueError(f"uid_map text must be a string, got {type(text).__name__}", nstype="user")
    rows = []
    for line in re.split(r"[,;\n]+", text):
        tokens = line.split()
        if tokens:
            rows.append(tuple(int(t) if re.fullmatch(r"[+-]?\d+", t) else t for t in tokens))
    return rows or None


def _format_map(rows):
    return ", ".join(" ".join(str(v) for v in r) for r in rows)


def _check_address(addr, end):
    # The same check veth() makes, made before anything is started.
    try:
        return str(ipaddress.ip_interface(addr.strip()))
    except (ValueError, TypeError) as err:
        raise NsValueError(
            f"{end} address: not an address with prefix: {addr!r} ({err})", nstype="net", hint="e.g. '10.0.0.1/24'"
        ) from None


def _weak(method):
    """A widget handler that holds its panel weakly (the widget registry holds the widget)."""
    ref = weakref.WeakMethod(method)

    def handler(change):
        m = ref()
        if m is not None:
            m(change)

    return handler


class _Root(W.VBox):
    """The panel's root box: closing it (from code or Widget.close_all) closes the panel."""

    def close(self):
        lab = getattr(self, "_nslab_lab", lambda: None)()
        self._nslab_lab = lambda: None
        if lab is not None:
            lab.close()  # closes this box too, through the finalizer
        super().close()


def _release(live, widgets):
    """Close the children, then the widgets.  Holds no reference to the panel."""
    for key in ("peer", "child"):
        c = live.pop(key, None)
        if c is not None:
            with contextlib.suppress(NslabError, OSError):
                c.close()
    for w in widgets:
        if w.comm is not None:
            W.Widget.close(w)  # not _Root.close: that would come back here


class Lab:
    """The lab panel: toggles for namespace types, their options, and what a fresh child sees.

    ``Lab(namespaces=(), **options)``: the toggles that start on, and option
    values (see the module docstring for the names).  The panel spawns its
    first child at once.  Subclasses configure it through class attributes:
    ``types`` (the toggles shown), ``topics`` (the topic tables, or None for
    those of the toggled types), ``figure_kind`` (which plot), ``figsize``,
    ``fresh_host`` (re-read the host's View on every update).
    """

    title = "nslab: a child in the namespaces you choose"
    types = TYPES
    topics = None
    figure_kind = "ns_matrix"
    figsize = (8.5, 2.6)
    dpi = 72
    figure_format = "svg"  # or "png"; lab.image holds the bytes
    fresh_host = False
    table_height = "230px"

    def __init__(self, namespaces=(), **options):
        from ._ns import parse_namespaces

        on = set(parse_namespaces(namespaces))
        extra = on - set(self.types)
        if extra:
            raise NsValueError(
                f"{type(self).__name__} has no toggle for {', '.join(sorted(extra))}",
                hint=f"its toggles: {', '.join(self.types)}",
            )
        self._holding = 0
        self._dirty = False
        self._closed = False
        self._host = None
        self._live = {}  # "child", "peer": what the finalizer closes
        self.result = None
        self.peer_result = None
        self.error = None
        self.invalid = {}
        self.frames = {}
        self.spawn_call = None
        self.update_seconds = None
        self._build_widgets()
        self._finalizer = weakref.finalize(self, _release, self._live, self._all_widgets)
        with self.hold():
            self.set(namespaces=on, **options)
            self._dirty = True  # the first child, even if nothing changed

    # ------------------------------------------------------------ widgets
    def _build_widgets(self):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        made = []

        def mk(cls, **kw):
            w = cls(**kw)
            made.append(w)
            return w

        self.toggles = {}
        for t in self.types:
            ns = NAMESPACES[t]
            self.toggles[t] = mk(
                W.ToggleButton,
                value=False,
                description=t,
                tooltip=f"new {t} namespace: {ns.isolates} ({ns.man})",
                layout=W.Layout(width="78px"),
            )
        shown_opts = [o for o, need in OPTIONS.items() if set(need) <= set(self.types)]
        self.options = {}
        self.messages = {}
        text = {"continuous_update": False, "style": _DESC, "description_allow_html": True}
        for name in shown_opts:
            if name == "hostname":
                w = mk(W.Text, value=DEFAULTS[name], description="hostname", placeholder="e.g. box", **text)
            elif name == "uid_map":
                w = mk(
                    W.Text,
                    value=DEFAULTS[name],
                    description="uid_map",
                    placeholder="default: " + self._default_map_text(),
                    **text,
                )
            elif name in ("boottime", "monotonic"):
                w = mk(W.IntText, value=DEFAULTS[name], description=f"{name} offset (s)", **text)
            elif name == "mount_proc":
                w = mk(
                    W.Checkbox,
                    value=DEFAULTS[name],
                    description="fresh /proc",
                    indent=False,
                    description_allow_html=True,
                )
            elif name == "veth":
                w = mk(
                    W.Checkbox,
                    value=DEFAULTS[name],
                    description="veth to a peer",
                    indent=False,
                    description_allow_html=True,
                )
            else:  # veth_addresses
                a, b = DEFAULTS[name]
                ends = [
                    mk(W.Text, value=a, description="child end", **text),
                    mk(W.Text, value=b, description="peer end", **text),
                ]
                w = mk(W.HBox, children=ends)
            self.options[name] = w
            self.messages[name] = mk(W.HTML, value="", layout=W.Layout(display="none"))
        self._labels = {}
        for name in self.options:
            for v in self._value_widgets(name):
                self._labels[id(v)] = v.description
        self.status = mk(W.HTML, value="")
        self.error_box = mk(W.HTML, value="", layout=W.Layout(display="none"))
        box = {"height": self.table_height, "overflow": "auto", "border": "1px solid #ddd"}
        self.diff_box = mk(W.HTML, value="", layout=W.Layout(**box))
        self.topic_box = mk(W.HTML, value="", layout=W.Layout(**box))
        if self.topics == ():
            self.topic_box.layout.display = "none"
        w_px, h_px = (round(s * self.dpi) for s in self.figsize)
        self.image = mk(
            W.Image,
            format="svg+xml" if self.figure_format == "svg" else "png",
            layout=W.Layout(width=f"{w_px}px", height=f"{h_px}px"),
        )
        self.figure = Figure(figsize=self.figsize, dpi=self.dpi)
        self._fit_cache = {}  # figure shape -> margins that fit it
        FigureCanvasAgg(self.figure)
        rows = [mk(W.VBox, children=[w, self.messages[n]]) for n, w in self.options.items()]
        self._rows = dict(zip(self.options, rows, strict=True))
        self.widget = mk(
            _Root,
            children=[
                mk(W.HTML, value=f"<b>{html.escape(self.title)}</b>"),
                mk(W.HBox, children=list(self.toggles.values())),
                mk(W.VBox, children=rows),
                self.status,
                self.error_box,
                self.diff_box,
                self.topic_box,
                self.image,
            ],
        )
        self.widget._nslab_lab = weakref.ref(self)
        self._all_widgets = made
        handler = _weak(self._on_change)
        for w in self.toggles.values():
            w.observe(handler, names="value")
        for name in self.options:
            for v in self._value_widgets(name):
                v.observe(handler, names="value")
        self._sync_visibility()

    def _value_widgets(self, name):
        w = self.options[name]
        return list(w.children) if name == "veth_addresses" else [w]

    @staticmethod
    def _default_map_text():
        from . import _api

        priv = _api.privilege()
        return _format_map(_api._default_maps(priv)[0])

    def _active(self, name):
        if name not in self.options:
            return False
        on = all(self.toggles[t].value for t in OPTIONS[name])
        if name == "veth_addresses":
            on = on and self.options["veth"].value
        return on

    def _sync_visibility(self):
        for name, row in self._rows.items():
            display = None if self._active(name) else "none"
            if row.layout.display != display:
                row.layout.display = display
                self.options[name].layout.display = display

    # ------------------------------------------------------------ state
    @property
    def namespaces(self):
        """The toggled types, in the kit's order."""
        return tuple(t for t in self.types if self.toggles[t].value)

    @property
    def state(self):
        """{"namespaces": (...), option: value, ...}: every toggle and option as the widgets hold them."""
        out = {"namespaces": self.namespaces}
        for name in self.options:
            vals = [v.value for v in self._value_widgets(name)]
            out[name] = tuple(vals) if name == "veth_addresses" else vals[0]
        return out

    def set(self, **values):
        """Change several toggles and options with one respawn.

        ``lab.set(uts=True, hostname="box")``; ``namespaces=[...]`` turns on
        exactly those toggles.  uid_map takes text or a list of tuples,
        veth_addresses a pair of strings.  Unknown names raise NsValueError.
        """
        values = dict(values)
        if "namespaces" in values:
            from ._ns import parse_namespaces

            want = set(parse_namespaces(values.pop("namespaces")))
            missing = want - set(self.types)
            if missing:
                raise NsValueError(
                    f"{type(self).__name__} has no toggle for {', '.join(sorted(missing))}",
                    hint=f"its toggles: {', '.join(self.types)}",
                )
            for t in self.types:
                values.setdefault(t, t in want)
        unknown = [k for k in values if k not in self.toggles and k not in self.options]
        if unknown:  # checked before anything changes: a bad name changes nothing
            raise NsValueError(
                f"{type(self).__name__} has no toggle or option {unknown[0]!r}",
                hint=f"toggles: {', '.join(self.toggles)}; options: {', '.join(self.options)}",
            )
        with self.hold():
            for key, val in values.items():
                if key in self.toggles:
                    self.toggles[key].value = bool(val)
                else:
                    self._set_option(key, val)

    def _set_option(self, name, val):
        if name == "veth_addresses":
            a, b = val
            ends = self._value_widgets(name)
            ends[0].value, ends[1].value = str(a), str(b)
        elif name == "uid_map" and not isinstance(val, str):
            self.options[name].value = "" if val is None else _format_map(val)
        elif name == "hostname" and val is None:
            self.options[name].value = ""
        else:
            self.options[name].value = val

    @contextlib.contextmanager
    def hold(self):
        """Hold updates while several widgets change; update once at the end if anything did."""
        self._holding += 1
        try:
            yield self
        finally:
            self._holding -= 1
            if not self._holding and self._dirty:
                self._dirty = False
                self.update()

    def _on_change(self, change):
        if self._closed:
            return
        self._sync_visibility()
        owner = next((n for n in self.options if change["owner"] in self._value_widgets(n)), None)
        if owner is not None and not self._active(owner):
            return  # a hidden option: the request did not change
        if self._holding:
            self._dirty = True
        else:
            self.update()

    # ------------------------------------------------------------ the request
    def _request(self):
        """(namespaces, spawn kwargs, veth addresses or None) from the widgets; NsValueError marks ``.option``."""
        from . import _api
        from ._validate import check_hostname, check_idmap, check_offset

        names = list(self.namespaces)
        kw, addrs = {}, None
        problems = {}

        def check(name, fn):
            try:
                return fn()
            except NsValueError as err:
                problems[name] = err
                return None

        if self._active("hostname"):
            host = self.options["hostname"].value.strip()
            if host:  # empty: the child keeps its copy of the host's name
                kw["hostname"] = check("hostname", lambda: check_hostname(host))
        if self._active("uid_map"):
            rows = check("uid_map", lambda: parse_map_text(self.options["uid_map"].value))
            if rows is not None:
                kw["uid_map"] = check("uid_map", lambda: check_idmap(rows, "uid_map"))
        for clock in ("boottime", "monotonic"):
            if self._active(clock):
                val = check(clock, lambda c=clock: check_offset(self.options[c].value, c))
                if val:  # 0 is spawn's default: keep the call as short as the reader would write it
                    kw[clock] = val
        if self._active("mount_proc"):
            kw["mount_proc"] = bool(self.options["mount_proc"].value)
        if self._active("veth_addresses"):
            ends = self._value_widgets("veth_addresses")
            addrs = check(
                "veth_addresses",
                lambda: tuple(_check_address(w.value, e) for w, e in zip(ends, ("child end", "peer end"), strict=True)),
            )
        if not problems:
            # spawn's own dry run: every rule spawn applies, nothing started.
            try:
                _api._build_spec(
                    names,
                    kw.get("hostname"),
                    None,
                    kw.get("monotonic", 0),
                    kw.get("boottime", 0),
                    kw.get("uid_map"),
                    None,
                    kw.get("mount_proc"),
                    None,
                )
            except NsValueError as err:
                problems[self._blame(err)] = err
        return names, kw, addrs, problems

    def _blame(self, err):
        """Which option an NsValueError from spawn's checks is about (None: the toggles)."""
        text = str(err)
        for name in ("boottime", "monotonic", "mount_proc", "uid_map", "hostname"):
            if name in self.options and self._active(name) and name in text:
                return name
        by_type = {"uts": "hostname", "user": "uid_map", "net": "veth_addresses"}
        name = by_type.get(err.nstype)
        return name if name in self.options and self._active(name) else None

    def _mark(self, problems):
        for name in self.options:
            err = problems.get(name)
            for v in self._value_widgets(name):
                label = self._labels[id(v)]
                bad = err is not None and (name != "veth_addresses" or label.split()[0] in str(err))
                v.description = f"<span style='color:{RED}'>{html.escape(label)}</span>" if bad else label
                if hasattr(v.style, "text_color"):
                    v.style.text_color = RED if bad else None
            msg = self.messages[name]
            msg.value = err._repr_html_() if err is not None else ""
            msg.layout.display = None if err is not None else "none"
        self.invalid = {n: e for n, e in problems.items() if n is not None}

    def _spawn(self, namespaces, **kw):
        """The one place the panel starts children (tests replace it to simulate a failing machine)."""
        import nslab

        return nslab.spawn(namespaces, **kw)

    def _host_view(self):
        if self._host is None or self.fresh_host:
            import nslab

            self._host = nslab.view()
            self._host.label = "host"
        return self._host

    # ------------------------------------------------------------ update
    def update(self):
        """Spawn a fresh child for the current toggles and options and show what it sees."""
        if self._closed:
            return
        t0 = time.perf_counter()
        names, kw, addrs, problems = self._request()
        self._mark(problems)
        if problems:
            err = next(iter(problems.values()))
            self.result = self.error = err
            if None in problems:  # not about one option: show it above the tables
                self._show_error(err)
            keep = f"still showing child {self.child.pid}" if self.child else "no child"
            self.status.value = (
                f"<span style='color:{RED}'>Nothing started: fix the marked input ({html.escape(keep)}).</span>"
            )
            self.update_seconds = time.perf_counter() - t0
            return
        self._close_children()
        call = f"nslab.spawn({names!r}" + "".join(f", {k}={v!r}" for k, v in kw.items()) + ")"
        self.spawn_call = call
        try:
            child = self._live["child"] = self._spawn(names, **kw)
            if addrs is not None:
                import nslab

                if "user" in child.namespaces:  # rootless always; as root when "user" is on
                    self._live["peer"] = self._spawn(["net"], userns=child)
                else:
                    self._live["peer"] = self._spawn(["net"])
                nslab.veth(child, self._live["peer"], addresses=addrs)
            view = child.view()
            peer = self._live.get("peer")
            peer_view = peer.view() if peer is not None else None
        except NslabError as err:
            self._close_children()
            self.result = self.error = err
            self.peer_result = None
            self.frames = {}
            self._show_error(err)
            self.diff_box.value = self.topic_box.value = ""
            self.status.value = f"<code>{html.escape(call)}</code> failed: no child"
            self._draw_nothing(f"no child: {type(err).__name__} (see above)")
            self.update_seconds = time.perf_counter() - t0
            return
        view.label = "child"
        if peer_view is not None:
            peer_view.label = "peer"
        self.result, self.peer_result, self.error = view, peer_view, None
        self._show_error(None)
        self._show(view, peer_view)
        self.update_seconds = time.perf_counter() - t0
        new = ", ".join(child.namespaces) or "none: it shares all eight"
        implicit = " (user added: unprivileged)" if child.implicit_user else ""
        self.status.value = (
            f"<code>{html.escape(call)}</code> → child {child.pid}, new: {html.escape(new)}{implicit}"
            f"{f'; peer {peer.pid} joined by veth' if peer is not None else ''} · {self.update_seconds * 1e3:.1f} ms"
        )

    def _show_error(self, err):
        self.error_box.value = err._repr_html_() if err is not None else ""
        self.error_box.layout.display = None if err is not None else "none"

    def _topics(self):
        if self.topics is not None:
            return tuple(self.topics)
        out = []
        for t in self.namespaces:
            out += [x for x in TOPICS_OF[t] if x not in out]
        return tuple(out)

    def _show(self, view, peer_view):
        import nslab

        host = self._host_view()
        frames = {"diff": nslab.diff(host, view, labels=("host", "child"))}
        for topic in self._topics():
            frames[topic] = view.frame(topic)
            if peer_view is not None and topic == "links":
                frames["peer_links"] = peer_view.frame("links")
        if self.figure_kind == "pid_translation":
            frames["pid_translation"] = self._pid_translation()
        self.frames = frames
        self.diff_box.value = _table(frames["diff"], "host vs child")
        self.topic_box.value = "".join(
            _table(f, f"child: {k}" if k != "peer_links" else "peer: links") for k, f in frames.items() if k != "diff"
        )
        # No topic table for this set of toggles: no empty bordered box either.
        self.topic_box.layout.display = None if self.topic_box.value else "none"
        self._draw(host, view, peer_view)

    def _pid_translation(self):
        from . import plots

        frame = plots.pid_translation_frame(self.child)
        if "pid" not in self.child.namespaces:
            # Without a PID namespace the scan would list every host process; the child's own row says it.
            frame = frame[frame["host_pid"] == self.child.pid].reset_index(drop=True)
        return frame

    # ------------------------------------------------------------ figure
    def _draw(self, host, view, peer_view):
        from . import plots

        ax = self._axes()
        kind = self.figure_kind
        if kind == "ns_matrix":
            data = {"host": host, "child": view}
            if peer_view is not None:
                data["peer"] = peer_view
            plots.plot_ns_matrix(data, ax=ax)
        elif kind == "pid_translation":
            plots.plot_pid_translation(self.frames["pid_translation"], ax=ax)
        elif kind == "uid_map":
            plots.plot_uid_map(view, ax=ax)
        elif kind == "clocks":
            plots.plot_clocks(host, view, ax=ax)
        elif kind == "mounts":
            plots.plot_mounts(
                view,
                ax=ax,
                highlight="/proc" if self._active("mount_proc") and self.options["mount_proc"].value else None,
            )
        elif kind == "net":
            data = {"host": host, "child": view}
            if peer_view is not None:
                data["peer"] = peer_view
            plots.plot_net(data, ax=ax)
        else:
            raise NsValueError(f"unknown figure_kind {kind!r}")
        self._fit()
        self._render()

    def _axes(self):
        """The panel's one Axes, emptied but not rebuilt.

        fig.clear() or ax.clear() throws the axis ticks away and rebuilding
        them is a third of a redraw; every plot_* sets its own limits, ticks
        and title, so removing the artists is enough for the next call of the
        same plot (a panel draws one kind only).
        """
        fig = self.figure
        if len(fig.axes) != 1 or fig.texts:
            fig.clear()
            return fig.add_subplot()
        ax = fig.axes[0]
        for artist in [*ax.patches, *ax.texts, *ax.lines, *ax.collections, *ax.images, *ax.artists, *ax.tables]:
            artist.remove()
        ax.containers.clear()
        if ax.legend_ is not None:
            ax.legend_.remove()
        for loc in ("left", "center", "right"):
            ax.set_title("", loc=loc)
        ax.ignore_existing_data_limits = True
        return ax

    def _draw_nothing(self, text):
        self.figure.clear()
        self.figure.text(0.5, 0.5, text, ha="center", va="center", color=RED)
        self._render()

    def _render(self):
        import matplotlib

        buf = io.BytesIO()
        if self.figure_format == "svg":
            # Text as SVG <text>, not rasterised glyphs: half the time of a PNG
            # (glyph rendering is most of a draw) and sharp at any zoom.
            with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "nslab"}):
                self.figure.savefig(buf, format="svg")
        else:
            self.figure.savefig(buf, format="png")
        self.image.value = buf.getvalue()

    def _fit(self):
        """Make room for titles, long tick labels and legends outside the axes.

        Fitting costs a full draw, so it runs once per shape of the figure's
        texts (its tick labels, title, legend) and the margins are remembered:
        toggling back and forth reuses them (bbox_inches="tight" on every
        save doubled the update time).
        """
        ax = self.figure.axes[0] if self.figure.axes else None
        if ax is None:
            return
        key = (
            tuple(t.get_text() for t in ax.get_yticklabels()),
            len(ax.get_xticklabels()),
            ax.get_title(),
            ax.get_legend() is not None,
        )
        margins = self._fit_cache.get(key)
        if margins is None:
            from matplotlib.layout_engine import TightLayoutEngine

            # The engine's margins once per shape, not the engine itself: a
            # figure that has one (fig.tight_layout leaves a placeholder) is
            # drawn twice by every savefig.
            TightLayoutEngine(pad=0.4).execute(self.figure)
            p = self.figure.subplotpars
            margins = self._fit_cache[key] = {k: getattr(p, k) for k in ("left", "right", "top", "bottom")}
        self.figure.subplots_adjust(**margins)

    # ------------------------------------------------------------ life
    @property
    def child(self):
        """The live Child shown (None after an error or close)."""
        return self._live.get("child")

    @property
    def peer(self):
        return self._live.get("peer")

    def _close_children(self):
        for key in ("peer", "child"):
            c = self._live.pop(key, None)
            if c is not None:
                with contextlib.suppress(NslabError, OSError):
                    c.close()

    def refresh(self):
        """Re-read the host's View and respawn."""
        self._host = None
        self.update()

    def close(self):
        """End the child and its peer, and close the panel's widgets.  Idempotent."""
        self._closed = True
        self._finalizer()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _repr_mimebundle_(self, **kwargs):
        if self._closed:
            return {"text/plain": repr(self)}
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self):
        state = "closed" if self._closed else (f"child pid={self.child.pid}" if self.child else "no child")
        return f"<nslab.widgets.{type(self).__name__} ns={','.join(self.namespaces) or '-'} {state}>"


def _table(frame, caption):
    # Headers left-aligned like their cells (pandas right-aligns them), and
    # None shown as nothing, as NaN already is.
    body = frame.astype(object).where(frame.notna(), "").to_html(index=False, border=0, na_rep="")
    body = body.replace("<th>", "<th style='text-align:left'>").replace('<tr style="text-align: right;">', "<tr>")
    return f"<div style='font-size:90%'><b>{html.escape(caption)}</b>{body}</div>"


# ---------------------------------------------------------------- focused panels
# One per notebook: a Lab with fewer toggles, fixed tables and its own figure.


class UtsPanel(Lab):
    """Hostname inside and outside, with the UTS toggle (uts_namespaces(7))."""

    title = "UTS: the hostname, inside and outside"
    types = ("uts",)
    topics = ()


class PidPanel(Lab):
    """The child's processes in both numberings (pid_namespaces(7)); mnt for the fresh-/proc option."""

    title = "PID: one process, two numbers"
    types = ("pid", "mnt")
    topics = ("pid",)
    figure_kind = "pid_translation"
    figsize = (6.0, 2.6)


class NetPanel(Lab):
    """Links and routes of a new network namespace, and a veth pair to a peer (network_namespaces(7))."""

    title = "NET: a network stack of its own"
    types = ("net", "user")
    topics = ("links", "routes")
    figure_kind = "net"
    figsize = (9.0, 2.8)


class MntPanel(Lab):
    """The mount tree the child sees (mount_namespaces(7)); pid for the fresh-/proc option."""

    title = "MNT: the mount table"
    types = ("mnt", "pid")
    topics = ("mounts",)
    figure_kind = "mounts"
    figsize = (8.0, 7.5)
    table_height = "260px"


class IpcPanel(Lab):
    """System V IPC and POSIX queues (ipc_namespaces(7)); mnt because POSIX shm follows it (shm_overview(7))."""

    title = "IPC: System V objects and message queues"
    types = ("ipc", "mnt")
    topics = ("ipc",)


class UserPanel(Lab):
    """uid_map and who root inside is outside (user_namespaces(7))."""

    title = "USER: ids inside and outside"
    types = ("user",)
    topics = ("ids",)
    figure_kind = "uid_map"
    figsize = (7.0, 3.6)


class TimePanel(Lab):
    """Boottime and monotonic offsets; realtime never moves (time_namespaces(7))."""

    title = "TIME: clocks that move, and one that never does"
    types = ("time",)
    topics = ("clocks",)
    figure_kind = "clocks"
    figsize = (7.0, 2.8)
    fresh_host = True  # the figure compares clocks read a moment apart


class CgroupPanel(Lab):
    """The creator's cgroup becomes / inside (cgroup_namespaces(7))."""

    title = "CGROUP: your cgroup becomes /"
    types = ("cgroup",)
    topics = ("cgroups",)
