"""Figures that show what the kernel isolates: one ``plot_*`` per idea.

Each ``plot_*`` takes ``ax=None`` (a new figure is made when None), returns
the Axes it drew on and never calls ``plt.show()``.  Each accepts plain data
(dicts, lists, DataFrames) as well as the kit's objects (View, Child), so a
figure can be tested, and drawn in a notebook, without creating namespaces.

    >>> import nslab, nslab.plots
    >>> with nslab.spawn(["pid", "mnt"]) as child:
    ...     nslab.plots.plot_pid_translation(nslab.plots.pid_translation_frame(child));

Figures are built from patches, lines and texts with fixed meanings (see each
function) so that tests read them back as data, not pixels.  matplotlib is
imported when this module is, pandas and pyplot only when needed.
"""

from __future__ import annotations

import collections
import colorsys
import os

from matplotlib import patches as _patches
from matplotlib.lines import Line2D

from . import _parse
from ._errors import ChildFailed, NsPermissionError, NsValueError
from ._ns import NAMESPACES

__all__ = [
    "HIGHLIGHT",
    "NEUTRAL",
    "OVERFLOW_ID",
    "PALETTE",
    "PROPAGATION_COLOURS",
    "pid_translation_frame",
    "plot_clocks",
    "plot_mounts",
    "plot_net",
    "plot_ns_matrix",
    "plot_pid_translation",
    "plot_uid_map",
]

# --------------------------------------------------------------------- style
NEUTRAL = "#c8c8c8"  # the most common (usually the host's) namespace; "did not move"
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#d62728")
HIGHLIGHT = "#d62728"
INK = "#333333"
# mount_namespaces(7): shared:N, master:N (a slave), both, none (private), unbindable.
PROPAGATION_COLOURS = {
    "shared": "#9ecae1",
    "shared+slave": "#c6a0d6",
    "slave": "#fdd0a2",
    "private": "#e0e0e0",
    "unbindable": "#fcbba1",
}
PROPAGATION_LABELS = {
    "shared": "shared (shared:N)",
    "shared+slave": "shared and slave (shared:N master:M)",
    "slave": "slave (master:N)",
    "private": "private (no tag)",
    "unbindable": "unbindable",
}
OVERFLOW_ID = 65534  # /proc/sys/kernel/overflowuid's default: what an unmapped id reads as (user_namespaces(7))
TYPES = tuple(NAMESPACES)  # uts, pid, net, mnt, ipc, user, time, cgroup


def _axes(ax, figsize):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt  # only now: choosing a backend is the caller's business until a figure is needed

    _fig, ax = plt.subplots(figsize=figsize)
    return ax


def _colours(n):
    """n distinct colours: the palette first, then evenly spaced hues (never grey, never repeated)."""
    out = list(PALETTE[:n])
    extra = n - len(out)
    for i in range(extra):
        r, g, b = colorsys.hsv_to_rgb((i / extra + 0.03) % 1.0, 0.55 + 0.35 * (i % 2), 0.85)
        out.append((r, g, b))
    return out


def _bare(ax):
    ax.set_xticks([])
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_visible(False)


def _is_frame(obj):
    return hasattr(obj, "to_dict") and hasattr(obj, "columns")


def _missing(v):
    """None, NaN or pandas' NA (an Int64 column's unreadable cell)."""
    return v is None or (isinstance(v, float) and v != v) or type(v).__name__ == "NAType"


def _is_view(obj):
    return hasattr(obj, "ns") and hasattr(obj, "raw") and hasattr(obj, "uid_map")


# ----------------------------------------------------------- namespace matrix
def _ns_key(value):
    """(identity, inode) of one matrix cell, or (None, None) when unknown.

    The identity of a namespace is (st_dev, st_ino) (namespaces(7)); a plain
    inode (what lsns prints) is taken as is.
    """
    if _missing(value):
        return None, None
    if hasattr(value, "ino") and hasattr(value, "dev"):
        return (value.dev, value.ino), value.ino
    if isinstance(value, float):
        value = int(value)
    if isinstance(value, str):
        text = value.strip()
        if not text or text == "?":
            return None, None
        if ":[" in text:
            ino = _parse.parse_ns_link(text, source="namespace cell")[1]
            return ino, ino
        value = text
    try:
        ino = int(value)
    except (TypeError, ValueError):
        raise NsValueError(f"a namespace cell must be an inode, an NsRef or 'type:[inode]', got {value!r}") from None
    return ino, ino


