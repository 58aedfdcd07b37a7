"""nbval settings for the notebooks (pytest --nbval notebooks/*.ipynb).

nbval compares each cell's stored outputs with fresh ones.  The kit's objects
render twice (rich's habit): an HTML table for the reader and a text/plain
twin; nbval compares the twin, which the kit keeps deterministic, and skips
the HTML, which carries the same facts with markup around them.  Figures
(image/png) are drawn from host data and differ in pixels between machines;
their claims are asserted in code in the same cells instead.
"""


def pytest_collectstart(collector):
    if getattr(collector, "fspath", None) is not None and str(collector.fspath).endswith(".ipynb"):
        collector.skip_compare = (*collector.skip_compare, "text/html", "image/png", "image/svg+xml")
