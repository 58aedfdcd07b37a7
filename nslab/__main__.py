"""The nslab command line: ``nslab doctor``, ``nslab show``, ``nslab lsns``, ``nslab lab``.

``main(argv)`` returns the exit status, so tests call it directly.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from ._errors import NslabError


def _parser():
    p = argparse.ArgumentParser(prog="nslab", description="Linux namespaces, shown on your own kernel.")
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("doctor", help="which namespace types work here, and why not")
    d.add_argument("--json", action="store_true", help="machine-readable output")
    d.add_argument(
        "--merge",
        nargs="+",
        metavar="FILE",
        help="merge many machines' doctor --json files (or directories of them) into one room report",
    )
    s = sub.add_parser("show", help="spawn a child, print host and child side by side, close it")
    s.add_argument("--ns", required=True, help="comma-separated types, e.g. uts,pid (or 'all')")
    s.add_argument("--hostname", help="hostname inside (needs uts)")
    s.add_argument("--boottime", type=int, default=0, help="boottime offset in seconds (needs time)")
    s.add_argument("--monotonic", type=int, default=0, help="monotonic offset in seconds (needs time)")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    ls = sub.add_parser("lsns", help="list every namespace visible here, how it is held, and how they nest")
    ls.add_argument("--json", action="store_true", help="machine-readable output (like lsns -J)")
    ls.add_argument("--tree", action="store_true", help="the user and PID namespace trees (NS_GET_PARENT)")
    ls.add_argument("--type", "-t", action="append", metavar="T", help="only this type (repeatable), e.g. net")
    st = sub.add_parser("student", help="write student editions of the notebooks: solutions stubbed, their outputs cleared")
    st.add_argument("notebooks", nargs="*", help="notebooks to convert (default: notebooks/[0-9]*.ipynb)")
    st.add_argument("--out", default=None, help="output directory (default: student/ next to notebooks/)")
    lab = sub.add_parser("lab", help="start JupyterLab on the notebooks")
    lab.add_argument("args", nargs=argparse.REMAINDER, help="passed to jupyter lab")
    return p


def _notebooks_dir():
    here = os.path.dirname(os.path.abspath(__file__))
    for cand in (os.path.join(os.path.dirname(here), "notebooks"), os.path.join(here, "notebooks")):
        if os.path.isdir(cand):
            return cand
    return None


def main(argv=None, out=None):
    out = out or sys.stdout
    args = _parser().parse_args(argv)
    try:
        if args.cmd == "doctor" and args.merge:
            from ._room import merge_main

            return merge_main(args.merge, json_out=args.json, out=out)
        if args.cmd == "student":
            from ._student import notebook_paths, student_main

            nb = _notebooks_dir()
            paths = args.notebooks or (notebook_paths(nb) if nb else [])
            outdir = args.out or os.path.join(os.path.dirname(nb) if nb else os.getcwd(), "student")
            return student_main(paths, outdir, out)
        if args.cmd == "doctor":
            from ._doctor import doctor

            rep = doctor()
            print(rep.to_json() if args.json else repr(rep), file=out)
            return 0 if rep.ok else 1
        if args.cmd == "show":
            from ._api import spawn, view
            from ._view import diff

            host = view()
            with spawn(args.ns, hostname=args.hostname, boottime=args.boottime, monotonic=args.monotonic) as child:
                inside = child.view()
                table = diff(host, inside, labels=("host", "child"))
                if args.json:
                    doc = {"pid": child.pid, "namespaces": list(child.namespaces), "diff": table.to_dict(orient="records")}
                    print(json.dumps(doc, indent=2), file=out)
                else:
                    print(f"child pid {child.pid} (host numbering); new: {', '.join(child.namespaces)}", file=out)
                    print(table.to_string(index=False), file=out)
            return 0
        if args.cmd == "lsns":
            from ._discover import lsns_main

            return lsns_main(args.type, json_out=args.json, tree=args.tree, out=out)
        if args.cmd == "lab":
            nb = _notebooks_dir()
            if nb is None:
                print("nslab: no notebooks directory found next to the package; run from a checkout", file=sys.stderr)
                return 2
            argv = [sys.executable, "-m", "jupyterlab", f"--notebook-dir={nb}", *args.args]
            if os.geteuid() == 0 and "--allow-root" not in argv:
                argv.append("--allow-root")
            os.execv(sys.executable, argv)
    except NslabError as err:
        print(f"nslab: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