def _matrix_rows(data):
    """[(label, {type: cell})] and the types to show, from a DataFrame, {label: View} or [View]."""
    if _is_frame(data):
        cols = [str(c) for c in data.columns]
        names = list(getattr(data.index, "names", None) or [])
        columns = {}  # type -> column position
        if "comm" in cols:
            # pid and comm as columns: the first "pid" is the process, a second one (if any) the namespace.
            pid_at = [i for i, c in enumerate(cols) if c == "pid"]
            if not pid_at:
                raise NsValueError("a frame with a comm column needs a pid column too")
            labels = [f"{p} {c}" for p, c in zip(data.iloc[:, pid_at[0]], data["comm"], strict=True)]
            skip = {pid_at[0], cols.index("comm")}
        elif names[:2] == ["pid", "comm"]:  # nslab.processes(): a (pid, comm) MultiIndex
            labels = [f"{p} {c}" for p, c in data.index]
            skip = set()
        else:
            labels = [" ".join(map(str, i)) if isinstance(i, tuple) else str(i) for i in data.index]
            skip = set()
        for i, c in enumerate(cols):
            if c in TYPES and i not in skip and c not in columns:
                columns[c] = i
        types = [t for t in TYPES if t in columns]
        if not types:
            raise NsValueError("the frame has no namespace-type columns", hint=f"columns named {', '.join(TYPES)}")
        rows = []
        for r, label in enumerate(labels):
            rows.append((label, {t: data.iat[r, columns[t]] for t in types}))
        return rows, types
    if isinstance(data, dict):
        items = list(data.items())
    elif isinstance(data, (list, tuple)):
        items = [(getattr(v, "label", str(i)), v) for i, v in enumerate(data)]
    else:
        raise NsValueError(
            f"plot_ns_matrix takes a DataFrame, a {{label: View}} dict or a list of Views, not {type(data).__name__}"
        )
    rows = []
    for label, v in items:
        ns = v.ns if _is_view(v) else v  # a View, or already {type: NsRef/inode}
        rows.append((str(label), {t: ns.get(t) for t in TYPES}))
    return rows, list(TYPES)


def plot_ns_matrix(data, ax=None):
    """Processes × namespace types, one colour per namespace: same colour, same namespace.

    ``data``: a DataFrame indexed by process labels ("1234 bash") with one
    column per type (values: inodes, NsRefs or "uts:[4026531838]"); or the
    shape of ``nslab.processes()`` (columns ``pid``, ``comm``, then the
    types: the label is built from pid and comm); or ``{label: View}`` or a
    list of Views.  Columns follow uts, pid, net, mnt, ipc, user, time, cgroup.

    Each cell is a unit Rectangle patch at (column, row) (row 0 at the top);
    in each column the most common namespace (ties: the first row's, usually
    the host's) is NEUTRAL grey, every other one its own colour.  Up to 30
    rows, each cell is annotated with its inode.  Missing cells are white, "?".
    """
    rows, types = _matrix_rows(data)
    n = len(rows)
    ax = _axes(ax, (1.1 * len(types) + 2.5, max(2.5, 0.32 * n + 1.5)))
    annotate = n <= 30
    n_other = 0
    for j, t in enumerate(types):
        keys = [_ns_key(cells.get(t)) for _label, cells in rows]
        counts = collections.Counter(k for k, _ino in keys if k is not None)
        common = counts.most_common(1)[0][0] if counts else None
        others = [k for k in dict.fromkeys(k for k, _ino in keys) if k is not None and k != common]
        n_other += len(others)
        colour = dict(zip(others, _colours(len(others)), strict=True))
        colour[common] = NEUTRAL
        for i, (key, ino) in enumerate(keys):
            face = "white" if key is None else colour[key]
            ax.add_patch(_patches.Rectangle((j, i), 1, 1, facecolor=face, edgecolor="white", linewidth=1.5))
            if annotate:
                ink = INK if key is None or key == common else "white"  # dark on grey, white on colours
                label = "?" if key is None else str(ino)
                ax.text(j + 0.5, i + 0.5, label, ha="center", va="center", fontsize=6.5, color=ink)
    ax.set_xlim(0, len(types))
    ax.set_ylim(n, 0)  # row 0 at the top
    ax.set_xticks([j + 0.5 for j in range(len(types))], types)
    ax.set_yticks([i + 0.5 for i in range(n)], [label for label, _ in rows])
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    for s in ax.spines.values():
        s.set_visible(False)
    ax.set_title(
        "same colour, same namespace: grey is the one most processes share"
        if n_other
        else "every process shares every namespace",
        fontsize=10,
        pad=22,
    )
    return ax


# ------------------------------------------------------------ PID translation
def _read_status(path):
    with open(path) as f:
        return _parse.parse_status(f.read(), source=path)


