"""Student editions (nslab/_student.py): stubs in place of solutions, no answer left in outputs,
and every exercise's check fails on the student edition and passes on the solution.

The fast tests use a synthetic notebook (executed in process, and once by a
real kernel); ``-m slow`` executes every real notebook in both editions.
"""

from __future__ import annotations

import ast
import glob
import io
import json
from pathlib import Path

import nbformat
import pytest

import nslab
from nslab import _student
from nslab.__main__ import main

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(glob.glob(str(ROOT / "notebooks" / "[0-9]*.ipynb")))
# What a check says when it refuses: expect()'s ExerciseFailed (a stub's, or a
# wrong answer's), or expect()'s NsValueError for something that is no Child/View.
REFUSALS = {"ExerciseFailed", "NsValueError"}


# ---------------------------------------------------------------- a synthetic notebook

def _code(src, tags=(), outputs=()):
    cell = nbformat.v4.new_code_cell(src)
    if tags:
        cell.metadata["tags"] = list(tags)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=t) for t in outputs]
    cell.execution_count = 1 if outputs else None
    return cell


def synthetic():
    """Four exercises of four shapes, none needing a namespace (so they run anywhere, fast).

    Stored outputs stand for the answers an executed notebook would leak.
    """
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 99 · synthetic\n\nA notebook for the student-edition tests."),
        _code("import nslab\n\nHOST = nslab.view()", outputs=["lesson output kept\n"]),
        nbformat.v4.new_markdown_cell("**1.** A View that shares the host's UTS namespace, called `answer`."),
        _code("answer = nslab.view()  # SECRET-1", tags=["solution"], outputs=["SECRET-1 output\n"]),
        _code('print(nslab.expect(answer, shared=["uts"]))', outputs=["✔ 1 checks passed SECRET-1\n"]),
        nbformat.v4.new_markdown_cell("**2.** `host_view()` returns this process's View."),
        _code(
            'def host_view(label="me"):\n    """This process\'s View."""\n    return nslab.view()  # SECRET-2\n',
            tags=["solution", "nbval-ignore-output"],
        ),
        _code('print(nslab.expect(host_view(), shared=["net"]))'),
        nbformat.v4.new_markdown_cell("**3.** Catch what spawn raises for a hostname without `uts`, in `refused`."),
        _code(
            'import errno\ntry:\n    nslab.spawn(["pid"], hostname="x")  # SECRET-3\nexcept nslab.UnsafeRequest as err:\n    refused = err\n',
            tags=["solution"],
        ),
        _code('print(refused.message)\nassert isinstance(refused, nslab.UnsafeRequest) and refused.nstype == "uts"'),
        nbformat.v4.new_markdown_cell("**4.** The author's own stub, by marker."),
        _code('# student: answer = None\nanswer = HOST  # SECRET-4', tags=["solution"]),
        _code('print(nslab.expect(answer, shared=["ipc"]))'),
        _code("print('the answer was', answer)", outputs=["the answer was SECRET-4\n"]),
        _code("print('unrelated', 1 + 1)", outputs=["unrelated 2\n"]),
    ]
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"99-{i:03d}"
    return nb


def run_in_process(nb):
    """Execute the code cells in one namespace, as a kernel would; {cell index: exception or None}."""
    ns: dict = {}
    result = {}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        try:
            exec(compile(cell.source, f"<cell {i}>", "exec"), ns)  # noqa: S102 - the test's own notebook
        except Exception as err:
            result[i] = err
        else:
            result[i] = None
    return result


# ---------------------------------------------------------------- stubs


def test_assignment_is_stubbed_by_name():
    stub = _student.stub_source("answer = nslab.spawn(['net'])\nup = answer.run(['ip'])", ["with answer:\n    pass"])
    assert 'answer = nslab.todo("answer")' in stub
    assert "spawn" not in stub and "up =" not in stub  # only names later cells read
    ast.parse(stub)


def test_function_keeps_signature_and_docstring():
    src = 'def find(pidns, *, deep=False) -> int:\n    """Find it."""\n    return 42\n\nanswer = find(box_pidns)\n'
    stub = _student.stub_source(src, ["assert answer == 1"])
    tree = ast.parse(stub)
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef))
    assert ast.unparse(fn.args) == "pidns, *, deep=False" and ast.get_docstring(fn) == "Find it."
    assert "42" not in stub
    assert "answer = find(box_pidns)" in stub  # scaffolding: it calls the student's own function


