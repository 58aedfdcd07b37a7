"""The kit as a learner uses it: ``make lab``, JupyterLab in Chromium, Run All, the panel.

One JupyterLab server for the module, started the README's way (``make lab``
with ``LAB_ARGS``) on a temp copy of ``notebooks/`` so that outputs the
browser session writes never touch the repo's notebooks.  Debian's
``/usr/bin/chromium``, headless, driven by Playwright (``executable_path``:
no browser download).  For every ``notebooks/[0-9]*.ipynb``:

- clear the outputs, then "Run → Run All Cells" from the menu bar, wait
  until the kernel is idle and nothing is queued;
- every code cell has an execution count, no output is an error (the
  notebook model's ``error`` outputs and what the page renders: error and
  stderr-with-traceback outputs), and every widget output was seen rendered
  as a widget while the cells ran (a MutationObserver: the notebooks close
  their panels in a later cell; a missing front-end extension leaves
  text/plain instead, which this catches);
- each panel cell is re-run (a closed panel, "re-run the panel cell to play
  again") and a screenshot of each panel goes to ``artifacts/browser/`` (or
  ``$NSLAB_ARTIFACTS/browser``), with ``report.txt`` (timings) and the
  server's log.

The panel itself is driven by clicks and typing: the ``uts`` toggle, then a
hostname typed into its field and Enter; the rendered diff table's ``uts``
row must show the hostname in the child's column and the host's own name in
the host's, and (scratch notebook) agree with ``lab.frames["diff"]`` as the
kernel prints it next.  A scratch notebook with a failing cell proves that
the error detector catches what it is meant to catch.

At the end the server is stopped (kernels deleted through the REST API,
SIGTERM then SIGKILL to the process group), every process of its tree is
gone, and the host snapshot taken before it started is unchanged.

Chromium missing: a loud skip, except under ``CI`` where it fails (.ci/run
installs Debian's chromium).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from nslab.testing import assert_host_unchanged, descendants, snapshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p.name for p in (REPO / "notebooks").glob("[0-9]*.ipynb"))
RUN_ALL_SECONDS = 90  # the budget is < 60 s a notebook; this is the hard stop
SCRATCH_FAIL = "zz-browser-fail.ipynb"
SCRATCH_PANEL = "zz-browser-panel.ipynb"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def _artifacts() -> Path:
    base = os.environ.get("NSLAB_ARTIFACTS")
    out = Path(base) / "browser" if base else REPO / "artifacts" / "browser"
    out.mkdir(parents=True, exist_ok=True)
    return out


def _no_browser(reason: str):
    """No way to run the test here: a failure under CI, a loud skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"CI is set and {reason}: .ci/run must provide it", pytrace=False)
    pytest.skip(f"BROWSER TEST NOT RUN: {reason}")


def _chromium() -> str:
    for cand in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if cand and os.access(cand, os.X_OK):
            return cand
    how = (
        "apt-get install chromium (or bash .ci/run)"
        if shutil.which("apt-get")
        else "no apt-get on this machine either; install a chromium by hand"
    )
    _no_browser(f"no chromium on this machine ({how})")
    raise AssertionError("unreachable")


# ---------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _starttime(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat: with the pid, a process's identity (pids are reused)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rpartition(")")[2].split()[19]


def _write_notebook(path: Path, cells):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    nbformat.write(nb, str(path))