def pid_translation_frame(child_or_pid, proc="/proc"):
    """Every process in the PID namespace of a Child's init (or of PID), with its number in each namespace.

    Scans ``proc`` (the caller's procfs) for processes whose ``ns/pid`` has
    the same (st_dev, st_ino) as the init's (namespaces(7)), and reads
    ``Name:`` and ``NSpid:`` from their status (proc(5)).  Columns:
    ``name``, ``host_pid`` (the NSpid chain's first entry: the PID in the
    namespace of whoever mounted ``proc``), ``ns_pid`` (its last entry: the
    PID inside), ``nspid`` (the whole chain, a list).  Rows sort by ns_pid.

    A process that vanishes during the scan is skipped.  One in the namespace
    whose status is unreadable (or has no NSpid line) stays as a row with
    the unknown fields None, its reason in ``frame.attrs["errors"][pid]``.  Processes whose
    ``ns/pid`` link cannot be checked (another user's, when unprivileged) are
    counted in ``frame.attrs["unchecked"]``, not guessed at.
    """
    import pandas as pd

    pid = getattr(child_or_pid, "pid", child_or_pid)
    if getattr(child_or_pid, "alive", True) is False:
        raise ChildFailed("the child is closed or gone", pid=pid, hint="spawn a new one")
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        raise NsValueError(f"pid_translation_frame takes a Child or a positive PID, got {child_or_pid!r}")
    try:
        st = os.stat(f"{proc}/{pid}/ns/pid")
    except (FileNotFoundError, ProcessLookupError) as err:
        raise ChildFailed(
            f"no process {pid}", pid=pid, errno=err.errno, step="stat /proc/PID/ns/pid", hint="check the PID with ps"
        ) from err
    except PermissionError as err:
        raise NsPermissionError(
            f"cannot stat {proc}/{pid}/ns/pid",
            nstype="pid",
            pid=pid,
            errno=err.errno,
            hint="the process belongs to another user: run as its owner or root",
        ) from err
    target = (st.st_dev, st.st_ino)
    rows, errors, unchecked = [], {}, 0
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        p = int(entry)
        try:
            s = os.stat(f"{proc}/{entry}/ns/pid")
        except (FileNotFoundError, ProcessLookupError):
            continue  # vanished between listdir and stat
        except PermissionError:
            unchecked += 1
            continue
        if (s.st_dev, s.st_ino) != target:
            continue
        try:
            status = _read_status(f"{proc}/{entry}/status")
        except (FileNotFoundError, ProcessLookupError):
            continue
        except PermissionError as err:
            errors[p] = f"PermissionError: {err.strerror or err}"
            rows.append((None, p, None, None))
            continue
        chain = list(status.get("nspid") or [])
        if not chain:  # kernels before 4.1 print no NSpid: the inner number cannot be known
            errors[p] = "no NSpid: line in status (Linux < 4.1)"
            rows.append((status.get("name"), p, None, None))
            continue
        rows.append((status.get("name"), chain[0], chain[-1], chain))
    rows.sort(key=lambda r: (r[2] is None, r[2] if r[2] is not None else r[1]))
    frame = pd.DataFrame(rows, columns=["name", "host_pid", "ns_pid", "nspid"]).astype(
        {"host_pid": "Int64", "ns_pid": "Int64"}
    )
    frame.attrs["errors"] = errors
    frame.attrs["unchecked"] = unchecked
    return frame


def _int_or_none(v):
    return None if _missing(v) else int(v)


def _chain(v):
    if not isinstance(v, (list, tuple)) and _missing(v):
        return None
    if isinstance(v, str):
        return [int(x) for x in v.split()] or None
    return [int(x) for x in v] or None


def _pid_rows(data):
    if isinstance(data, int) or (
        hasattr(data, "pid") and not _is_frame(data) and not isinstance(data, (dict, list, tuple))
    ):
        data = pid_translation_frame(data)
    records = data.to_dict("records") if _is_frame(data) else list(data)
    out = []
    for r in records:
        chain = _chain(r.get("nspid"))
        host, inner = _int_or_none(r.get("host_pid")), _int_or_none(r.get("ns_pid"))
        if chain:
            # Deeper nesting: the first entry is the host's, the last the innermost's (proc(5)).
            host = chain[0] if host is None or len(chain) > 2 else host
            inner = chain[-1] if inner is None or len(chain) > 2 else inner
        name = r.get("name")
        out.append(("?" if _missing(name) else str(name), host, inner))
    return out


