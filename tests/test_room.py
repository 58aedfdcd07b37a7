"""nslab doctor --merge (nslab/_room.py): many machines' doctor --json in one room report."""

from __future__ import annotations

import io
import json

import pytest

from nslab import NAMESPACES
from nslab.__main__ import main
from nslab._room import CAUSES, classify, room

TYPES = list(NAMESPACES)
APPARMOR = (
    "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1): run "
    "'sysctl kernel.apparmor_restrict_unprivileged_userns=0' or give python an AppArmor profile that allows userns"
)
NO_TIME = "this kernel has no time namespaces (needs Linux 5.6+ with CONFIG_TIME_NS; WSL2's kernel lacks it): the other demos still work"


def facts(**kw):
    base = {
        "platform": "linux",
        "kernel": "6.8.0",
        "machine": "x86_64",
        "python": "3.11.7",
        "uid": 1000,
        "privilege": "user",
        "seccomp": "0",
        "apparmor_restrict_unprivileged_userns": None,
        "unprivileged_userns_clone": None,
        "max_namespaces": {t: "63000" for t in TYPES},
    }
    base.update(kw)
    return base


def report(fx, failing=None):
    failing = failing or {}
    rows = []
    for t in TYPES:
        if t in failing:
            error, cause = failing[t]
            rows.append(dict(type=t, works=False, how="via a user namespace", error=error, cause=cause))
        else:
            rows.append(dict(type=t, works=True, how="via a user namespace", error=None, cause=None))
    ok = not failing
    return {"facts": fx, "namespaces": rows, "verdict": "(synthetic)", "ok": ok}


@pytest.fixture
def three(tmp_path):
    """One fine VM, one Ubuntu 24.04 laptop under the AppArmor restriction, one WSL2 without time namespaces."""
    docs = {
        "vm-ok": report(facts(privilege="root", uid=0)),
        "ubuntu-laptop": report(
            facts(kernel="6.8.0-45-generic", apparmor_restrict_unprivileged_userns="1"),
            {t: ("Operation not permitted", APPARMOR) for t in TYPES},
        ),
        "wsl2": report(facts(kernel="5.15.153.1-microsoft-standard-WSL2"), {"time": ("Invalid argument", NO_TIME)}),
    }
    paths = []
    for name, doc in docs.items():
        p = tmp_path / f"{name}.json"
        p.write_text(json.dumps(doc))
        paths.append(str(p))
    return paths


def test_merge_counts_causes_and_fixes(three):
    out = io.StringIO()
    assert main(["doctor", "--merge", *three, "--json"], out=out) == 1  # some machine needs a fix
    doc = json.loads(out.getvalue())
    types = {t["type"]: t for t in doc["types"]}
    assert types["uts"] == {"type": "uts", "works": 2, "of": 3, "causes": {"apparmor": 1}}
    assert types["time"] == {"type": "time", "works": 1, "of": 3, "causes": {"apparmor": 1, "no-time-ns": 1}}
    assert all(types[t]["works"] == 2 for t in TYPES if t != "time")
    machines = {m["machine"]: m for m in doc["machines"]}
    assert machines["vm-ok"]["ok"] and machines["vm-ok"]["causes"] == []
    assert machines["ubuntu-laptop"]["causes"] == ["apparmor"] and sorted(machines["ubuntu-laptop"]["failing"]) == sorted(TYPES)
    assert machines["wsl2"]["causes"] == ["no-time-ns"] and list(machines["wsl2"]["failing"]) == ["time"]
    fixes = {f["cause"]: f for f in doc["fixes"]}
    assert set(fixes) == {"apparmor", "no-time-ns"}
    assert fixes["apparmor"]["machines"] == ["ubuntu-laptop"]
    assert "kernel.apparmor_restrict_unprivileged_userns=0" in fixes["apparmor"]["fix"]
    assert fixes["no-time-ns"]["machines"] == ["wsl2"] and fixes["no-time-ns"]["types"] == ["time"]
    assert doc["summary"] == {"machines": 3, "ready": 1} and doc["ok"] is False


