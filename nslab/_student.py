"""Student editions: the notebooks with each exercise's solution replaced by a stub.

    nslab student --out student notebooks/[0-9]*.ipynb      (make student)

An exercise is a code cell tagged ``solution`` and the next code cell, which
checks it (``nslab.expect(...)``; CONVENTIONS.md).  The student edition keeps
every cell, in the same order and with the same ids, and changes three things:

1. The solution cell's code becomes a stub that binds the same names the
   rest of the notebook uses, each to ``nslab.todo(NAME)``; a function the
   solution defines keeps its signature and docstring and returns
   ``nslab.todo(...)``.  An author who wants other stub text writes it in the
   solution cell as ``# student: LINE`` comment lines; those lines, without
   the prefix, are then the whole stub.
2. The outputs of the solution cell, of its check cell and of every later
   cell that uses a stubbed name are cleared: stored outputs must not give
   the answer away.
3. The tag ``solution`` becomes ``exercise``, and the notebook's metadata
   (``nslab.student``) lists each exercise's cell indices and stubbed names.

A stub never passes a check: a :class:`Todo` raises :class:`ExerciseFailed`,
with a hint naming the stub, the moment a check uses it (calls it, enters it
with ``with``, reads an attribute, compares it, tests its truth, iterates it),
and ``nslab.expect(todo, ...)`` refuses it as not a Child or View
(NsValueError).  So an unanswered exercise fails in its own check cell with
a hint, never with a NameError.
"""

from __future__ import annotations

import ast
import copy
import os
import re

__all__ = ["Todo", "make_student", "student_main", "todo", "write_student"]

STUDENT_MARK = "# student:"
EXERCISE_TAG = "exercise"
SOLUTION_TAG = "solution"
HEADER = "# Your code here: replace each nslab.todo(...) with your answer, run this cell, then the check below."


# ---------------------------------------------------------------- the stub value


class Todo:
    """An answer not written yet: any use of it by a check fails with a hint.

    ``repr`` and ``str`` work (so printing it is harmless); everything a check
    does with an answer raises :class:`nslab.ExerciseFailed`.
    """

    __slots__ = ("_todo_name",)

    def __init__(self, name="answer"):
        object.__setattr__(self, "_todo_name", str(name))

    def __repr__(self):
        return f"nslab.todo({self._todo_name!r})"

    def _todo_fail(self, *_args, **_kwargs):
        from ._expect import ExerciseFailed

        name = self._todo_name
        raise ExerciseFailed(
            [
                (
                    name,
                    False,
                    "not written yet (still the student stub nslab.todo(...))",
                    f"write your answer in place of {name} = nslab.todo(...) in the exercise cell above, run that cell, then this check again",
                )
            ]
        )

    def __getattr__(self, attr):
        # Private and dunder probes (IPython's display machinery, copy, pickle)
        # get the ordinary answer; a check reading a real attribute gets the hint.
        if attr.startswith("_"):
            raise AttributeError(attr)
        self._todo_fail()

    __call__ = __enter__ = __iter__ = __bool__ = __len__ = __getitem__ = __contains__ = _todo_fail
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _todo_fail
    __int__ = __float__ = __index__ = __fspath__ = _todo_fail
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = _todo_fail

    def __exit__(self, *exc):
        return False

    __hash__ = object.__hash__


def todo(name="answer"):
    """The stub value of a student edition: ``answer = nslab.todo("answer")``."""
    return Todo(name)


# ---------------------------------------------------------------- source analysis

_MAGIC = re.compile(r"^\s*[%!]")


def _parse(source):
    """ast of a cell, IPython magics and shell escapes blanked out; None if it is not Python."""
    text = "\n".join("" if _MAGIC.match(line) else line for line in source.splitlines())
    try:
        return ast.parse(text)
    except SyntaxError:
        return None


def _target_names(node):
    if isinstance(node, ast.Name):
        yield node.id
    elif isinstance(node, (ast.Tuple, ast.List)):
        for elt in node.elts:
            yield from _target_names(elt)
    elif isinstance(node, ast.Starred):
        yield from _target_names(node.value)