def plot_pid_translation(data, ax=None):
    """The same processes numbered twice: in the host's PID namespace and in the child's.

    ``data``: a DataFrame or list of dicts with ``name``, ``host_pid``,
    ``ns_pid`` (or an ``nspid`` chain: first and last entries are used), as
    ``pid_translation_frame`` returns; a Child or a PID is scanned with it.

    Drawn as two columns of boxes (Rectangle patches centred on x=0 and
    x=1, one row per process, row 0 at the top) holding the numbers, and
    one Line2D per process joining its two boxes; an unknown number shows
    "?" and gets no line.  Process names stand left of the host column.
    """
    rows = _pid_rows(data)
    n = len(rows)
    ax = _axes(ax, (6.0, max(2.2, 0.5 * n + 1.4)))
    w, h = 0.42, 0.62
    for i, (name, host, inner) in enumerate(rows):
        for x, num, face in ((0.0, host, NEUTRAL), (1.0, inner, PALETTE[0])):
            ax.add_patch(
                _patches.Rectangle(
                    (x - w / 2, i - h / 2), w, h, facecolor=face if num is not None else "white", edgecolor=INK
                )
            )
            ax.text(
                x,
                i,
                "?" if num is None else str(num),
                ha="center",
                va="center",
                fontsize=10,
                color="white" if face == PALETTE[0] and num is not None else INK,
            )
        ax.text(-w / 2 - 0.06, i, name, ha="right", va="center", fontsize=9, color=INK)
        if host is not None and inner is not None:
            ax.add_line(Line2D([w / 2, 1 - w / 2], [i, i], color=INK, linewidth=1.2))
    ax.text(0.0, -0.85, "host PID namespace", ha="center", va="bottom", fontsize=10, fontweight="bold")
    ax.text(1.0, -0.85, "child PID namespace", ha="center", va="bottom", fontsize=10, fontweight="bold")
    ax.set_xlim(-1.0, 1.4)
    ax.set_ylim(max(n, 1) - 0.4, -1.3)
    _bare(ax)
    if not rows:
        ax.text(0.5, 0.0, "no processes", ha="center", va="center")
    first = next(((h_, i_) for _n, h_, i_ in rows if h_ is not None and i_ is not None), None)
    if n == 1 and first:
        title = f"one process, two PIDs: {first[0]} on the host is {first[1]} inside"
    else:
        title = f"{n} processes, two PIDs each (NSpid in /proc/PID/status)"
    ax.set_title(title, fontsize=10)
    return ax


# ------------------------------------------------------------------ id maps
def _idmap(m):
    if m is None:
        return None
    if isinstance(m, str):
        return _parse.parse_idmap(m)
    if _is_frame(m):
        m = m[["inside", "outside", "count"]].itertuples(index=False)
    out = []
    for r in m:
        inside, outside, count = (int(x) for x in r)
        out.append((inside, outside, count))
    return out


class _BrokenScale:
    """Ids to heights: each run of ids some range covers gets one unit of height, runs apart are split by a gap.

    A linear axis would squash 0-65535 next to 4294967295, a log one squashes
    100000-165535 into a sliver; this broken scale keeps every range readable.
    """

    GAP = 0.35

    def __init__(self, intervals):
        runs = []
        for a, b in sorted(intervals):
            if runs and a < runs[-1][1]:  # overlapping: one run (adjacent runs stay apart, gap-free)
                runs[-1][1] = max(runs[-1][1], b)
            else:
                runs.append([a, b])
        self.segments = []
        y = 0.0
        for k, (a, b) in enumerate(runs):
            if k and a > runs[k - 1][1]:
                y += self.GAP
            self.segments.append((a, b, y))
            y += 1.0
        self.top = y

    def __call__(self, v):
        for a, b, y in self.segments:
            if a <= v <= b:
                return y + (v - a) / (b - a)
        raise NsValueError(f"id {v} is outside every range")  # cannot happen: every endpoint is in a run

    def gaps(self):
        """(y_from, y_to) of each break between runs whose ids are not contiguous."""
        out = []
        for (_a, b, y), (a2, _b2, y2) in zip(self.segments, self.segments[1:], strict=False):
            if a2 > b:
                out.append((y + 1.0, y2))
        return out


def _span(a, count):
    return f"{a}" if count == 1 else f"{a}-{a + count - 1}"


