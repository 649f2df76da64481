"""The layout rules of docs/design.md that a reader can check: every module of the packages is
under 400 lines (one job per file)."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_LINES = 400


def test_every_module_is_under_400_lines():
    long = []
    for pkg in ("reprokit", "hourglass", "handpose", "segmentation", "logocap"):
        for folder, _, files in os.walk(os.path.join(ROOT, pkg)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    n = sum(1 for _ in open(path, encoding="utf-8"))
                    if n >= MAX_LINES:
                        long.append(f"{os.path.relpath(path, ROOT)}: {n} lines")
    assert not long, long