def test_merge_text_table(three):
    out = io.StringIO()
    assert main(["doctor", "--merge", *three], out=out) == 1
    text = out.getvalue()
    assert text.startswith("nslab room: 3 machines, 1 can run every notebook")
    lines = text.splitlines()
    assert any(line.split()[:2] == ["time", "1/3"] for line in lines)
    assert any(line.split()[:2] == ["uts", "2/3"] for line in lines)
    assert any(line.strip().startswith("wsl2") and "NO: time" in line for line in lines)
    assert any(line.strip().startswith("vm-ok") and "all 8 types work" in line for line in lines)
    assert "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0" in text


def test_merge_a_directory_and_an_all_good_room(tmp_path):
    for name in ("a", "b"):
        (tmp_path / f"{name}.json").write_text(json.dumps(report(facts())))
    out = io.StringIO()
    assert main(["doctor", "--merge", str(tmp_path)], out=out) == 0
    assert "2 machines, 2 can run every notebook" in out.getvalue() and "fixes" not in out.getvalue()


def test_merge_refuses_what_is_not_a_report(tmp_path, capsys):
    bad = tmp_path / "x.json"
    bad.write_text('{"hello": 1}')
    assert main(["doctor", "--merge", str(bad)], out=io.StringIO()) == 2
    assert "not an nslab doctor --json report" in capsys.readouterr().err
    bad.write_text("not json")
    assert main(["doctor", "--merge", str(bad)], out=io.StringIO()) == 2


def test_merge_takes_this_machines_own_report(tmp_path):
    out = io.StringIO()
    rc = main(["doctor", "--json"], out=out)
    (tmp_path / "here.json").write_text(out.getvalue())
    rep = room([str(tmp_path / "here.json")])
    assert rep.machines[0]["machine"] == "here"
    assert rep.machines[0]["ok"] == (rc == 0) == json.loads(out.getvalue())["ok"]


@pytest.mark.parametrize(
    ("row", "fx", "want"),
    [
        # doctor's own words first
        ({"type": "net", "error": "Operation not permitted", "cause": "a seccomp filter refuses it (Seccomp: 2 ...)"}, facts(), "seccomp"),
        ({"type": "uts", "error": "Operation not permitted", "cause": APPARMOR}, facts(), "apparmor"),
        ({"type": "time", "error": "Invalid argument", "cause": NO_TIME}, facts(), "no-time-ns"),
        (
            {"type": "user", "error": "Operation not permitted", "cause": "kernel.unprivileged_userns_clone=0 (Debian): ..."},
            facts(unprivileged_userns_clone="0"),
            "debian-userns-clone",
        ),
        (
            {"type": "net", "error": "No space left on device", "cause": "/proc/sys/user/max_net_namespaces is 0 here: raise it"},
            facts(),
            "limit",
        ),
        (
            {"type": "user", "error": "No space left on device", "cause": "/proc/sys/user/max_user_namespaces is 0 here: raise it"},
            facts(),
            "no-userns",
        ),
        # then the facts, when the text is not telling
        ({"type": "pid", "error": "Operation not permitted", "cause": "refused"}, facts(seccomp="2"), "seccomp"),
        ({"type": "pid", "error": "Operation not permitted", "cause": "refused"}, facts(apparmor_restrict_unprivileged_userns="1"), "apparmor"),
        ({"type": "uts", "error": "not Linux", "cause": "..."}, facts(platform="darwin"), "not-linux"),
        ({"type": "uts", "error": "Bad address", "cause": "something new"}, facts(), "other"),
    ],
)
def test_classify(row, fx, want):
    key, _detail = classify(row, fx)
    assert key == want and key in CAUSES


def test_limit_names_the_sysctl():
    rows = {t: ("No space left on device", f"/proc/sys/user/max_{t}_namespaces is 0 here") for t in ("net", "ipc")}
    rep = room([("lab-7", report(facts(), rows))])
    (fix,) = rep.fixes
    assert fix["cause"] == "limit" and fix["details"] == ["user.max_net_namespaces", "user.max_ipc_namespaces"]
    assert "[user.max_net_namespaces, user.max_ipc_namespaces]" in repr(rep)
