"""The experiment spine: scales, the row runner and its cache (resume, reuse, config keys,
parallel workers), the full-size params column, results writing."""
import json
import os

import pytest

from reprokit import experiment as ex
from reprokit.training import create_run_dir


def _square(row, config):
    """A row: appends to a log file (to count calls), fails when asked to."""
    with open(config["log"], "a") as f:
        f.write(row + "\n")
    if config.get("fail") == row:
        raise RuntimeError(f"{row} interrupted")
    return {"value": config["x"] ** 2, "pid": os.getpid()}


def _calls(log):
    return open(log).read().split() if os.path.exists(log) else []


def test_rows_are_cached_reused_rerun_on_a_new_config_and_survive_an_interrupt(tmp_path):
    log, cache = str(tmp_path / "log"), str(tmp_path / "rows")
    jobs = [ex.RowJob(r, {"x": x, "log": log, "fail": "b"}, _square, cost)
            for r, x, cost in (("a", 2, 1.0), ("b", 3, 5.0), ("c", 4, 2.0))]
    with pytest.raises(RuntimeError, match="b interrupted"):
        ex.run_rows(jobs, cache)
    assert _calls(log) == ["b"]                    # longest first; it failed, nothing cached
    jobs = [ex.RowJob(j.row, {**j.config, "fail": None}, _square, j.cost) for j in jobs]
    out = ex.run_rows(jobs, cache)
    assert list(out) == ["a", "b", "c"] and [r["value"] for r in out.values()] == [4, 9, 16]
    assert _calls(log) == ["b", "b", "c", "a"]
    assert json.load(open(os.path.join(cache, "a.json")))["config"]["x"] == 2
    ex.run_rows(jobs, cache)                        # all cached: nothing runs
    assert len(_calls(log)) == 4
    changed = [ex.RowJob("a", {**jobs[0].config, "x": 5}, _square)]
    assert ex.run_rows(changed, cache)["a"]["value"] == 25 and len(_calls(log)) == 5
    with open(os.path.join(cache, "c.json"), "w") as f:
        f.write("{truncated")                        # a damaged entry is recomputed
    assert ex.run_rows(jobs[2:], cache)["c"]["value"] == 16 and len(_calls(log)) == 6


def test_rows_run_in_two_worker_processes(tmp_path):
    log = str(tmp_path / "log")
    jobs = [ex.RowJob(r, {"x": i, "log": log}, _square) for i, r in enumerate(("p", "q"))]
    out = ex.run_rows(jobs, str(tmp_path / "rows"), workers=2)
    assert [r["value"] for r in out.values()] == [0, 1]
    assert all(r["pid"] != os.getpid() for r in out.values())


def test_scales_params_data_and_results(tmp_path):
    import keras

    with pytest.raises(ValueError, match="scale name"):
        ex.Scale("huge")
    scales = {"smoke": ex.Scale("smoke", {"steps": 3}, ("a",), 2, "tiny")}
    assert ex.get_scale(scales, "smoke").workers == 2
    with pytest.raises(ValueError, match="valid|one of"):
        ex.get_scale(scales, "paper")

    def build():
        inp = keras.Input((3,))
        x = keras.layers.BatchNormalization()(keras.layers.Dense(4)(inp))
        return keras.Model(inp, x)

    assert ex.full_size_params(build) == {"trainable": 16 + 8, "total": 16 + 16}
    folder, label = ex.select_data(None, lambda: str(tmp_path), "synthetic X", "X")
    assert (folder, label) == (str(tmp_path), "synthetic X")
    assert ex.select_data(str(tmp_path), None, "s", "X")[1] == f"X at {tmp_path}"
    with pytest.raises(FileNotFoundError, match="nope"):
        ex.select_data(str(tmp_path / "nope"), None, "s", "X")
    run = create_run_dir("table", {"a": 1}, str(tmp_path / "runs"))
    path = ex.write_results(run, {"rows": {"a": 1}}, "# table\n",
                            {"fig.png": lambda p: open(p, "wb").write(b"png")})
    assert json.load(open(os.path.join(path, "results.json"))) == {"rows": {"a": 1}}
    assert open(os.path.join(path, "results.md")).read() == "# table\n"
    assert os.path.exists(os.path.join(path, "fig.png")) and run.finished
