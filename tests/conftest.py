"""Shared test machinery: host-hygiene fixture, privilege fixtures, NSLAB_MUST_WORK.

Self-contained on purpose (markers registered here too), so that a pytester
run can copy this file into a scratch directory and get the same behaviour.
"""

from __future__ import annotations

import os

import pytest

from nslab.testing import assert_host_unchanged, really_root, snapshot

pytest_plugins = ["pytester"]

MARKERS = {
    "live": "creates real namespaces (needs root or user namespaces)",
    "rootless": "meant for the unprivileged tier (uid 65534 through setpriv)",
    "slow": "takes more than a few seconds",
    "browser": "drives JupyterLab in a headless browser (playwright)",
    "stress": "many start/stop cycles, kernel interrupts and restarts",
}


def pytest_configure(config):
    for name, doc in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {doc}")
    # State lives on a plugin object per config, not in module globals, so
    # nested pytester sessions count their own tests.
    config.pluginmanager.register(_MustWork(config), "nslab-must-work")


# ---------------------------------------------------------------- hygiene


@pytest.fixture(scope="session", autouse=True)
def _nslab_steady_state():
    """Start the kit's long-lived helper before any snapshot.

    The fork server (a descendant) and its control socket (an open fd) are
    then part of every "before" and every "after", not a leak of the first
    test that happens to start it.
    """
    try:
        from nslab import _helper
    except ModuleNotFoundError as err:
        # Only "the helper is not written yet" is tolerated; a helper that
        # exists but fails to import must fail the session.
        if err.name not in ("nslab._helper", "nslab"):
            raise
        yield None
        return
    ensure_started = getattr(_helper, "ensure_started", None)
    if ensure_started is not None:
        ensure_started()
    yield _helper


@pytest.fixture
def host():
    """Snapshot before the test, yield it, and fail in teardown if the host changed."""
    # Autouse (for live tests) and function scope put this fixture first in
    # setup and last in teardown: the test's other fixtures made and undid
    # their work inside the window, and pytest's capture is in the same
    # state at both ends.
    before = snapshot()
    yield before
    assert_host_unchanged(before)


@pytest.fixture(autouse=True)
def _host_for_live(request):
    if request.node.get_closest_marker("live") is not None:
        request.getfixturevalue("host")


@pytest.fixture(scope="session")
def is_root() -> bool:
    """euid 0 in the initial user namespace (uid_map ``0 0 4294967295``)."""
    return really_root()


@pytest.fixture(scope="session")
def rootless(is_root) -> bool:
    """Not really root: an ordinary user, or fake root (``unshare --user --map-root-user``)."""
    return not is_root


# ---------------------------------------------------------------- NSLAB_MUST_WORK


class _MustWork:
    """With NSLAB_MUST_WORK=1, "every live test skipped" or "nothing ran" fails the run."""

    def __init__(self, config):
        self.config = config
        self.live: set[str] = set()
        self.live_skipped: set[str] = set()
        self.ran: set[str] = set()
        self.complaint: str | None = None

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items):
        # After deselection by -k/-m: only what will run counts.
        self.live = {item.nodeid for item in items if item.get_closest_marker("live") is not None}

    def pytest_runtest_logreport(self, report):
        if report.skipped and not hasattr(report, "wasxfail"):
            self.live_skipped.add(report.nodeid)
        elif report.when == "call":
            self.ran.add(report.nodeid)

    def pytest_sessionfinish(self, session):
        if os.environ.get("NSLAB_MUST_WORK") != "1":
            return
        if not self.ran:
            self.complaint = "NSLAB_MUST_WORK=1 but no test ran at all"
        elif self.live and self.live <= self.live_skipped:
            self.complaint = f"NSLAB_MUST_WORK=1 but all {len(self.live)} live tests were skipped"
        if self.complaint and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter):
        if self.complaint:
            terminalreporter.write_sep("!", self.complaint + ": FAILING THE RUN", red=True, bold=True)