class LabServer:
    """``make lab`` on a temp copy of the notebooks, in its own process group, and the browser on it."""

    def __init__(self, tmp: Path, page_config: dict | None = None):
        self.tmp = tmp
        self.page_config = page_config  # labconfig/page_config.json, e.g. disabledExtensions (to try the detector)
        self.port = _free_port()
        self.token = secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.tree: dict[int, tuple[str, str | None]] = {}  # pid -> (comm, starttime), the server's tree seen so far
        self.stopped = False
        self.checked = False
        self.pw = self.context = None
        self.log = tmp / "server.log"
        self.console: list[str] = []

    # -- start
    def start(self):
        # A mirror of the repo's layout: the Makefile (and what its stamp
        # depends on) linked, notebooks/ copied.  `make lab` runs
        # `jupyter lab --notebook-dir=notebooks` and jupyter refuses a second
        # root_dir, so the copy is reached through make's working directory.
        work = self.tmp / "kit"
        work.mkdir()
        for name in ("Makefile", "pyproject.toml", "constraints.txt"):
            (work / name).symlink_to(REPO / name)
        shutil.copytree(
            REPO / "notebooks", work / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
        )
        self.root = work / "notebooks"
        _write_notebook(
            self.root / SCRATCH_FAIL,
            [
                "print('fine so far')",
                "import sys\nprint('Traceback (most recent call last): printed, not raised', file=sys.stderr)",
                "1 / 0",
                "print('never runs')",
            ],
        )
        _write_notebook(
            self.root / SCRATCH_PANEL,
            [
                "from nslab.widgets import Lab\nlab = Lab()\nlab",
                "import json, os\n"
                "row = lab.frames['diff'].set_index('type').loc['uts']\n"
                "print('KERNEL:' + json.dumps({'host_sees': row['host_sees'], 'child_sees': row['child_sees'],"
                " 'shared': bool(row['shared']), 'nodename': os.uname().nodename,"
                " 'hostname_of_child': getattr(lab.result, 'hostname', None), 'namespaces': list(lab.namespaces),"
                " 'error': None if lab.error is None else str(lab.error)}))",
            ],
        )
        venv = REPO / ".venv"
        # The stamp the lab target depends on is made in the repo, not in the mirror.
        if subprocess.run(["make", "-C", str(REPO), "-q", ".venv/.installed"], check=False).returncode != 0:
            subprocess.run(["make", "-C", str(REPO), ".venv/.installed"], check=True)
        env = dict(os.environ)
        for var in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
            env.pop(var, None)
        # The learner's own Jupyter settings, workspaces and runtime files are
        # neither read nor written: fresh ones in the temp dir.
        for var, sub in (
            ("JUPYTER_CONFIG_DIR", "jupyter-config"),
            ("JUPYTER_DATA_DIR", "jupyter-data"),
            ("JUPYTER_RUNTIME_DIR", "jupyter-runtime"),
            ("JUPYTERLAB_SETTINGS_DIR", "lab-settings"),
            ("JUPYTERLAB_WORKSPACES_DIR", "lab-workspaces"),
            ("IPYTHONDIR", "ipython"),
        ):
            (self.tmp / sub).mkdir()
            env[var] = str(self.tmp / sub)
        if self.page_config is not None:
            (self.tmp / "jupyter-config" / "labconfig").mkdir()
            (self.tmp / "jupyter-config" / "labconfig" / "page_config.json").write_text(json.dumps(self.page_config))
        # No "Would you like to get notified about official Jupyter news?"
        # toast over the screenshots (and no news fetch: the network is closed).
        notes = self.tmp / "lab-settings" / "@jupyterlab" / "apputils-extension"
        notes.mkdir(parents=True)
        (notes / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
        lab_args = [
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.token={self.token}",
            # window.jupyterapp: the test reads the notebook model (execution
            # counts, outputs) and kernel status from it; the clicks stay clicks.
            "--LabApp.expose_app_in_browser=True",
            # The network is closed: no update checks, no PyPI extension manager.
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
        ]
        cmd = ["make", "-C", str(work), "lab", f"VENV={venv}", "LAB_ARGS=" + " ".join(lab_args)]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"make lab exited {self.proc.returncode}:\n{self._log_tail()}")
            try:
                if self.api("GET", "/api/status", timeout=2) is not None:
                    break
            except (urllib.error.URLError, OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"no answer on {self.base}/api/status after 60 s:\n{self._log_tail()}")
            time.sleep(0.2)
        self.note_tree()

    def start_browser(self, chromium: str):
        from playwright.sync_api import sync_playwright

        self.pw = sync_playwright().start()
        self.context = self.pw.chromium.launch_persistent_context(
            str(self.tmp / "chromium-profile"),  # Playwright passes it as --user-data-dir
            executable_path=chromium,
            headless=True,
            chromium_sandbox=os.geteuid() != 0,  # off: --no-sandbox, which root needs
            args=[
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
            viewport=VIEWPORT,
        )
        self.context.set_default_timeout(30_000)

    def _log_tail(self, n=40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError as err:
            return f"(no log: {err})"

    def api(self, method: str, path: str, timeout: float = 30):
        """One REST call to the server (always http://127.0.0.1:port, hence the S310 noqa)."""
        sep = "&" if "?" in path else "?"
        req = urllib.request.Request(f"{self.base}{path}{sep}token={self.token}", method=method)  # noqa: S310
        with urllib.request.urlopen(req, timeout=timeout) as r:  # noqa: S310
            body = r.read()
        return json.loads(body) if body else None

    def note_tree(self):
        """Remember every process of the server's tree (kernels, their helpers and children)."""
        if self.proc is None:
            return
        pids = [self.proc.pid] + [p.pid for p in descendants(self.proc.pid)] if self.proc.poll() is None else []
        for pid in pids:
            st = _starttime(pid)
            if st is not None:
                comm = Path(f"/proc/{pid}/comm").read_text().strip() if Path(f"/proc/{pid}/comm").exists() else "?"
                self.tree.setdefault(pid, (comm, st))

    def open(self, name: str):
        page = self.context.new_page()
        page.on("console", lambda m: m.type == "error" and self.console.append(f"{name}: console: {m.text}"))
        page.on("pageerror", lambda e: self.console.append(f"{name}: pageerror: {e}"))
        # ?reset: a fresh workspace, so the previous notebook's tab is not restored (with a kernel).
        page.goto(f"{self.base}/lab/tree/{name}?reset&token={self.token}")
        page.wait_for_function("() => !!window.jupyterapp", timeout=60_000)
        page.wait_for_function(
            _PANEL_JS + "(path) => { const p = panel(path); return !!p && p.context.isReady; }", arg=name
        )
        return page

    def shutdown_sessions(self):
        for s in self.api("GET", "/api/sessions"):
            with contextlib.suppress(urllib.error.HTTPError):
                self.api("DELETE", f"/api/sessions/{s['id']}")

    # -- stop
    def stop(self):
        """Browser first, then the kernels (REST), then the server's process group."""
        if self.stopped:
            return
        self.stopped = True
        problems = []
        if self.context is not None:
            with contextlib.suppress(Exception):
                self.context.close()
        if self.pw is not None:
            self.pw.stop()
        if self.proc is None:
            return
        self.note_tree()
        if self.proc.poll() is None:
            try:
                for k in self.api("GET", "/api/kernels"):
                    self.api("DELETE", f"/api/kernels/{k['id']}")
                self.shutdown_sessions()
            except (urllib.error.URLError, OSError) as err:
                problems.append(f"could not delete kernels through the API: {err}")
            pgid = self.proc.pid  # start_new_session: make is its group's leader
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                problems.append("the server ignored SIGTERM for 30 s: SIGKILL")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
                self.proc.wait(timeout=10)
            # jupyter's SIGTERM handler may leave its own group members a moment; make may go first.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, 0)
                time.sleep(2)
                os.killpg(pgid, signal.SIGKILL)
                problems.append(f"processes of group {pgid} outlived the server's exit: SIGKILL")
        shutil.copy(self.log, _artifacts() / "server.log")
        if self.console:
            (_artifacts() / "console.log").write_text("\n".join(self.console) + "\n")
        if problems:
            raise AssertionError("; ".join(problems))

    def leftovers(self) -> list[str]:
        return [
            f"{pid} {comm}"
            for pid, (comm, st) in sorted(self.tree.items())
            if _starttime(pid) == st  # the same process, still there (a zombie included)
        ]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """The server and the browser; the host snapshot is taken before either starts."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as err:
        _no_browser(f"the Python package playwright is missing ({err})")
    chromium = _chromium()
    if not (REPO / "Makefile").exists() or not (REPO / "notebooks").is_dir():
        # The rootless tier runs a copy of tests/ with no Makefile or notebooks next to it.
        pytest.skip(f"no Makefile and notebooks/ next to the tests ({REPO}): make lab cannot run here")
    for stale in ("report.txt", "console.log"):
        (_artifacts() / stale).unlink(missing_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="nslab-browser-"))
    before = snapshot()
    server = LabServer(tmp)
    server.before = before
    try:
        server.start()
        server.start_browser(chromium)
        yield server
    finally:
        try:
            if not server.checked:
                _stop_and_check(server)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def _stop_and_check(server: LabServer):
    server.checked = True
    server.stop()
    deadline = time.monotonic() + 5  # a helper notices its kernel's death a moment later
    while (left := server.leftovers()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"processes of the server's tree still exist after it stopped: {left}"
    assert_host_unchanged(server.before, settle=5)


# ---------------------------------------------------------------- page helpers (JS)

_PANEL_JS = """
const panel = (path) => {
  for (const w of window.jupyterapp.shell.widgets('main')) {
    if (w.context && w.context.path === path && w.content && w.content.model) return w;
  }
  return null;
};
"""

_STATE_JS = (
    _PANEL_JS
    + """
(path) => {
  const p = panel(path);
  if (!p) return {missing: true};
  const kernel = p.sessionContext.session && p.sessionContext.session.kernel;
  const model = p.content.model;
  const cells = [];
  for (let i = 0; i < model.cells.length; i++) {
    const c = model.cells.get(i);
    if (c.type !== 'code') continue;
    const outs = c.outputs.toJSON();
    cells.push({
      index: i,
      count: c.executionCount,
      source: c.sharedModel.getSource().slice(0, 80),
      errors: outs.filter(o => o.output_type === 'error').map(o => `${o.ename}: ${o.evalue}`),
      traces: outs.filter(o => o.output_type === 'error').map(o => (o.traceback || []).join('\\n')),
      widgets: outs.filter(o => o.data && o.data['"""
    + WIDGET_MIME
    + """']).length,
    });
  }
  const prompts = Array.from(p.node.querySelectorAll('.jp-CodeCell .jp-InputPrompt')).map(e => e.textContent.trim());
  return {status: kernel ? kernel.status : null, cells, pending: prompts.filter(t => t.includes('*')).length};
}
"""
)

# What the page shows: error outputs, stderr with a traceback, widget error
# text, per cell index (JupyterLab 4 renders an error output as
# data-mime-type application/vnd.jupyter.stderr, like stderr text).
_DOM_JS = (
    _PANEL_JS
    + """
(path) => {
  const p = panel(path);
  const cells = Array.from(p.node.querySelectorAll('.jp-Cell'));
  const found = [];
  for (const el of p.node.querySelectorAll('.jp-OutputArea-output')) {
    const cell = cells.indexOf(el.closest('.jp-Cell'));
    const mime = el.getAttribute('data-mime-type') || '';
    const text = (el.innerText || el.textContent || '').trim();
    const first = text.split('\\n').slice(0, 3).join(' | ').slice(0, 300);
    if (mime === 'application/vnd.jupyter.error') found.push({cell, kind: 'error output', text: first});
    else if (mime === 'application/vnd.jupyter.stderr' && /Traceback|Error:/.test(text))
      found.push({cell, kind: 'stderr traceback', text: first});
    if (/Error displaying widget|Failed to (load|create) (model|view)|Could not (create|render)/.test(text))
      found.push({cell, kind: 'widget error', text: first});
  }
  return found;
}
"""
)

# Widgets that rendered, watched while Run All runs: a panel that a later
# cell closes (panel.close()) leaves an empty output behind, so looking only
# at the end would not tell "rendered, then closed" from "never rendered"
# (a missing front-end extension shows text/plain instead of a widget).
_WATCH_JS = (
    _PANEL_JS
    + """
(path) => {
  const p = panel(path);
  if (window.__nslabWatch) window.__nslabWatch.disconnect();
  window.__nslabSeen = {};
  const scan = () => {
    const cells = Array.from(p.node.querySelectorAll('.jp-Cell'));
    const now = {};
    // A widget output's element carries no data-mime-type: the view is its child.
    for (const el of p.node.querySelectorAll('.jp-OutputArea-output')) {
      if (!el.querySelector(':scope > .jupyter-widgets')) continue;
      const i = cells.indexOf(el.closest('.jp-Cell'));
      now[i] = (now[i] || 0) + 1;
    }
    for (const [i, n] of Object.entries(now)) window.__nslabSeen[i] = Math.max(window.__nslabSeen[i] || 0, n);
  };
  window.__nslabWatch = new MutationObserver(scan);
  window.__nslabWatch.observe(p.node, {childList: true, subtree: true});
}
"""
)

_DIFF_JS = """
(out) => {
  for (const box of out.querySelectorAll('.widget-html')) {
    const cap = box.querySelector('b');
    const table = box.querySelector('table');
    if (!cap || !table || cap.textContent.trim() !== 'host vs child') continue;
    const heads = Array.from(table.querySelectorAll('thead th')).map(e => e.textContent.trim());
    const rows = Array.from(table.querySelectorAll('tbody tr')).map(tr =>
      Object.fromEntries(Array.from(tr.querySelectorAll('td, th')).map((td, i) => [heads[i], td.textContent.trim()])));
    return {heads, rows};
  }
  return null;
}
"""


def _tail(traceback: str, lines: int = 8) -> str:
    """The last lines of a kernel traceback, without its ANSI colours."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", traceback)
    return "\n".join("    " + line for line in plain.splitlines()[-lines:])


def _state(page, name):
    return page.evaluate(_STATE_JS, name)


def _click_menu(page, menu: str, item: str):
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(rf"^{re.escape(menu)}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^{re.escape(item)}$")).click()


def _wait_idle(page, name, timeout=60.0):
    deadline = time.monotonic() + timeout
    while True:
        st = _state(page, name)
        if st.get("status") == "idle":
            return st
        if time.monotonic() > deadline:
            raise AssertionError(f"{name}: kernel not idle after {timeout:.0f} s: {st.get('status')}")
        time.sleep(0.2)


def run_all(page, name, timeout=RUN_ALL_SECONDS):
    """Clear outputs, then Run -> Run All Cells from the menu bar; the state once nothing is left to run."""
    _wait_idle(page, name)
    page.evaluate(_PANEL_JS + "(path) => { const p = panel(path); window.jupyterapp.shell.activateById(p.id); }", name)
    # Stored outputs carry execution counts; cleared, a count proves this run.
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    page.wait_for_function(
        _PANEL_JS + "(path) => { const m = panel(path).content.model; for (let i = 0; i < m.cells.length; i++)"
        " { const c = m.cells.get(i); if (c.type === 'code' && c.executionCount !== null) return false; } return true; }",
        arg=name,
    )
    page.evaluate(_WATCH_JS, name)
    t0 = time.monotonic()
    _click_menu(page, "Run", "Run All Cells")
    while True:
        st = _state(page, name)
        code = st["cells"]
        done = st["status"] == "idle" and st["pending"] == 0
        if done and (all(c["count"] is not None for c in code) or any(c["errors"] for c in code)):
            st["seconds"] = time.monotonic() - t0
            return st
        if st["status"] in ("dead", "terminating", "autorestarting"):
            raise AssertionError(f"{name}: the kernel is {st['status']} during Run All")
        if time.monotonic() - t0 > timeout:
            waiting = [c for c in code if c["count"] is None]
            raise AssertionError(
                f"{name}: Run All not finished after {timeout} s (kernel {st['status']}, {st['pending']} queued,"
                f" first unrun cell: {waiting[:1]})"
            )
        time.sleep(0.25)


def dom_problems(page, name, st, settle=15.0):
    """The page's own errors, and widget outputs never seen rendered as widgets (given time to render)."""
    want = {c["index"]: c["widgets"] for c in st["cells"] if c["widgets"]}
    deadline = time.monotonic() + settle
    while True:
        seen = {int(k): v for k, v in page.evaluate("() => window.__nslabSeen || {}").items()}
        missing = {i: n for i, n in want.items() if seen.get(i, 0) < n}
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    found = list(page.evaluate(_DOM_JS, name))
    for i, n in missing.items():
        mimes = page.evaluate(
            "(i) => Array.from(document.querySelectorAll('.jp-Cell')[i].querySelectorAll('.jp-OutputArea-output'))"
            ".map(e => e.getAttribute('data-mime-type'))",
            i,
        )
        found.append(
            {
                "cell": i,
                "kind": "widget output never rendered as a widget",
                "text": f"{seen.get(i, 0)} of {n} seen; outputs now shown as {mimes}",
            }
        )
    return found


def rerun_cell(page, name, index):
    """Click a cell's prompt (select it) and press Shift+Enter, as a reader re-runs one cell."""
    before = next(c["count"] for c in _state(page, name)["cells"] if c["index"] == index)
    page.locator(".jp-Cell").nth(index).locator(".jp-InputPrompt").click()
    page.keyboard.press("Shift+Enter")
    page.wait_for_function(
        _PANEL_JS + "([path, i, n]) => { const c = panel(path).content.model.cells.get(i);"
        " return c.executionCount !== null && (n === null || c.executionCount > n); }",
        arg=[name, index, before],
    )
    _wait_idle(page, name)
    return next(c for c in _state(page, name)["cells"] if c["index"] == index)


VIEWPORT = {"width": 1400, "height": 1000}


def _shoot(page, el, path: Path):
    """A screenshot of one element, with the viewport made tall enough to hold it (MntPanel is ~1100 px)."""
    height = el.evaluate("e => e.getBoundingClientRect().height")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": max(VIEWPORT["height"], int(height) + 300)})
    try:
        el.scroll_into_view_if_needed()
        el.screenshot(path=str(path))
    finally:
        page.set_viewport_size(VIEWPORT)


def _panels(page):
    """Output areas holding an nslab panel (a widget with toggle buttons)."""
    return page.locator(".jp-OutputArea-output:has(> .jupyter-widgets .widget-toggle-button)")


def _diff_row(out, nstype="uts"):
    table = out.evaluate(_DIFF_JS)
    if table is None:
        return None
    return next((r for r in table["rows"] if r.get("type") == nstype), None)


def _wait_row(out, pred, what, timeout=30.0):
    deadline = time.monotonic() + timeout
    row = None
    while time.monotonic() < deadline:
        row = _diff_row(out)
        if row is not None and pred(row):
            return row
        time.sleep(0.2)
    status = out.locator(".widget-html").all_inner_texts()
    raise AssertionError(f"the panel's uts row never showed {what}; last row: {row}; panel text: {status}")


def drive_uts(page, out, hostname: str):
    """Click the panel's uts toggle (on), type a hostname, Enter; the uts row must follow."""
    toggle = out.locator("button.widget-toggle-button").filter(has_text=re.compile(r"^\s*uts\s*$"))
    assert toggle.count() == 1, f"one uts toggle expected, found {toggle.count()}"
    if "mod-active" not in (toggle.get_attribute("class") or ""):
        toggle.click()
    page.wait_for_function("(el) => el.classList.contains('mod-active')", arg=toggle.element_handle())
    field = out.locator(".widget-text").filter(has=page.locator("label", has_text=re.compile(r"^\s*hostname\s*$")))
    field = field.locator("input")
    field.wait_for(state="visible")
    before = field.input_value()
    nodename = os.uname().nodename
    if before.strip():
        # The toggle alone: a UTS namespace of its own, holding the field's name.
        _wait_row(out, lambda r: r["child_sees"] == before.strip() and r["shared"] == "False", f"'{before}' (toggle)")
    field.click()
    field.press("Control+a")
    field.press_sequentially(hostname)
    field.press("Enter")  # continuous_update=False: Enter (or blur) sends the value
    row = _wait_row(out, lambda r: r["child_sees"] == hostname, repr(hostname))
    assert row["host_sees"] == nodename, f"host column changed: {row}"
    assert row["shared"] == "False" and row["differs"] == "True", row
    assert row["host"] != row["child"] and row["child"].startswith("uts:["), row
    assert os.uname().nodename == nodename  # and the host's own name did not move
    return row


# ---------------------------------------------------------------- tests


def test_detector_catches_a_failing_cell(lab):
    """The scratch notebook's 1/0 is caught in the model and on the page; the cell after it never runs."""
    page = lab.open(SCRATCH_FAIL)
    try:
        st = run_all(page, SCRATCH_FAIL)
        errors = [(c["index"], e) for c in st["cells"] for e in c["errors"]]
        assert errors == [(2, "ZeroDivisionError: division by zero")], st
        assert st["cells"][3]["count"] is None, "Run All went on past the error"
        found = dom_problems(page, SCRATCH_FAIL, st)
        kinds = {(f["cell"], f["kind"]) for f in found}
        assert (2, "stderr traceback") in kinds or (2, "error output") in kinds, found
        assert (1, "stderr traceback") in kinds, found  # a traceback printed to stderr counts too
        page.screenshot(path=str(_artifacts() / "zz-detector.png"))
    finally:
        page.close()
        lab.note_tree()
        lab.shutdown_sessions()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_clean(lab, name):
    """Run All: every cell ran, nothing failed, every widget rendered; screenshots of the panels."""
    page = lab.open(name)
    try:
        st = run_all(page, name)
        report = [f"{name}: run all {st['seconds']:.1f} s, {len(st['cells'])} code cells"]
        lab.note_tree()
        errors = [
            f"cell {c['index']} ({c['source']!r}): {e}\n{_tail(t)}"
            for c in st["cells"]
            for e, t in zip(c["errors"], c["traces"], strict=True)
        ]
        unrun = [c["index"] for c in st["cells"] if c["count"] is None]
        shown = [f"cell {f['cell']}: {f['kind']}: {f['text']}" for f in dom_problems(page, name, st)]
        # Panels a later cell closed ("re-run the panel cell to play again"): re-run them.
        stem = name.removesuffix(".ipynb")
        for c in st["cells"]:
            if c["widgets"] and not page.locator(".jp-Cell").nth(c["index"]).locator(".widget-toggle-button").count():
                again = rerun_cell(page, name, c["index"])
                report.append(f"  re-ran widget cell {c['index']}: errors {again['errors'] or 'none'}")
                errors += [f"cell {c['index']} re-run: {e}" for e in again["errors"]]
        panels = _panels(page)
        for i in range(panels.count()):
            _shoot(page, panels.nth(i), _artifacts() / f"{stem}-panel{i + 1}.png")
        if not panels.count():
            page.screenshot(path=str(_artifacts() / f"{stem}-page.png"))
        report.append(f"  {panels.count()} panel(s)")
        with open(_artifacts() / "report.txt", "a") as f:
            f.write("\n".join(report) + "\n")
        assert not errors, f"{name}: cells raised: {errors}"
        assert not unrun, f"{name}: cells without an execution count after Run All: {unrun}"
        assert not shown, f"{name}: the page shows: {shown}"
        assert st["seconds"] < 60, f"{name}: Run All took {st['seconds']:.0f} s (budget 60 s)"
        if name.startswith("01-"):
            assert panels.count(), f"{name}: no panel rendered"
            drive_uts(page, panels.first, "nslab-browser-" + secrets.token_hex(2))
            _shoot(page, panels.first, _artifacts() / f"{stem}-panel1-uts.png")
    except Exception:
        page.screenshot(path=str(_artifacts() / f"{name.removesuffix('.ipynb')}-failed.png"), full_page=True)
        raise
    finally:
        page.close()
        lab.note_tree()
        lab.shutdown_sessions()


@pytest.mark.timeout(300)
def test_uts_toggle_in_the_full_lab(lab):
    """nslab.widgets.Lab(): click uts, type a hostname, Enter; the table and the kernel agree."""
    page = lab.open(SCRATCH_PANEL)
    try:
        st = run_all(page, SCRATCH_PANEL)
        assert not [c for c in st["cells"] if c["errors"]], st
        assert not dom_problems(page, SCRATCH_PANEL, st)
        out = _panels(page).first
        start = _wait_row(out, lambda r: r["shared"] == "True", "'shared' with every toggle off")
        assert start["child_sees"] == start["host_sees"] == os.uname().nodename, start
        hostname = "nslab-browser-" + secrets.token_hex(2)
        row = drive_uts(page, out, hostname)
        lab.note_tree()
        _shoot(page, out, _artifacts() / "zz-lab-uts.png")
        # The kernel's side: run the next cell (click it, Shift+Enter) and read what it prints.
        rerun_cell(page, SCRATCH_PANEL, 1)
        text = page.evaluate(
            _PANEL_JS + "(path) => panel(path).content.model.cells.get(1).outputs.toJSON()"
            ".map(o => o.text || '').join('')",
            SCRATCH_PANEL,
        )
        kernel = json.loads(text.partition("KERNEL:")[2])
        assert kernel["error"] is None and kernel["namespaces"] == ["uts"], kernel
        assert kernel["hostname_of_child"] == hostname == kernel["child_sees"] == row["child_sees"], (kernel, row)
        assert kernel["host_sees"] == kernel["nodename"] == row["host_sees"] == os.uname().nodename, (kernel, row)
        assert kernel["shared"] is False
    finally:
        page.close()
        lab.note_tree()
        lab.shutdown_sessions()


def test_server_and_kernels_gone(lab):
    """Last: stop the server; nothing it started is left and the host is as it was before it started."""
    _stop_and_check(lab)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-v"]))
