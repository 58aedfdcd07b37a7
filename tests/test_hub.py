"""A class beyond one machine: hub/ (image, Zero to JupyterHub values, notes), docs/workshop.md,
and doctor's verdict where namespaces are locked down (Binder, a default container).

No image is built and no cluster is used: the files are checked statically
(well-formed, same pins as constraints.txt, each security setting explained),
and the locked-down machine is simulated for real without touching the host
(a user namespace whose max_*_namespaces are all 0), or with synthetic rows.
"""

from __future__ import annotations

import errno
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import nslab
from nslab import _doctor, _errors
from nslab.__main__ import main
from nslab._room import room

ROOT = Path(__file__).resolve().parent.parent
HUB = ROOT / "hub"
DOCS = ROOT / "docs"
TYPES = list(nslab.NAMESPACES)

# .ci/rootless copies only tests/ and the pin files: there, the static checks have nothing to read.
needs_tree = pytest.mark.skipif(not HUB.is_dir(), reason="hub/ is not in this copy of the tree (rootless tier)")


def _pins():
    sys.path.insert(0, str(Path(__file__).parent))
    from test_pins import normalize, parse_constraints

    return parse_constraints((ROOT / "constraints.txt").read_text()), normalize


# ---------------------------------------------------------------- hub/Dockerfile

INSTRUCTIONS = {
    "FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME",
    "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
}


def dockerfile(path):
    """[(INSTRUCTION, arguments)] of a Dockerfile: comments dropped, continuation lines joined."""
    out, buf = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if buf and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        word, _, rest = buf.partition(" ")
        out.append((word.upper(), rest.strip()))
        if word != word.upper():
            raise ValueError(f"instruction not in upper case: {word}")
        buf = ""
    assert not buf, "the Dockerfile ends inside a continued line"
    return out


def _expand(text, args):
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m.group(1) or m.group(2), m.group(0)), text)


@needs_tree
def test_dockerfile_is_well_formed():
    ins = dockerfile(HUB / "Dockerfile")
    assert {i for i, _ in ins} <= INSTRUCTIONS, {i for i, _ in ins} - INSTRUCTIONS
    first = next(i for i, (word, _) in enumerate(ins) if word != "ARG")
    assert ins[first][0] == "FROM"
    base = ins[first][1]
    assert re.match(r"(python:3\.11[\w.-]*-bookworm|debian:(12|bookworm)[\w.-]*|quay\.io/jupyter/base-notebook[:\w.-]*)$", base), base
    for word, rest in ins:
        if word in ("CMD", "ENTRYPOINT") and rest.startswith("["):
            assert all(isinstance(a, str) for a in json.loads(rest))  # exec form is a JSON list
        if word in ("COPY", "ADD"):
            srcs = [s for s in shlex.split(rest) if not s.startswith("--")][:-1]
            for src in srcs:
                assert (ROOT / src).exists(), f"{word} {src}: not in the build context (the repository root)"
    users = [rest for word, rest in ins if word == "USER"]
    args = dict(a.split("=", 1) for w, a in ins if w == "ARG" and "=" in a)
    assert users and _expand(users[-1], args) not in ("root", "0"), "the server must not run as root"
    text = " ".join(rest for _, rest in ins)
    assert "--privileged" not in text and "sudo" not in text
    apt = " ".join(rest for word, rest in ins if word == "RUN" and "apt-get install" in rest)
    for pkg in ("iproute2", "util-linux", "procps"):
        assert re.search(rf"\b{pkg}\b", apt), f"{pkg} is not installed"
    assert any("constraints.txt" in rest for word, rest in ins if word in ("COPY", "ADD"))


def pip_installs(ins):
    """Each pip install of the Dockerfile as (requirement files, constraint files, specs, --no-deps)."""
    args = dict(a.split("=", 1) for w, a in ins if w == "ARG" and "=" in a)
    out = []
    for word, rest in ins:
        if word != "RUN":
            continue
        for part in re.split(r"&&|;", _expand(rest, args)):
            words = shlex.split(part)
            if "pip" not in words or "install" not in words:
                continue
            words = words[words.index("install") + 1 :]
            reqs, cons, specs, nodeps = [], [], [], "--no-deps" in words
            it = iter(words)
            for w in it:
                if w in ("-r", "--requirement"):
                    reqs.append(next(it))
                elif w in ("-c", "--constraint"):
                    cons.append(next(it))
                elif not w.startswith("-"):
                    specs.append(w)
            out.append((reqs, cons, specs, nodeps))
    return out