def plot_uid_map(uid_map, gid_map=None, ax=None):
    """Ranges of ids inside a user namespace and what they are outside (user_namespaces(7)).

    ``uid_map``/``gid_map``: lists of (inside, outside, count), the map
    files' text, an ``ids`` frame (its ``map`` column splits uid and gid),
    or a View (its uid_map and gid_map).

    Two vertical axes, inside at x=0 and outside at x=1, on a broken scale:
    every run of ids that a range covers gets the same height, and a dotted
    break separates runs with ids between them (so 0 and 100000 both show,
    and a single id is as visible as 65536 of them).  Each range is a
    Polygon band from [inside, inside+count) to [outside, outside+count),
    labelled "0-65535 → 100000-165535" at its middle, prefixed "uid " or
    "gid " when the two maps differ there; a legend says which map each
    colour is.  The inside axis marks 65534, what every unmapped id reads as
    (overflowuid).
    """
    if _is_view(uid_map):
        gid_map = uid_map.gid_map if gid_map is None else gid_map
        uid_map = uid_map.uid_map
    elif _is_frame(uid_map) and "map" in uid_map.columns:
        frame = uid_map
        uid_map = frame[frame["map"] == "uid"]
        if gid_map is None:
            gid_map = frame[frame["map"] == "gid"]
    umap, gmap = _idmap(uid_map), _idmap(gid_map)
    ax = _axes(ax, (7.0, 5.0))
    # (row, prefix, colour, legend label)
    if gmap is None:
        bands = [(r, "", PALETTE[0], "uid_map") for r in umap]
    elif gmap == umap:
        bands = [(r, "", PALETTE[0], "uid_map = gid_map") for r in umap]
    else:
        both = [r for r in umap if r in gmap]
        bands = [(r, "", PALETTE[0], "uid_map and gid_map") for r in both]
        bands += [(r, "uid ", PALETTE[2], "uid_map only") for r in umap if r not in both]
        bands += [(r, "gid ", PALETTE[1], "gid_map only") for r in gmap if r not in both]
    intervals = [(OVERFLOW_ID, OVERFLOW_ID + 1)]
    for (i, o, c), *_rest in bands:
        intervals += [(i, i + c), (o, o + c)]
    pos = _BrokenScale(intervals)
    top = pos.top
    ticks = {0: set(), 1: set()}
    legend = {}
    for k, ((inside, outside, count), prefix, colour, label) in enumerate(bands):
        y0, y1, z0, z1 = pos(inside), pos(inside + count), pos(outside), pos(outside + count)
        ax.add_patch(
            _patches.Polygon(
                [(0, y0), (0, y1), (1, z1), (1, z0)], closed=True, facecolor=colour, alpha=0.45, edgecolor=colour
            )
        )
        # Labels of crossing bands would meet in the middle: stagger them along the band.
        t = (0.5, 0.3, 0.7)[k % 3]
        ax.text(
            t,
            ((1 - t) * (y0 + y1) + t * (z0 + z1)) / 2,
            f"{prefix}{_span(inside, count)} → {_span(outside, count)}",
            ha="center",
            va="center",
            fontsize=9,
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "alpha": 0.75, "edgecolor": "none"},
        )
        ticks[0].update((inside, inside + count - 1))
        ticks[1].update((outside, outside + count - 1))
        legend.setdefault(label, colour)
    gaps = pos.gaps()
    for x, name in ((0, "inside the user namespace"), (1, "outside")):
        for _a, _b, y in pos.segments:
            ax.add_line(Line2D([x, x], [y, y + 1.0], color=INK, linewidth=1.5))
        for g0, g1 in gaps:
            ax.add_line(Line2D([x, x], [g0, g1], color=INK, linewidth=1.0, linestyle=":"))
        ax.text(x, top + 0.08, name, ha="center", va="bottom", fontsize=10, fontweight="bold")
        side, ha = (-0.03, "right") if x == 0 else (1.03, "left")
        placed = []
        # Range ends first; 65534 only where it has room (the red mark and the note say it anyway).
        for v in sorted(ticks[x]) + ([OVERFLOW_ID] if x == 0 else []):
            y = pos(v + 0.5)  # the middle of id v's sliver
            if any(abs(y - p) < 0.07 for p in placed):
                continue  # two ids a hair apart: the first label stands for both
            placed.append(y)
            ax.text(
                side, y, str(v), ha=ha, va="center", fontsize=8, color=HIGHLIGHT if x == 0 and v == OVERFLOW_ID else INK
            )
    ax.add_line(Line2D([-0.025, 0.025], [pos(OVERFLOW_ID + 0.5)] * 2, color=HIGHLIGHT, linewidth=2.5))
    note = f"red: {OVERFLOW_ID}, what every unmapped id reads as (overflowuid, user_namespaces(7))"
    if not bands:
        note = f"nothing mapped: every id reads as {OVERFLOW_ID} (overflowuid, user_namespaces(7))"
    ax.text(-0.55, -0.12, note, ha="left", va="top", fontsize=8, color=HIGHLIGHT)
    ax.set_xlim(-0.6, 1.6)
    ax.set_ylim(-0.3, top + 0.4)
    _bare(ax)
    handles = [_patches.Patch(facecolor=c, alpha=0.45, label=lab) for lab, c in legend.items()]
    if handles:
        ax.legend(
            handles=handles,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.04),
            ncol=len(handles),
            fontsize=8,
            frameon=False,
        )
    root = next(((o - i) for i, o, c in umap if i <= 0 < i + c), None)
    if root is not None:
        title = f"root inside is uid {root} outside" + (
            ": the same root" if root == 0 else ": nobody special on the host"
        )
    elif umap:
        title = "ids inside the user namespace are other ids outside"
    else:
        title = "no uid_map written yet"
    ax.set_title(title, fontsize=10, pad=18)
    return ax


# ------------------------------------------------------------------- clocks
CLOCKS = ("monotonic", "boottime", "realtime")


