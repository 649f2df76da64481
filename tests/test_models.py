"""Every model builder of every package through the shared checks (tests/model_checks.py):
eager call, get_config / from_config, .keras save and load, predict on a Dataset, one fit step,
exact trainable count. Tiny configurations; the full-size counts are asserted per package."""
import pytest

from tests.model_checks import check_model


def _hourglass(block):
    from hourglass import build_stacked_hourglass

    return build_stacked_hourglass(1, 4, block=block, num_features=8, depth=1,
                                   input_shape=(32, 32, 3))


def _models():
    from handpose.model import build_handsegnet, build_posenet
    from hourglass.blocks import BLOCKS
    from logocap.hrnet import build_hrnet
    from logocap.model import build_center_offset
    from segmentation.model import ICNet, HourglassSegmenter, SegNetBasic

    cases = {f"hourglass-{b}": (lambda b=b: _hourglass(b)) for b in sorted(BLOCKS)}
    cases.update({
        "hourglass-2-stacks-newell-stem": lambda: __import__("hourglass").build_stacked_hourglass(
            2, 3, stem="newell", num_features=8, depth=1, input_shape=(32, 32, 3)),
        "handsegnet-hand3d": lambda: build_handsegnet("hand3d", input_shape=(32, 32, 3)),
        "handsegnet-paper": lambda: build_handsegnet("paper", input_shape=(32, 32, 3)),
        "posenet-hand3d-conv": lambda: build_posenet("hand3d", "conv", input_shape=(32, 32, 3), width=0.25),
        "posenet-hand3d-separable": lambda: build_posenet("hand3d", "separable",
                                                          input_shape=(32, 32, 3), width=0.25),
        "posenet-paper": lambda: build_posenet("paper", input_shape=(32, 32, 3), width=0.25),
        "icnet-fs1": lambda: ICNet(25, 1, input_shape=(65, 65, 3)),
        "segnet-argmax": lambda: SegNetBasic(25, 16, "argmax", input_shape=(48, 64, 3)),
        "segnet-deconv-tkuanlun": lambda: SegNetBasic(12, 16, "deconv", decoder_bias=True,
                                                      input_shape=(45, 60, 3)),
        "hrnet-smoke": lambda: build_hrnet("smoke", (64, 64, 3)),
        "center-offset-smoke": lambda: build_center_offset("smoke", (64, 64, 3)),
        "center-offset-hourglass": lambda: build_center_offset(
            "hourglass", (64, 64, 3), hourglass_kwargs={"num_features": 8, "depth": 2}),
        "hourglass-segmenter-progressive-joints": lambda: HourglassSegmenter(
            25, 2, num_features=8, depth=1, stack_classes=(5, 25), joints_head=24,
            input_shape=(16, 16, 3)),
    })
    return cases


CASES = _models()


@pytest.mark.parametrize("name", sorted(CASES))
def test_model_round_trips_predicts_and_trains(name, tmp_path):
    check_model(CASES[name](), tmp_path)
