"""One namespace type made unavailable: that demo names the cause, the other seven work.

`.ci/unavailable` runs this file once per type, each time inside a fresh
user namespace (fake root) in which it has written 0 to
/proc/sys/user/max_<type>_namespaces, and sets NSLAB_UNAVAILABLE=<type>.  The
limit is per user namespace and counts for its whole subtree, so the host's
own limits stay as they were (FACTS.md, "Why creation fails").  Without the
variable every test here skips, saying how to run it.
"""

from __future__ import annotations

import errno
import os

import pytest

import nslab

TYPES = list(nslab.NAMESPACES)
GONE = os.environ.get("NSLAB_UNAVAILABLE")

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        GONE is None,
        reason="set by .ci/unavailable, which makes one type unavailable in a throwaway user namespace (run .ci/unavailable)",
    ),
]

LIMIT = f"/proc/sys/user/max_{GONE}_namespaces"


def _opts(t):
    return {"monotonic": 1} if t == "time" else {}


def test_the_limit_is_really_zero_here_only():
    with open(LIMIT) as f:
        assert f.read().strip() == "0", "run through .ci/unavailable"
    assert not nslab.testing.really_root()  # never done to the real host


def test_spawning_that_type_names_the_cause():
    with pytest.raises(nslab.NsLimitError) as info:
        nslab.spawn([GONE], **_opts(GONE))
    err = info.value
    assert err.errno == errno.ENOSPC
    assert err.nstype == GONE
    assert LIMIT in err.hint, err.hint
    assert isinstance(err, OSError)


def test_asking_for_all_names_the_same_type():
    # unshare(2) fails as a whole; the kit finds which flag did it.
    with pytest.raises(nslab.NsLimitError) as info:
        nslab.spawn("all", boottime=1)
    assert info.value.nstype == GONE
    assert LIMIT in info.value.hint


@pytest.mark.parametrize("t", TYPES)
def test_every_other_type_works(t):
    if t == GONE:
        pytest.skip(f"{t} is the unavailable one")
    with nslab.spawn([t], **_opts(t)) as child:
        assert t in child.namespaces
        assert child.view().ns[t] != nslab.view().ns[t]


def test_the_other_seven_together():
    others = [t for t in TYPES if t != GONE]
    with nslab.spawn(others, **(_opts("time") if "time" in others else {})) as child:
        inside = child.view()
        host = nslab.view()
        for t in others:
            assert inside.ns[t] != host.ns[t], t


def test_doctor_reports_exactly_that_type():
    rep = nslab.doctor()
    bad = [r for r in rep.rows if not r["works"]]
    assert [r["type"] for r in bad] == [GONE], repr(rep)
    (row,) = bad
    assert row["error"] == os.strerror(errno.ENOSPC)
    assert LIMIT in row["cause"], row["cause"]
    assert GONE in rep.verdict
    assert not rep.ok
