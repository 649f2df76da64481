"""One tiny model of every family (seconds to build): what the execution and export tests run.

``build(name)`` returns the model; the ICNet keeps its paper width (its smallest is the
``filter_scale=1`` network) at a 65 x 65 input.
"""
# lazy imports inside: each family's package loads only when its model is asked for


def _hourglass():
    from hourglass.model import build_stacked_hourglass
    return build_stacked_hourglass(2, 16, num_features=8, depth=2, input_shape=(32, 32, 3))


def _posenet():
    from handpose.model import build_posenet
    return build_posenet("paper", "separable", width=0.0625, input_shape=(64, 64, 3))


def _handsegnet():
    from handpose.model import build_handsegnet
    return build_handsegnet(input_shape=(32, 32, 3))


def _icnet():
    from segmentation.icnet import ICNet
    return ICNet(input_shape=(65, 65, 3))


def _segnet():
    from segmentation.segnet import SegNetBasic
    return SegNetBasic(filters=8, input_shape=(32, 32, 3))


def _segmentation_hourglass():
    from segmentation.spec import SegTrainConfig, build_model
    return build_model(SegTrainConfig(network="hourglass", input_size=32, model={
        "num_stacks": 2, "num_features": 8, "depth": 1}).resolve())


def _center_offset():
    from logocap.model import build_center_offset
    return build_center_offset("smoke", (64, 64, 3))


FAMILIES = {"hourglass": _hourglass, "posenet": _posenet, "handsegnet": _handsegnet,
            "icnet": _icnet, "segnet": _segnet, "segmentation_hourglass": _segmentation_hourglass,
            "center_offset": _center_offset}


def build(name):
    return FAMILIES[name]()