def _bindings(body):
    """(name, kind, stmt) for every name a module-level block binds, in order.

    Descends into if/for/while/with/try blocks (they run at module level) but
    not into function or class bodies.  ``except ... as err`` names are left
    out: Python unbinds them when the handler ends.
    """
    out = []
    for stmt in body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.append((stmt.name, "def", stmt))
        elif isinstance(stmt, ast.ClassDef):
            out.append((stmt.name, "class", stmt))
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for alias in stmt.names:
                out.append(((alias.asname or alias.name).split(".")[0], "import", stmt))
        elif isinstance(stmt, ast.Assign):
            for tgt in stmt.targets:
                out += [(n, "assign", stmt) for n in _target_names(tgt)]
        elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
            out += [(n, "assign", stmt) for n in _target_names(stmt.target)]
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            out += [(n, "assign", stmt) for n in _target_names(stmt.target)]
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                if item.optional_vars is not None:
                    out += [(n, "assign", stmt) for n in _target_names(item.optional_vars)]
        # Walrus targets anywhere in a module-level statement bind at module level.
        if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for sub in ast.walk(stmt):
                if isinstance(sub, ast.NamedExpr):
                    out += [(n, "assign", stmt) for n in _target_names(sub.target)]
        for field in ("body", "orelse", "finalbody"):
            block = getattr(stmt, field, None)
            if block and not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                out += _bindings(block)
        for handler in getattr(stmt, "handlers", None) or []:
            out += _bindings(handler.body)
    return out


def _loads(source):
    """Names a cell reads (anywhere, function bodies included); a word match if it is not Python."""
    tree = _parse(source)
    if tree is None:
        return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", source))
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _def_stub(node, name):
    lines = [f"@{ast.unparse(d)}" for d in node.decorator_list]
    kw = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
    ret = f" -> {ast.unparse(node.returns)}" if node.returns is not None else ""
    lines.append(f"{kw} {node.name}({ast.unparse(node.args)}){ret}:")
    doc = ast.get_docstring(node, clean=False)
    if doc is not None:
        lines.append(f'    """{doc}"""' if '"""' not in doc and not doc.endswith('"') else f"    {doc!r}")
    lines.append("    # your code here")
    lines.append(f'    return nslab.todo("{name}()")')
    return "\n".join(lines)


def stub_source(source, later_sources=(), *, need_import=False):
    """The student stub for one solution cell's source.

    ``later_sources`` are the notebook's code cells after it: a name the
    solution binds is stubbed when one of them reads it (all the solution's
    names when none does).  Imports are kept, functions keep their signature,
    and an assignment that only calls a function defined in the same cell
    (``answer = find_it(x)``) is kept as the scaffolding it is.
    """
    marked = [line.strip()[len(STUDENT_MARK) :] for line in source.splitlines() if line.strip().startswith(STUDENT_MARK)]
    if marked:
        body = [m[1:] if m.startswith(" ") else m for m in marked]
        return "\n".join(([HEADER] if not body[0].startswith("#") else []) + body)
    tree = _parse(source)
    if tree is None:
        raise ValueError("a solution cell that is not Python needs '# student: ...' lines giving its stub")
    binds = _bindings(tree.body)
    used = set().union(*(_loads(s) for s in later_sources)) if later_sources else set()
    wanted = [n for n, kind, _ in binds if kind != "import" and n in used]
    if not wanted:
        wanted = [n for n, kind, _ in binds if kind != "import"]
    defs = {n: node for n, kind, node in binds if kind == "def"}
    local = {n for n, _k, _s in binds}
    head = [HEADER] + (["import nslab"] if need_import else [])
    head += [ast.unparse(s) for s in tree.body if isinstance(s, (ast.Import, ast.ImportFrom))]
    blocks, done = [], set()  # (is_def, text)
    for name, kind, node in binds:
        if kind == "import" or name in done:
            continue
        if kind == "def":
            # Every function of the solution keeps its signature: it is what the student writes.
            blocks.append((True, _def_stub(node, name)))
            done.add(name)
        elif name in wanted:
            if _scaffolding(node, defs, local):
                blocks.append((False, ast.unparse(node)))
                done.update(_target_names(node.targets[0]))
            else:
                blocks.append((False, f'{name} = nslab.todo("{name}")'))
                done.add(name)
    text = "\n".join(head)
    prev_def = False
    for is_def, block in blocks:
        text += ("\n\n\n" if (is_def or prev_def) else "\n") + block
        prev_def = is_def
    return text


