"""Execute the example notebooks (``make notebooks``; the test suite does the same).

``python -m reprokit.notebooks [NOTEBOOK ...] [--out DIR]`` runs each notebook top to bottom in
its own folder with nbclient and writes the executed copy (outputs and figures included) to
``--out`` (default ``runs/notebooks``); the source notebooks stay output-free. A failing cell
stops that notebook and is reported with the notebook's name and the cell's error.
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
import time

DEFAULT_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "notebooks")


def execute_notebook(path: str, out_dir: str | None = None, timeout: int = 600):
    """Run ``path``; returns ``(executed notebook, seconds)``. Raises
    ``nbclient.exceptions.CellExecutionError`` naming the failing cell."""
    import nbformat                   # lazy: the notebook runner is a dev / notebooks extra
    from nbclient import NotebookClient

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")           # the kernel inherits it
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}})
    try:
        client.execute()
    finally:
        if out_dir:
            os.makedirs(out_dir, exist_ok=True)
            nbformat.write(nb, os.path.join(out_dir, os.path.basename(path)))
    return nb, time.perf_counter() - start


def count_images(nb) -> int:
    """PNG outputs of an executed notebook (figures shown inline)."""
    return sum(1 for cell in nb.cells if cell.cell_type == "code"
               for out in cell.get("outputs", []) if "image/png" in out.get("data", {}))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reprokit.notebooks", description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", help=f"default: every notebook in {DEFAULT_DIR}")
    parser.add_argument("--out", default=os.path.join("runs", "notebooks"))
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(glob.glob(os.path.join(DEFAULT_DIR, "*.ipynb")))
    if not paths:
        raise SystemExit(f"no notebooks found in {DEFAULT_DIR}")
    failed = 0
    for path in paths:
        try:
            nb, seconds = execute_notebook(path, args.out, args.timeout)
            print(f"{os.path.basename(path)}: ok in {seconds:.0f} s, {count_images(nb)} figures "
                  f"-> {os.path.join(args.out, os.path.basename(path))}", flush=True)
        except Exception as err:                                  # report and go on
            failed += 1
            print(f"{os.path.basename(path)}: FAILED\n{err}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
