"""User errors on every CLI: one line ``prog: error: ...`` and exit 2, ``--debug`` for the
traceback; bad numbers are refused before a run directory or any data is written; SURREAL
extraction skips damaged clips with ``--skip-bad``."""
import os

import numpy as np
import pytest

from reprokit.errors import ConfigError


def _one_line_error(capsys, prog):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"{prog}: error: "), err
    assert "--debug" in err[0]
    return err[0]


@pytest.mark.parametrize("flags, message", [
    (["--batch-size", "0"], "TrainConfig.batch_size must be >= 1, got 0"),
    (["--epochs", "-1"], "TrainConfig.epochs must be >= 1, got -1"),
    (["--learning-rate", "0"], "TrainConfig.learning_rate must be > 0, got 0.0"),
    (["--input-size", "30"], "multiple of 4"),
    (["--preset", "no_such_preset"], "no_such_preset"),
    (["--model", "{bad json"], "--model must be a JSON object"),
])
def test_hourglass_train_refuses_bad_values_before_writing_anything(tmp_path, capsys, flags,
                                                                    message):
    from hourglass.__main__ import main

    assert main(["train", *flags, "--out", str(tmp_path)]) == 2
    assert message in _one_line_error(capsys, "python -m hourglass")
    assert os.listdir(tmp_path) == []          # no run directory, no synthetic data


def test_segmentation_and_handpose_train_refuse_bad_values(tmp_path, capsys):
    from handpose.__main__ import main as handpose_main
    from segmentation.__main__ import main as segmentation_main

    assert segmentation_main(["train", "segnet", "--frames", str(tmp_path), "--steps", "0",
                              "--out", str(tmp_path / "runs")]) == 2
    assert "SegTrainConfig.steps must be >= 1, got 0" in _one_line_error(
        capsys, "python -m segmentation")
    assert handpose_main(["train", "posenet", "--stb", str(tmp_path / "nowhere"),
                          "--batch-size", "0", "--out", str(tmp_path / "runs")]) == 2
    assert "PoseNetConfig.batch_size must be >= 1" in _one_line_error(capsys, "python -m handpose")
    assert not os.path.exists(tmp_path / "runs")


def test_missing_files_and_unknown_names_are_one_line_and_debug_shows_the_traceback(tmp_path,
                                                                                   capsys):
    from hourglass.__main__ import main
    from reprokit.cli import main as repro

    assert main(["evaluate", str(tmp_path)]) == 2
    assert "not a run directory" in _one_line_error(capsys, "python -m hourglass")
    assert repro(["run", "no.such.table"]) == 2
    assert "unknown reproduction 'no.such.table'" in _one_line_error(capsys, "repro")
    with pytest.raises(ConfigError, match="unknown reproduction"):
        repro(["run", "no.such.table", "--debug"])


def test_spec_files_with_unknown_keys_are_refused_naming_the_key_and_file(tmp_path):
    import json

    from hourglass.train import TrainConfig, load_config

    spec = TrainConfig(input_size=64).resolve()
    assert TrainConfig.from_dict(spec.to_dict()) == spec          # config.json round trip
    data = {**spec.to_dict(), "bacth_size": 4}
    (tmp_path / "config.json").write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=r"config\.json: unknown TrainConfig key\(s\) "
                                          r"\['bacth_size'\]"):
        load_config(str(tmp_path))


def test_surreal_extraction_skips_and_lists_damaged_clips(tmp_path, caplog):
    from segmentation.data import SurrealError, extract_frames, find_clips
    from segmentation.synthetic import write_synthetic_surreal

    root = write_synthetic_surreal(str(tmp_path / "raw"), "train", 3, 2, (60, 80), seed=1)
    clips = find_clips(root, "train")
    with open(clips[1] + "_info.mat", "r+b") as f:             # truncate one clip's info
        f.truncate(100)
    with open(clips[2] + "_segm.mat", "wb") as f:              # and garble another's labels
        f.write(b"not a mat file")
    with pytest.raises(SurrealError, match=os.path.basename(clips[1])):
        extract_frames(root, str(tmp_path / "strict"), "train", size=(32, 32), progress=False)
    out = tmp_path / "frames"
    rec = extract_frames(root, str(out), "train", size=(32, 32), progress=False, skip_bad=True)
    assert set(np.unique(rec["clip"])) == {clips[0]}
    import json

    skipped = json.load(open(out / "skipped.json"))
    assert sorted(skipped) == sorted(clips[1:]) and "skipped 2 damaged clip(s) of 3" in caplog.text