def _clocks_of(obj):
    c = obj.clocks if hasattr(obj, "clocks") else obj
    if not isinstance(c, dict):
        raise NsValueError(f"plot_clocks takes Views or {{clock: seconds}} dicts, not {type(obj).__name__}")
    missing = [k for k in CLOCKS if k not in c]
    if missing:
        raise NsValueError(
            f"no {', '.join(missing)} clock in {sorted(c)}", hint=f"give seconds for {', '.join(CLOCKS)}"
        )
    return {k: float(c[k]) for k in CLOCKS}


def plot_clocks(host, child, ax=None):
    """For each clock, child − host in seconds: what a time namespace moves, and what it cannot.

    ``host``/``child``: Views or ``{"monotonic": s, "boottime": s, "realtime": s}``.
    One horizontal bar per clock (ax.patches in the order monotonic,
    boottime, realtime; y ticks "CLOCK_MONOTONIC"...), annotated "+100.0 s";
    bars that moved by half a second or more are coloured, the rest grey.
    The two sides are read a moment apart, so a few hundredths of a second
    show even on clocks that did not move.
    """
    h, c = _clocks_of(host), _clocks_of(child)
    diffs = [c[k] - h[k] for k in CLOCKS]
    ax = _axes(ax, (7.0, 2.8))
    span = max([abs(d) for d in diffs] + [1.0])
    for i, d in enumerate(diffs):
        moved = abs(d) >= 0.5
        ax.barh(i, d, height=0.55, color=PALETTE[0] if moved else NEUTRAL, edgecolor=INK, linewidth=0.6)
        ax.text(
            d + (0.02 * span if d >= 0 else -0.02 * span),
            i,
            f"{d:+.1f} s",
            va="center",
            ha="left" if d >= 0 else "right",
            fontsize=9,
        )
    ax.text(
        0.99,
        0.02,
        "CLOCK_REALTIME never moves (time_namespaces(7))",
        transform=ax.transAxes,  # inside the axes whatever the bars' span
        va="bottom",
        ha="right",
        fontsize=8,
        style="italic",
        color=INK,
    )
    ax.axvline(0, color=INK, linewidth=0.8)
    ax.set_yticks(range(len(CLOCKS)), [f"CLOCK_{k.upper()}" for k in CLOCKS])
    ax.set_ylim(2.8, -0.6)
    lo = min([*diffs, 0.0])
    ax.set_xlim(lo - 0.25 * span if lo < 0 else -0.05 * span, max([*diffs, 0.0]) + 0.3 * span)
    ax.set_xlabel("child − host (seconds)")
    for s in ("top", "right"):
        ax.spines[s].set_visible(False)
    moved = [k for k, d in zip(CLOCKS, diffs, strict=True) if abs(d) >= 0.5]
    ax.set_title(
        f"the time namespace moved {' and '.join(moved)}; realtime stayed"
        if moved
        else "no clock moved: the same time namespace",
        fontsize=10,
    )
    return ax


# ------------------------------------------------------------------- mounts
def _propagation(text):
    tags = (text or "").split()
    shared = any(t.startswith("shared:") for t in tags)
    slave = any(t.startswith("master:") for t in tags)
    if "unbindable" in tags:
        return "unbindable"
    if shared and slave:
        return "shared+slave"
    return "shared" if shared else "slave" if slave else "private"


def _mount_records(mounts):
    if _is_view(mounts):
        mounts = mounts.mounts
    if _is_frame(mounts):
        mounts = mounts.to_dict("records")
    out = []
    for m in mounts:
        if not {"mount_id", "parent_id", "mount_point"} <= set(m):
            raise NsValueError(
                "each mount needs mount_id, parent_id and mount_point (a View, View.mounts or the mounts frame)"
            )
        out.append(m)
    return out


