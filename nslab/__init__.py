"""nslab: Linux namespaces, shown on your own kernel.

    >>> import nslab
    >>> with nslab.spawn(["uts", "pid"], hostname="box") as child:
    ...     nslab.diff(nslab.view(), child.view(), labels=("host", "child"))

Importing nslab starts nothing and imports almost nothing: the names below
load their module on first use (PEP 562), and the helper process starts on
the first spawn.
"""

__version__ = "0.1.0"

_EXPORTS = {
    "NAMESPACES": "_ns",
    "Namespace": "_ns",
    "NsRef": "_view",
    "View": "_view",
    "diff": "_view",
    "FRAME_COLUMNS": "_view",
    "DIFF_COLUMNS": "_view",
    "Child": "_api",
    "RunResult": "_api",
    "spawn": "_api",
    "view": "_api",
    "enter": "_api",
    "veth": "_api",
    "privilege": "_api",
    "ROOT_RANGE": "_api",
    "doctor": "_doctor",
    "namespaces": "_discover",
    "processes": "_discover",
    "ns_tree": "_discover",
    "tree_frame": "_discover",
    "read_namespaces": "_discover",
    "NAMESPACE_COLUMNS": "_discover",
    "TREE_COLUMNS": "_discover",
    "expect": "_expect",
    "try_it": "_tryit",
    "skip_reason": "_tryit",
    "ExerciseFailed": "_expect",
    "NslabError": "_errors",
    "NsValueError": "_errors",
    "UnsafeRequest": "_errors",
    "NsPermissionError": "_errors",
    "NsUnsupportedError": "_errors",
    "NsLimitError": "_errors",
    "ChildFailed": "_errors",
    "ChildTimeout": "_errors",
    "ParseError": "_errors",
    "HelperError": "_errors",
    "todo": "_student",
    "Todo": "_student",
    "room": "_room",
    "RoomReport": "_room",
}

__all__ = sorted(_EXPORTS)


_SUBMODULES = ("widgets", "plots", "testing")


def __getattr__(name):
    if name in _SUBMODULES:  # nslab.widgets works without an explicit import
        import importlib

        return importlib.import_module(f"nslab.{name}")
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'nslab' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"nslab.{mod}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS) | set(_SUBMODULES))