@needs_tree
def test_image_installs_the_pinned_versions():
    pins, normalize = _pins()
    installs = pip_installs(dockerfile(HUB / "Dockerfile"))
    assert installs, "no pip install in the Dockerfile"
    # Every pin, exactly: constraints.txt itself is installed as the requirements.
    assert any("constraints.txt" in reqs for reqs, _c, _s, _n in installs)
    for reqs, cons, specs, nodeps in installs:
        named = [s for s in specs if s != "."]
        if named:
            # Anything else named is held to the same pins, so it cannot move one.
            assert "constraints.txt" in cons + reqs, f"pip install {named} without -c constraints.txt"
        if "." in specs:
            assert nodeps, "the kit itself must not re-resolve its dependencies"
        for spec in named:
            m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([\w.+!-]+)", spec)
            assert m, f"not an exact pin: {spec}"
            name, ver = normalize(m.group(1)), m.group(2)
            if name in pins:
                assert pins[name] == ver, f"{name}: image {ver}, constraints.txt {pins[name]}"
            else:
                assert name == "jupyterhub", f"{name} is neither in constraints.txt nor the Hub itself"


@needs_tree
def test_environment_yml_is_the_same_pins():
    # The conda route (repo2docker reads environment.yml) gets the same versions: test_pins checks the pair.
    sys.path.insert(0, str(Path(__file__).parent))
    from test_pins import parse_environment

    pins, normalize = _pins()
    env = parse_environment((ROOT / "environment.yml").read_text())
    for name, ver in env.items():
        if ver is not None and name != "python":  # pinned by its minor version only
            assert pins[normalize(name)] == ver


# ---------------------------------------------------------------- hub/z2jh-values.yaml