def test_try_except_binds_the_caught_error_not_the_handler_name():
    src = "try:\n    nslab.spawn(['pid'], hostname='x')\nexcept nslab.UnsafeRequest as err:\n    refused = err\n"
    stub = _student.stub_source(src, ["print(refused.message)"])
    assert 'refused = nslab.todo("refused")' in stub and "err =" not in stub and "hostname" not in stub


def test_marker_lines_are_the_whole_stub():
    stub = _student.stub_source("# student: answer = None  # your code here\nanswer = secret()", [])
    assert stub.splitlines()[-1] == "answer = None  # your code here" and "secret" not in stub


def test_imports_are_kept():
    stub = _student.stub_source("import os\nanswer = os.getpid()", ["answer"])
    assert "import os" in stub and "getpid" not in stub


def test_todo_refuses_every_use_with_a_hint():
    t = nslab.todo("answer")
    assert repr(t) == "nslab.todo('answer')" and "answer" in str(t)
    uses = [
        lambda: t(),
        lambda: t.__enter__(),
        lambda: t.view(),
        lambda: t == 1,
        lambda: bool(t),
        lambda: list(t),
        lambda: int(t),
        lambda: t[0],
    ]
    for use in uses:
        with pytest.raises(nslab.ExerciseFailed) as info:
            use()
        assert "answer" in str(info.value) and "exercise cell above" in info.value.hint
    with pytest.raises(nslab.NsValueError):
        nslab.expect(t, shared=["uts"])  # expect itself refuses what is no Child or View
    hash(t)  # usable as a dict key (IPython's output cache)


# ---------------------------------------------------------------- the edition


def test_student_edition_shape():
    nb = synthetic()
    st = _student.make_student(nb)
    assert [c.get("id") for c in st.cells] == [c.get("id") for c in nb.cells]
    assert [c.cell_type for c in st.cells] == [c.cell_type for c in nb.cells]
    record = st.metadata["nslab"]["student"]["exercises"]
    assert [(e["solution"], e["check"]) for e in record] == [(3, 4), (6, 7), (9, 10), (12, 13)]
    assert [e["names"] for e in record] == [["answer"], ["host_view"], ["refused"], ["answer"]]
    for e in record:
        sol, chk = st.cells[e["solution"]], st.cells[e["check"]]
        assert "solution" not in sol.metadata["tags"] and "exercise" in sol.metadata["tags"]
        assert sol.outputs == [] and chk.outputs == [] and chk.source == nb.cells[e["check"]].source
    assert st.cells[6].metadata["tags"] == ["nbval-ignore-output", "exercise"]
    assert st.cells[1].outputs == nb.cells[1].outputs  # lesson outputs stay
    assert st.cells[14].outputs == []  # a later cell that prints a stubbed name
    assert st.cells[15].outputs == nb.cells[15].outputs
    assert "SECRET" not in json.dumps(st)
    assert "SECRET" in json.dumps(nb)  # the original is untouched
    with pytest.raises(ValueError, match="already a student edition"):
        _student.make_student(st)


def test_checks_fail_on_student_and_pass_on_solution_in_process():
    nb = synthetic()
    st = _student.make_student(nb)
    sol_run, st_run = run_in_process(nb), run_in_process(st)
    for e in st.metadata["nslab"]["student"]["exercises"]:
        assert sol_run[e["solution"]] is None and sol_run[e["check"]] is None
        assert st_run[e["solution"]] is None  # the stub itself runs
        err = st_run[e["check"]]
        assert type(err).__name__ in REFUSALS, (e, err)
        assert err.hint


def test_a_solution_with_no_check_cell_is_an_error():
    nb = nbformat.v4.new_notebook()
    nb.cells = [_code("answer = 1", tags=["solution"])]
    with pytest.raises(ValueError, match="no check cell"):
        _student.make_student(nb)


# ---------------------------------------------------------------- executed by a kernel


def execute(nb, cwd):
    from nbclient import NotebookClient

    NotebookClient(
        nb, timeout=300, kernel_name="python3", allow_errors=True, resources={"metadata": {"path": str(cwd)}}
    ).execute()
    return nb


def _error(cell):
    return next((o for o in cell.outputs if o.output_type == "error"), None)


