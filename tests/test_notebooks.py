"""The example notebooks execute top to bottom on synthetic data, with their figures."""
import glob
import os

import pytest

from reprokit.notebooks import DEFAULT_DIR, count_images, execute_notebook

NOTEBOOKS = sorted(glob.glob(os.path.join(DEFAULT_DIR, "*.ipynb")))
#: The figures each notebook must show (a cell that stops drawing is a regression).
MIN_FIGURES = {"01_hourglass_variants": 4, "02_handpose_pipeline": 4, "03_segmentation": 5,
               "04_results": 1, "05_logocap": 5}


def test_every_notebook_is_listed():
    assert sorted(os.path.basename(p)[:-6] for p in NOTEBOOKS) == sorted(MIN_FIGURES)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: os.path.basename(p)[:-6])
def test_notebook_executes_with_figures(path, tmp_path, monkeypatch):
    # 04 reads ../runs; point it at an empty folder so it makes its own demo run
    monkeypatch.setenv("REPROKIT_RUNS", str(tmp_path / "runs"))
    nb, seconds = execute_notebook(path, str(tmp_path), timeout=300)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    assert count_images(nb) >= MIN_FIGURES[os.path.basename(path)[:-6]]