def _walk(node, path=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield (*path, k), v
            yield from _walk(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, (*path, i))


@needs_tree
def test_z2jh_values_parse_and_say_what_namespaces_need():
    import yaml

    text = (HUB / "z2jh-values.yaml").read_text()
    values = yaml.safe_load(text)
    single = values["singleuser"]
    assert single["uid"] == 1000 and single["allowPrivilegeEscalation"] is False
    assert single["extraPodConfig"]["hostUsers"] is False
    sc = values["hub"]["config"]["KubeSpawner"]["container_security_context"]
    assert sc["seccompProfile"]["type"] in ("Unconfined", "Localhost")
    assert sc["appArmorProfile"]["type"] in ("Unconfined", "Localhost")
    assert sc["privileged"] is False and sc["allowPrivilegeEscalation"] is False and sc["runAsNonRoot"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["procMount"] == "Unmasked"
    for path, value in _walk(values):
        key = path[-1]
        assert not (key == "privileged" and value is True), path
        assert not (key == "add" and "capabilities" in path), f"a capability is added at {path}"
    # Each security setting has its reason in a comment right above it.
    lines = text.splitlines()
    for key in ("hostUsers", "allowPrivilegeEscalation", "privileged", "capabilities", "seccompProfile", "appArmorProfile", "procMount"):
        idx = next(i for i, line in enumerate(lines) if line.strip().startswith(key + ":"))
        assert lines[idx - 1].strip().startswith("#"), f"{key} has no comment saying why"


# ---------------------------------------------------------------- notes and the guide


@needs_tree
def test_tljh_and_binder_notes():
    tljh = (HUB / "tljh.md").read_text()
    for needle in ("bootstrap.py", "constraints.txt", "kernel.apparmor_restrict_unprivileged_userns", "user.max_user_namespaces", "per core"):
        assert needle in tljh, needle
    binder = (HUB / "binder.md").read_text()
    for needle in ("repo2docker", "environment.yml", "seccomp", "stored outputs", "nslab doctor"):
        assert needle in binder, needle


def _index_minutes():
    """{NN: minutes} from 00-mechanism's own index table, if that notebook exists."""
    src = ROOT / "notebooks" / "src" / "00-mechanism.py"
    if not src.exists():
        return {}
    rows = re.findall(r"^# \| (\d\d) \|.*\| (\d+) min \|\s*$", src.read_text(), re.M)
    return {nn: int(m) for nn, m in rows}


@needs_tree
def test_workshop_guide():
    guide = (DOCS / "workshop.md").read_text()
    for needle in (
        "kernel.apparmor_restrict_unprivileged_userns",
        "seccomp",
        "CONFIG_TIME_NS",
        "user.max_user_namespaces",
        "kernel.unprivileged_userns_clone",
        "max_<type>_namespaces",
        "nslab doctor --json",
        "nslab doctor --merge",
        "make student",
    ):
        assert needle in guide, needle
    index = _index_minutes()
    agenda = {nn: int(m) for nn, m in re.findall(r"^\| [\d:]+ \| `(\d\d)-[\w-]+` \| (\d+) min", guide, re.M)}
    for nn, minutes in index.items():
        assert agenda.get(nn) == minutes, f"notebook {nn}: the agenda says {agenda.get(nn)} min, 00-mechanism's index {minutes}"


# ---------------------------------------------------------------- doctor where nothing may be created

LOCKDOWN = r"""
import glob, io, json, sys
for path in glob.glob("/proc/sys/user/max_*_namespaces"):
    with open(path, "w") as f:     # per user namespace: this subtree only
        f.write("0\n")
from nslab.__main__ import main
out = io.StringIO()
rc = main(["doctor", "--json"], out=out)
print(json.dumps({"rc": rc, "report": json.loads(out.getvalue())}))
"""


def _unshare():
    path = shutil.which("unshare")
    if path is None:
        pytest.skip("no unshare(1)")
    probe = subprocess.run([path, "--user", "--map-root-user", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a user namespace here: {probe.stderr.decode().strip()}")
    return path


@pytest.mark.live
def test_doctor_in_a_locked_down_subtree():
    unshare = _unshare()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [unshare, "--user", "--map-root-user", "--", sys.executable, "-c", LOCKDOWN],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    rep = doc["report"]
    assert doc["rc"] == 1 and rep["ok"] is False
    assert [r["type"] for r in rep["namespaces"]] == TYPES
    for r in rep["namespaces"]:
        assert r["works"] is False and r["error"] == os.strerror(errno.ENOSPC), r
        assert f"max_{r['type']}_namespaces" in r["cause"], r
    verdict = rep["verdict"].lower()
    assert "nothing" in verdict and "other notebooks run" not in verdict, rep["verdict"]
    # The room report names the sysctls.
    merged = room([("locked", rep)])
    assert {f["cause"] for f in merged.fixes} == {"limit", "no-userns"}
    assert merged.types[0]["works"] == 0


def _seccomp_like(monkeypatch):
    """Every spawn refused with EPERM under a seccomp filter, as on Binder or in a default Docker container."""
    monkeypatch.setattr(_errors, "_seccomp_mode", lambda: 2)
    real_facts = _doctor._facts

    def facts():
        f = real_facts()
        f["seccomp"] = "2"
        return f

    def refused(types, **_kw):
        t = next(iter(types))
        raise _errors.translate_oserror(OSError(errno.EPERM, "EPERM"), nstype=t, step=f"unshare({t})")

    monkeypatch.setattr(_doctor, "_facts", facts)
    monkeypatch.setattr("nslab._api.spawn", refused)


def test_doctor_verdict_under_seccomp(monkeypatch):
    _seccomp_like(monkeypatch)
    rep = nslab.doctor()
    assert not rep.ok
    for r in rep.rows:
        assert not r["works"] and r["error"] == os.strerror(errno.EPERM)
        assert "seccomp" in r["cause"] and "Seccomp: 2" in r["cause"], r
    verdict = rep.verdict.lower()
    assert "nothing" in verdict and "other notebooks run" not in verdict, rep.verdict
    assert "stored outputs" in verdict, "where nothing runs, the stored outputs carry the lesson (hub/binder.md)"
    assert {f["cause"] for f in room([("binder", rep.to_dict())]).fixes} == {"seccomp"}


def test_doctor_verdict_when_only_time_is_missing(monkeypatch):
    from nslab import _api

    real = _api.spawn

    def no_time(types, **kw):
        if "time" in types:
            raise _errors.translate_oserror(OSError(errno.EINVAL, "EINVAL"), nstype="time", step="unshare(time)")
        return real(types, **kw)

    monkeypatch.setattr("nslab._api.spawn", no_time)
    try:
        rep = nslab.doctor(["uts", "time"])
    except nslab.NslabError as err:
        pytest.skip(f"namespaces do not work here at all: {err}")
    if not rep.works("uts"):
        pytest.skip("uts namespaces do not work here")
    assert rep.verdict.startswith("Not available here: time.")
    assert "CONFIG_TIME_NS" in rep.rows[1]["cause"]


@pytest.mark.live
def test_pod_security_context_is_enough():
    """What z2jh-values.yaml gives the notebook process: a non-root uid, no capabilities at all
    (empty bounding set), no_new_privs. All eight types still work, through a user namespace."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("no setpriv(1)")
    _unshare()
    cmd = [setpriv, "--no-new-privs", "--bounding-set", "-all", "--inh-caps", "-all"]
    if os.geteuid() == 0:
        cmd += ["--reuid", "65534", "--regid", "65534", "--clear-groups"]
    # The kit's doctor is pure standard library: any python that can read this tree runs it.
    for python in (sys.executable, "/usr/bin/python3"):
        argv = [*cmd, "--", "env", "-i", "HOME=/tmp", "PATH=/usr/bin:/bin", f"PYTHONPATH={ROOT}", python, "-m", "nslab", "doctor", "--json"]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False, cwd="/")
        if proc.stdout.strip().startswith("{"):
            break
    else:
        pytest.skip(f"no python that uid 65534 can run: {proc.stderr.strip()}")
    rep = json.loads(proc.stdout)
    if not nslab.doctor().ok:
        pytest.skip("not every type works here even with privileges")
    assert rep["ok"], [r for r in rep["namespaces"] if not r["works"]]
    assert rep["facts"]["privilege"] == "user"


def test_cli_merge_is_wired_into_doctor(tmp_path):
    out = io.StringIO()
    main(["doctor", "--json"], out=out)
    (tmp_path / "one.json").write_text(out.getvalue())
    out2 = io.StringIO()
    rc = main(["doctor", "--merge", str(tmp_path / "one.json"), "--json"], out=out2)
    assert rc in (0, 1) and json.loads(out2.getvalue())["summary"]["machines"] == 1
