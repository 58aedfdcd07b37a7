"""environment.yml, constraints.txt and pyproject.toml must agree.

The stored notebook outputs were made with the versions in constraints.txt;
a conda user must get the same ones, and every direct dependency must be
pinned in both files. The parsers here are tiny on purpose: the test must
not depend on PyYAML.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Listed in environment.yml without a pin on purpose: python is pinned by its
# minor version, and pip is only there to run the `pip:` section.
UNPINNED_OK = {"python", "pip"}

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalize(name: str) -> str:
    """PEP 503 name normalisation: case and runs of -_. do not matter."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_constraints(text: str) -> dict[str, str]:
    """`name==version` lines of a pip constraints file; comments and blanks skipped.

    Anything else (a range, an URL, an option) raises ValueError: the file
    must hold exact pins only.
    """
    pins: dict[str, str] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!_-]+)", line)
        if not m:
            raise ValueError(f"constraints line {lineno} is not an exact pin: {raw!r}")
        pins[normalize(m.group(1))] = m.group(2)
    return pins


def parse_environment(text: str) -> dict[str, str | None]:
    """Packages of a conda environment.yml, conda ones and the `pip:` section's.

    Reads only the list under `dependencies:`: `- name=version` (conda),
    `- name==version` (pip), `- name` (unpinned, value None), and one nested
    `- pip:` list. Raises ValueError on a line it does not understand.
    """
    deps: dict[str, str | None] = {}
    in_deps = False
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        if not line[0].isspace():  # a top-level key
            in_deps = line.strip() == "dependencies:"
            continue
        if not in_deps:
            continue
        item = line.strip()
        if not item.startswith("- "):
            raise ValueError(f"environment.yml line {lineno} is not a list item: {raw!r}")
        spec = item[2:].strip()
        if spec == "pip:":
            continue
        m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:={1,2}\s*([A-Za-z0-9.+!_*-]+))?", spec)
        if not m:
            raise ValueError(f"environment.yml line {lineno} is not `name=version`: {raw!r}")
        deps[normalize(m.group(1))] = m.group(2)
    return deps


def requirement_name(req: str) -> str:
    """The distribution name of a PEP 508 requirement string."""
    m = _NAME.match(req)
    if not m:
        raise ValueError(f"not a requirement: {req!r}")
    return normalize(m.group(1))


def mismatches(env: dict[str, str | None], pins: dict[str, str]) -> list[str]:
    """Every way environment.yml disagrees with constraints.txt, one line each."""
    problems = []
    for name, version in sorted(env.items()):
        if name in UNPINNED_OK:
            continue
        if version is None:
            problems.append(f"{name}: not pinned in environment.yml")
        elif name not in pins:
            problems.append(f"{name}: in environment.yml ({version}) but not in constraints.txt")
        elif pins[name] != version:
            problems.append(f"{name}: environment.yml has {version}, constraints.txt has {pins[name]}")
    return problems


def missing_direct(direct: list[str], env: dict[str, str | None], pins: dict[str, str]) -> list[str]:
    """Direct dependencies absent from environment.yml or constraints.txt."""
    problems = []
    for name in sorted(set(direct)):
        if name not in env:
            problems.append(f"{name}: direct dependency missing from environment.yml")
        if name not in pins:
            problems.append(f"{name}: direct dependency missing from constraints.txt")
    return problems


def direct_dependencies(pyproject_text: str) -> list[str]:
    """Names in [project] dependencies and the `test` extra."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # 3.10: tomli if present, else there is nothing to read it with
        tomllib = pytest.importorskip("tomli", reason="reading pyproject.toml needs tomllib (3.11+) or tomli")
    project = tomllib.loads(pyproject_text)["project"]
    reqs = list(project.get("dependencies", []))
    reqs += project.get("optional-dependencies", {}).get("test", [])
    return [requirement_name(r) for r in reqs]


# --- the helpers, on samples (so the real checks below can fail) -------------

SAMPLE_ENV = """\
name: x
channels:
  - conda-forge
dependencies:
  - python=3.11
  - Jupyter_Client=8.10.0   # case and _ vs - do not matter
  - pandas=3.1.1
  - ruff
  - pip
  - pip:
      - playwright==1.65.2
"""

SAMPLE_PINS = """\
# header
jupyter-client==8.10.0
pandas==3.0.0
ruff==0.17.6
"""


def test_parse_environment_sample():
    assert parse_environment(SAMPLE_ENV) == {
        "python": "3.11",
        "jupyter-client": "8.10.0",
        "pandas": "3.1.1",
        "ruff": None,
        "pip": None,
        "playwright": "1.65.2",
    }


def test_mismatches_finds_each_kind():
    problems = mismatches(parse_environment(SAMPLE_ENV), parse_constraints(SAMPLE_PINS))
    assert problems == [
        "pandas: environment.yml has 3.1.1, constraints.txt has 3.0.0",
        "playwright: in environment.yml (1.65.2) but not in constraints.txt",
        "ruff: not pinned in environment.yml",
    ]


def test_matching_sample_has_no_mismatch():
    assert mismatches({"jupyter-client": "8.10.0", "python": "3.11"}, parse_constraints(SAMPLE_PINS)) == []


def test_missing_direct_sample():
    env = parse_environment(SAMPLE_ENV)
    pins = parse_constraints(SAMPLE_PINS)
    assert missing_direct(["pandas", "nbval"], env, pins) == [
        "nbval: direct dependency missing from environment.yml",
        "nbval: direct dependency missing from constraints.txt",
    ]


@pytest.mark.parametrize("line", ["pandas>=3", "pandas", "-e .", "pandas==3.1.1 ; python_version<'3.12'"])
def test_constraints_reject_non_exact(line):
    with pytest.raises(ValueError):
        parse_constraints(line)


def test_requirement_name():
    assert requirement_name("jupyter_client>=8") == "jupyter-client"
    assert requirement_name("pytest-timeout") == "pytest-timeout"
    assert requirement_name("Foo.Bar[extra] ; python_version < '3.11'") == "foo-bar"


# --- the real files ----------------------------------------------------------


@pytest.fixture(scope="module")
def env():
    return parse_environment((ROOT / "environment.yml").read_text())


@pytest.fixture(scope="module")
def pins():
    return parse_constraints((ROOT / "constraints.txt").read_text())


def test_environment_matches_constraints(env, pins):
    assert len(env) > len(UNPINNED_OK)  # the parser found the list at all
    assert mismatches(env, pins) == []


def test_direct_dependencies_pinned_in_both(env, pins):
    direct = direct_dependencies((ROOT / "pyproject.toml").read_text())
    assert "nbval" in direct  # the parser found the list at all
    assert missing_direct(direct, env, pins) == []


def test_environment_python_is_the_constraints_python(env):
    # constraints.txt is resolved for CPython 3.11; conda must get the same minor.
    assert env["python"] == "3.11"