def judge(solution_nb, student_nb):
    """Problems found, as strings: a check that passes without its solution, or fails with it."""
    problems = []
    for e in student_nb.metadata["nslab"]["student"]["exercises"]:
        where = f"exercise at cell {e['solution']} ({', '.join(e['names'])})"
        for idx in (e["solution"], e["check"]):
            err = _error(solution_nb.cells[idx])
            if err is not None:
                problems.append(f"{where}: the solution edition fails in cell {idx}: {err.ename}: {err.evalue}")
        err = _error(student_nb.cells[e["check"]])
        if err is None:
            problems.append(f"{where}: the check passes on the student edition: it cannot fail")
        elif err.ename not in REFUSALS:
            problems.append(f"{where}: the student edition's check fails with {err.ename}, not a refusal with a hint")
        elif not any(w in "\n".join(err.traceback) for w in ("hint", "what to do")):
            problems.append(f"{where}: the check refused without a hint: {err.traceback}")
    return problems


def test_synthetic_notebook_in_a_kernel(tmp_path):
    src = tmp_path / "99-synthetic.ipynb"
    nbformat.write(synthetic(), src)
    out = io.StringIO()
    assert main(["student", "--out", str(tmp_path / "student"), str(src)], out=out) == 0
    assert "4 exercises stubbed" in out.getvalue()
    assert (tmp_path / "student" / ".gitignore").read_text().splitlines()[-1] == "*"
    st = nbformat.read(tmp_path / "student" / "99-synthetic.ipynb", as_version=4)
    sol = execute(nbformat.read(src, as_version=4), tmp_path)
    st = execute(st, tmp_path)
    assert judge(sol, st) == []


# ---------------------------------------------------------------- the real notebooks


def _solution_lines(nb):
    """Lines of solution cells that appear nowhere else in the notebook: the answers themselves.

    Scaffolding the stub keeps on purpose (``answer = find_it(x)``, calling
    the student's own function) is left out.
    """
    elsewhere = "\n".join(c.source for c in nb.cells if "solution" not in c.get("metadata", {}).get("tags", []))
    lines = set()
    for c in nb.cells:
        if c.cell_type == "code" and "solution" in c.metadata.get("tags", []):
            tree = ast.parse(c.source)
            binds = _student._bindings(tree.body)
            defs = {n: node for n, kind, node in binds if kind == "def"}
            local = {n for n, _k, _s in binds}
            kept = {ast.unparse(s) for s in tree.body if _student._scaffolding(s, defs, local)}
            for line in c.source.splitlines():
                if line.strip() in kept:
                    continue
                s = line.strip()
                if len(s) > 12 and not s.startswith(("#", "import ", "from ", "def ", "return None")) and s not in elsewhere:
                    lines.add(s)
    return lines


@pytest.mark.skipif(not NOTEBOOKS, reason="no notebooks/*.ipynb built yet")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[Path(p).stem for p in NOTEBOOKS])
def test_real_notebook_student_edition_leaks_nothing(path):
    nb = nbformat.read(path, as_version=4)
    st = _student.make_student(nb)
    record = st.metadata["nslab"]["student"]["exercises"]
    assert record, f"{Path(path).name} has no exercise (a cell tagged solution and its check)"
    text = json.dumps(st)
    leaked = sorted(line for line in _solution_lines(nb) if json.dumps(line)[1:-1] in text)
    assert not leaked, f"solution lines left in the student edition: {leaked}"
    for e in record:
        assert e["names"], f"cell {e['solution']}: the stub binds nothing, so its check cannot depend on it"
        assert st.cells[e["solution"]].outputs == [] and st.cells[e["check"]].outputs == []
        ast.parse(st.cells[e["solution"]].source)


@pytest.mark.slow
@pytest.mark.timeout(1200)
@pytest.mark.skipif(not NOTEBOOKS, reason="no notebooks/*.ipynb built yet")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[Path(p).stem for p in NOTEBOOKS])
def test_real_notebook_checks_fail_on_student_pass_on_solution(path):
    nb = nbformat.read(path, as_version=4)
    st = _student.make_student(nb)
    sol = execute(nb, ROOT / "notebooks")
    st = execute(st, ROOT / "notebooks")
    problems = judge(sol, st)
    if problems and not nslab.doctor().ok:
        # A check that skips itself where its type cannot run passes in both editions.
        problems = [p for p in problems if "cannot fail" not in p]
    assert problems == [], "\n".join(problems)