def _scaffolding(stmt, defs, local):
    """``answer = f(x, 3)`` where f is defined in the same cell and x is not: it gives nothing away."""
    if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.value, ast.Call)):
        return False
    call = stmt.value
    if not (isinstance(call.func, ast.Name) and call.func.id in defs):
        return False
    args = list(call.args) + [k.value for k in call.keywords]
    return all(isinstance(a, ast.Constant) or (isinstance(a, ast.Name) and a.id not in local) for a in args)


# ---------------------------------------------------------------- notebooks


def _tags(cell):
    return list(cell.get("metadata", {}).get("tags", []))


def exercises(nb):
    """(solution index, check index) for each exercise: a ``solution`` cell and the next code cell."""
    out = []
    cells = nb["cells"]
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code" or SOLUTION_TAG not in _tags(cell):
            continue
        j = next((k for k in range(i + 1, len(cells)) if cells[k]["cell_type"] == "code"), None)
        if j is None or SOLUTION_TAG in _tags(cells[j]):
            raise ValueError(f"solution cell {i} has no check cell after it (CONVENTIONS.md: the next cell checks it)")
        out.append((i, j))
    return out


def _clear(cell):
    cell["outputs"] = []
    cell["execution_count"] = None
    cell.get("metadata", {}).pop("execution", None)


def make_student(nb):
    """A student edition of a notebook (a new object; ``nb`` is not changed)."""
    if nb.get("metadata", {}).get("nslab", {}).get("student"):
        raise ValueError("this notebook is already a student edition")
    nb = copy.deepcopy(nb)
    cells = nb["cells"]
    found = exercises(nb)
    imported = False
    record, stubbed = [], set()
    sol_index = {i for i, _ in found}
    for idx, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        tree = _parse(cell["source"])
        if idx in sol_index:
            later = [c["source"] for c in cells[idx + 1 :] if c["cell_type"] == "code"]
            cell["source"] = stub_source(cell["source"], later, need_import=not imported)
            stub_tree = _parse(cell["source"])
            names = sorted({n for n, k, _ in _bindings(stub_tree.body) if k != "import"}) if stub_tree else []
            stubbed |= set(names)
            check = next(j for i, j in found if i == idx)
            record.append({"solution": idx, "check": check, "names": names})
            cell["metadata"]["tags"] = [t for t in _tags(cell) if t != SOLUTION_TAG] + [EXERCISE_TAG]
            _clear(cell)
            continue
        if tree is not None and any(
            isinstance(s, ast.Import) and any(a.name == "nslab" and a.asname is None for a in s.names) for s in tree.body
        ):
            imported = True
        # A check cell, or any later cell that reads a stubbed name, may print the answer.
        if stubbed and _loads(cell["source"]) & stubbed:
            _clear(cell)
    for _i, j in found:
        _clear(cells[j])
    nb.setdefault("metadata", {}).setdefault("nslab", {})["student"] = {"exercises": record}
    from nbformat import from_dict

    return from_dict(nb)


GITIGNORE = "# Generated by `make student` (nslab student): rebuilt from notebooks/, never committed.\n*\n"


def write_student(paths, outdir):
    """Write the student edition of each notebook path into outdir; return the written paths."""
    import nbformat

    os.makedirs(outdir, exist_ok=True)
    # The directory ignores itself: generated files, rebuilt from the notebooks.
    with open(os.path.join(outdir, ".gitignore"), "w") as f:
        f.write(GITIGNORE)
    written = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        student = make_student(nb)
        target = os.path.join(outdir, os.path.basename(path))
        nbformat.write(nbformat.from_dict(student), target)
        written.append((target, len(student.metadata["nslab"]["student"]["exercises"])))
    return written


def notebook_paths(directory):
    """The kit's notebooks in reading order: ``NN-name.ipynb`` in directory."""
    return sorted(
        os.path.join(directory, f) for f in os.listdir(directory) if re.match(r"[0-9].*\.ipynb$", f)
    )


def student_main(paths, outdir, out):
    """``nslab student``: write the editions, one line each; exit status."""
    if not paths:
        print("nslab student: no notebooks to convert", file=out)
        return 1
    try:
        written = write_student(paths, outdir)
    except (OSError, ValueError) as err:
        print(f"nslab student: {err}", file=out)
        return 1
    for target, n in written:
        print(f"{target}: {n} exercise{'s' if n != 1 else ''} stubbed", file=out)
    return 0
