"""Build the notebooks from their sources and execute them: ``python notebooks/build.py [NAMES...]``.

Each notebook's source is ``notebooks/src/NN-name.py`` in the "percent"
format (a cell starts with ``# %%``; ``# %% [markdown]`` cells hold Markdown
as ``#``-comments; ``# %% tags=["nbval-ignore-output"]`` sets tags), which
reads well in a diff.  The executed ``notebooks/NN-name.ipynb`` is the product:
committed with its outputs so that a reader without namespaces still sees
them, and compared by nbval in CI.

``--no-execute`` only writes the notebooks; ``--check`` fails if a built
notebook's cells differ from its source (CI keeps the two in step).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time

import nbformat

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "src")
_HEADER = re.compile(r"^# %%(?P<md> \[markdown\])?(?:\s+tags=(?P<tags>\[.*\]))?\s*$")


def parse(text):
    """Cells of a percent-format source: list of (kind, source, tags)."""
    cells, kind, tags, lines = [], None, [], []

    def flush():
        if kind is None:
            return
        body = "\n".join(lines).strip("\n")
        if kind == "markdown":
            body = "\n".join(l[2:] if l.startswith("# ") else l.lstrip("#") for l in body.splitlines())
        cells.append((kind, body, tags))

    for line in text.splitlines():
        m = _HEADER.match(line)
        if m:
            flush()
            kind = "markdown" if m.group("md") else "code"
            tags = json.loads(m.group("tags")) if m.group("tags") else []
            lines = []
        elif kind is not None:
            lines.append(line)
    flush()
    return cells


def build(name):
    with open(os.path.join(SRC, name + ".py")) as f:
        cells = parse(f.read())
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, (kind, body, tags) in enumerate(cells):
        cell = nbformat.v4.new_markdown_cell(body) if kind == "markdown" else nbformat.v4.new_code_cell(body)
        cell["id"] = f"{name[:2]}-{i:03d}"  # stable ids: no churn in diffs
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    return nb


def execute(nb, timeout=300):
    from nbclient import NotebookClient

    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": HERE}}).execute()
    # Execution counts and timings change every run; keep the diff to outputs.
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    return nb


def names(selected):
    allnames = sorted(f[:-3] for f in os.listdir(SRC) if re.match(r"\d\d-.*\.py$", f))
    if not selected:
        return allnames
    out = [n for n in allnames if any(n.startswith(s) for s in selected)]
    if not out:
        sys.exit(f"no notebook source matches {selected}")
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", help="notebook names or prefixes (default: all)")
    p.add_argument("--no-execute", action="store_true")
    p.add_argument("--check", action="store_true", help="fail if a notebook's cells differ from its source")
    args = p.parse_args(argv)
    bad = 0
    for name in names(args.names):
        target = os.path.join(HERE, name + ".ipynb")
        nb = build(name)
        if args.check:
            if not os.path.exists(target):
                print(f"{name}: not built")
                bad += 1
                continue
            stored = nbformat.read(target, as_version=4)
            want = [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in nb.cells]
            have = [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in stored.cells]
            if want != have:
                print(f"{name}: stored notebook differs from notebooks/src/{name}.py: run make notebooks")
                bad += 1
            continue
        t = time.monotonic()
        if not args.no_execute:
            execute(nb)
        nbformat.write(nb, target)
        print(f"{name}: written{'' if args.no_execute else f', executed in {time.monotonic() - t:.1f} s'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