def plot_mounts(mounts, ax=None, highlight=None):
    """The mount tree this mount namespace sees, coloured by propagation (mount_namespaces(7)).

    ``mounts``: a View, its ``mounts`` list, or the ``mounts`` frame.
    ``highlight``: a mount point (or several, or mount ids) to emphasise:
    its label is bold with a HIGHLIGHT edge, and so is the path to it.

    An indented tree: one row per mount (row 0 at the top), indented by its
    depth, labelled "mount_point  fstype" in a box whose face is the
    PROPAGATION_COLOURS entry of its class; one Line2D elbow per drawn
    parent → child edge; a legend of the classes present.  Over 60 mounts
    only the top levels that fit in 60 rows are drawn, plus the highlighted
    mounts and their ancestors; "(+N)" after a label counts the mounts
    hidden below it.
    """
    recs = _mount_records(mounts)
    hl = {highlight} if isinstance(highlight, (str, int)) else set(highlight or ())
    by_id = {m["mount_id"]: m for m in recs}
    kids = collections.defaultdict(list)
    roots = []
    for m in recs:
        p = m["parent_id"]
        if p in by_id and p != m["mount_id"]:
            kids[p].append(m["mount_id"])
        else:
            roots.append(m["mount_id"])  # its parent lies outside this namespace (or chroot)
    # Depth-first order, with depths; `seen` guards against malformed (cyclic) input.
    order, seen = [], set()
    stack = [(r, 0) for r in reversed(roots)]
    while stack:
        mid, d = stack.pop()
        if mid in seen:
            continue
        seen.add(mid)
        order.append((mid, d))
        stack.extend((k, d + 1) for k in reversed(kids[mid]))
    depth = dict(order)
    parent = {m["mount_id"]: m["parent_id"] for m in recs if m["mount_id"] not in roots}
    marked = {mid for mid, m in by_id.items() if m["mount_point"] in hl or mid in hl}
    on_path = set()
    for mid in marked:
        while mid is not None and mid not in on_path:
            on_path.add(mid)
            mid = parent.get(mid)
    shown = {mid for mid, _d in order}
    if len(order) > 60:
        limit = 0
        while sum(1 for _m, d in order if d <= limit + 1) <= 60:
            limit += 1
        shown = {mid for mid, d in order if d <= limit} | on_path
    rows = [(mid, d) for mid, d in order if mid in shown]

    def hidden_below(mid):
        """Mounts under mid's hidden children (a shown child carries its own count)."""
        n, todo = 0, [k for k in kids[mid] if k not in shown]
        while todo:
            k = todo.pop()
            n += 1
            todo.extend(kids[k])
        return n

    n = len(rows)
    ax = _axes(ax, (8.0, max(2.5, 0.3 * n + 1.2)))
    y_of = {mid: i for i, (mid, _d) in enumerate(rows)}
    step = 0.45
    present = []
    for i, (mid, d) in enumerate(rows):
        m = by_id[mid]
        cls = _propagation(m.get("propagation"))
        if cls not in present:
            present.append(cls)
        extra = hidden_below(mid)
        label = f"{m['mount_point']}  {m.get('fstype') or '?'}" + (f"  (+{extra})" if extra else "")
        emph = mid in marked
        ax.text(
            d * step + 0.12,
            i,
            label,
            ha="left",
            va="center",
            fontsize=8,
            fontweight="bold" if emph else "normal",
            bbox={
                "boxstyle": "round,pad=0.25",
                "facecolor": PROPAGATION_COLOURS[cls],
                "edgecolor": HIGHLIGHT if emph else "none",
                "linewidth": 2 if emph else 0,
            },
        )
        p = parent.get(mid)
        if p in y_of:
            px = depth[p] * step + 0.05
            hot = mid in on_path
            ax.add_line(
                Line2D(
                    [px, px, d * step + 0.08],
                    [y_of[p] + 0.3, i, i],
                    color=HIGHLIGHT if hot else "#888888",
                    linewidth=1.6 if hot else 0.8,
                )
            )
    ax.set_xlim(-0.1, max([d for _m, d in rows] + [0]) * step + 4.0)
    ax.set_ylim(max(n, 1) - 0.3, -0.8)
    _bare(ax)
    handles = [
        _patches.Patch(facecolor=PROPAGATION_COLOURS[c], label=PROPAGATION_LABELS[c])
        for c in PROPAGATION_COLOURS
        if c in present
    ]
    if marked:
        handles.append(_patches.Patch(facecolor="white", edgecolor=HIGHLIGHT, linewidth=2, label="highlighted"))
    # Outside the axes: long mount points would run under a legend placed inside.
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        fontsize=8,
        title="propagation",
        title_fontsize=8,
        frameon=False,
    )
    if not recs:
        ax.text(0.5, 0, "no mounts", ha="center")
    title = f"{len(recs)} mounts, the tree this mount namespace sees"
    if n < len(recs):
        title += f" ({n} drawn: the top levels and the highlighted paths)"
    ax.set_title(title, fontsize=10)
    return ax


# ---------------------------------------------------------------- networks
def _net_items(namespaces):
    if isinstance(namespaces, dict):
        items = list(namespaces.items())
    elif isinstance(namespaces, (list, tuple)):
        items = [(getattr(v, "label", str(i)), v) for i, v in enumerate(namespaces)]
    else:
        raise NsValueError(
            f"plot_net takes {{label: View}} or {{label: [link dicts]}}, not {type(namespaces).__name__}"
        )
    out = []
    for label, v in items:
        if _is_view(v):
            ref = v.ns.get("net")
            out.append((str(label), list(v.links), str(ref) if ref else None, v.errors.get("net")))
        else:
            out.append((str(label), list(v), None, None))
    return out


def _veth_pairs(boxes):
    """[(box_a, link_a, box_b, link_b)]: veth ends whose IFLA_LINK point at each other across two namespaces.

    A veth's IFLA_LINK is its peer's ifindex, and IFLA_LINK_NETNSID is set
    when that peer lives in another namespace (rtnetlink(7), veth(4)).
    """
    pairs, used = [], set()
    for i, (_l, links, _r, _e) in enumerate(boxes):
        for a in links:
            if (
                (i, a.get("index")) in used
                or a.get("kind") != "veth"
                or a.get("link") is None
                or a.get("link_netnsid") is None
            ):
                continue
            for j, (_l2, links2, _r2, _e2) in enumerate(boxes):
                if j == i:
                    continue
                b = next(
                    (
                        b
                        for b in links2
                        if (j, b.get("index")) not in used
                        and b.get("index") == a["link"]
                        and b.get("link") == a.get("index")
                        and b.get("link_netnsid") is not None
                    ),
                    None,
                )
                if b is not None:
                    used.update({(i, a.get("index")), (j, b.get("index"))})
                    pairs.append((i, a, j, b))
                    break
    return pairs


def plot_net(namespaces, ax=None):
    """Network namespaces as boxes of their links; a veth pair is a line from one box to another.

    ``namespaces``: ``{label: View}`` or ``{label: [link dicts]}`` (dicts as
    in View.links: index, name, kind, state, link, link_netnsid, addresses).

    Each namespace is a Rectangle patch (left to right, in order) titled
    with its label (and ``net:[inode]`` for a View), one text row per link:
    "index: name  state" and its addresses.  Each veth pair is one Line2D
    between its two rows (straight for neighbouring boxes, routed below the
    boxes otherwise), with each end's addresses written at that end.
    """
    boxes = _net_items(namespaces)
    width, gap, row = 3.2, 2.4, 1.0
    tallest = max([len(b[1]) for b in boxes] + [1])
    height = 1.4 + row * tallest
    ax = _axes(ax, (max(4.0, 4.0 * len(boxes)), 1.2 + 0.55 * tallest + 1.0))
    row_y = {}
    for k, (label, links, ref, err) in enumerate(boxes):
        x0 = k * (width + gap)
        ax.add_patch(_patches.Rectangle((x0, 0), width, height, facecolor="#f4f4f4", edgecolor=INK, linewidth=1.2))
        ax.text(
            x0 + 0.12, 0.35, label + (f"  {ref}" if ref else ""), ha="left", va="center", fontsize=9, fontweight="bold"
        )
        if not links:
            why = f"links unreadable: {err}" if err else "no links"
            ax.text(
                x0 + 0.12,
                1.1,
                why[:60],
                ha="left",
                va="center",
                fontsize=7,
                color=HIGHLIGHT if err else INK,
                style="italic",
            )
        for r, link in enumerate(links):
            y = 1.1 + row * r
            row_y[(k, link.get("index"))] = y
            state = link.get("state") or "?"
            ax.text(
                x0 + 0.12,
                y,
                f"{link.get('index')}: {link.get('name')}  {state}",
                ha="left",
                va="center",
                fontsize=8,
                color=INK if state != "DOWN" else "#888888",
            )
            addrs = ", ".join(link.get("addresses") or []) or "no address"
            ax.text(x0 + 0.3, y + 0.38, addrs, ha="left", va="center", fontsize=7, color="#555555")
    pairs = _veth_pairs(boxes)
    for i, a, j, b in pairs:
        if i > j:
            i, a, j, b = j, b, i, a
        ya, yb = row_y[(i, a.get("index"))], row_y[(j, b.get("index"))]
        xa, xb = i * (width + gap) + width, j * (width + gap)
        if j == i + 1:
            xs, ys = [xa, xb], [ya, yb]
        else:  # route under the boxes in between rather than through them
            below = height + 0.4 + 0.3 * (j - i)
            xs, ys = [xa, xa + gap / 3, xa + gap / 3, xb - gap / 3, xb - gap / 3, xb], [ya, ya, below, below, yb, yb]
        ax.add_line(Line2D(xs, ys, color=PALETTE[1], linewidth=2))
        # Neighbours: one end's addresses above the line, the other's below, so they never meet in the gap;
        # a routed line comes up from below, so both go above.
        dyb = 0.25 if j == i + 1 else -0.25
        for x, y, link, ha, dy in ((xa, ya, a, "left", -0.25), (xb, yb, b, "right", dyb)):
            ax.text(
                x + (0.08 if ha == "left" else -0.08),
                y + dy,
                ", ".join(link.get("addresses") or []),
                ha=ha,
                va="center",
                fontsize=7,
                color=PALETTE[1],
            )
    ax.set_xlim(-0.3, len(boxes) * (width + gap) - gap + 0.3)
    ax.set_ylim(height + 0.6 + 0.3 * max(len(boxes) - 1, 1), -0.5)
    _bare(ax)
    n = len(boxes)
    if pairs:
        title = f"{n} network namespaces, {len(pairs)} veth pair{'s' if len(pairs) > 1 else ''} between them"
    else:
        title = f"{n} network namespace{'s' if n != 1 else ''}, each with its own links"
    ax.set_title(title, fontsize=10)
    return ax
