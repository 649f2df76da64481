"""Run LOGO-CAP's released Model (cherubicXN/logocap @39d104f, logocap/models/model.py,
decoder.py, loss.py, attentive_norm.py; executed from a checkout at $REF, not copied into the
repository) on seeded random heads / CMP weights and seeded random backbone
features (a stub backbone returns them): the eval forward at the three adaptation levels and
one training forward with its four losses. Saves the golden file.

CPU patches (harness only): Tensor.cuda -> identity, torch.cuda.synchronize -> no-op, tensor
factories called with device='cuda' -> cpu.
"""
import json
import sys

import numpy as np
import torch

import importlib.util
import os

# REF: a checkout of cherubicXN/logocap @39d104f; the golden-file helpers of this repository
REF = os.environ.get("REF", "/tmp/logocap-ref")
_spec = importlib.util.spec_from_file_location(
    "golden", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "golden.py"))
_golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_golden)
draw_streams = _golden.draw_streams
sys.path.insert(0, REF)

torch.cuda.synchronize = lambda *a, **k: None
torch.Tensor.cuda = lambda self, *a, **k: self
for _name in ("arange", "linspace", "zeros", "ones", "tensor", "zeros_like"):
    _f = getattr(torch, _name)

    def _wrap(*a, _f=_f, **k):
        if k.get("device") == "cuda":
            k["device"] = "cpu"
        return _f(*a, **k)
    setattr(torch, _name, _wrap)

import logocap.models.model as M  # noqa: E402
import types  # noqa: E402
from logocap.config import cfg, update_config  # noqa: E402

update_config(cfg, types.SimpleNamespace(cfg=os.path.join(REF, "experiments/logocap-hrnet-w32-coco.yaml"), opts=[]))
assert cfg.DATASET.NUM_JOINTS == 18
torch.set_default_dtype(torch.float32)
torch.use_deterministic_algorithms(True)


class Stub(torch.nn.Module):
    output_channels = 480

    def __init__(self):
        super().__init__()
        self.feat = None

    def forward(self, x):
        return self.feat


model = M.Model(cfg, Stub())
sd = model.state_dict()
draws = []
for key, t in sd.items():
    if key.endswith("num_batches_tracked"):
        continue
    shape = list(t.shape)
    if key.endswith("running_var"):
        d = [key, shape, "uniform", 0.5, 2.0]
    elif key.endswith("running_mean"):
        d = [key, shape, "normal", 0.0, 0.1]
    elif key.endswith("weight_"):
        d = [key, shape, "normal", 1.0, 0.1]
    elif key.endswith("bias_") or key.endswith(".bias"):
        d = [key, shape, "normal", 0.0, 0.1]
    elif len(shape) == 1:          # BN gamma
        d = [key, shape, "uniform", 0.5, 1.5]
    else:                          # conv kernels (out, in, kh, kw)
        fan_in = int(np.prod(shape[1:]))
        d = [key, shape, "normal", 0.0, float(np.sqrt(1.0 / fan_in))]
    draws.append(d)
H, W = 64, 96          # input; stride-4 features 16 x 24
h, w = H // 4, W // 4
draws_in = [["eval_features", [2, 480, h, w], "normal", 0.0, 1.0],
            ["train_features", [2, 480, h, w], "normal", 0.0, 1.0],
            ["heat_t", [2, 18, h, w], "uniform", 0.0, 1.0],
            ["heat_w", [2, 18, h, w], "uniform", 0.0, 1.0],
            ["off_t", [2, 34, h, w], "normal", 0.0, 2.0],
            ["off_w", [2, 34, h, w], "uniform", 0.0, 0.1]]
streams = [{"seed": 1701, "draws": draws}, {"seed": 1702, "draws": draws_in}]
arr = draw_streams(streams)
new_sd = {k: torch.from_numpy(arr[k].copy()) for k, *_ in draws}
missing = model.load_state_dict(new_sd, strict=False)
assert not missing.unexpected_keys, missing
assert all(k.endswith("num_batches_tracked") for k in missing.missing_keys), missing
out = {}

# ---- eval forward, three levels
model.eval()
for level in ("none", "partial", "full"):
    model.adaptation_level_test = level
    model.backbone.feat = torch.from_numpy(arr["eval_features"])
    with torch.no_grad():
        o, _ = model(torch.zeros(1, 3, H, W))
    out[f"out/{level}_poses"] = o["poses"].numpy()
    out[f"out/{level}_scores"] = o["scores"].numpy()
    print(level, o["poses"].shape, float(o["scores"].max()))
out["out/centers"] = o["centers"].numpy()
out["out/allposes"] = o["allposes"].numpy()
with torch.no_grad():
    feats = torch.from_numpy(arr["eval_features"])
    hm = model.final_layer_cls(model.transition_cls(feats))
    out["out/heatmaps"] = hm.numpy()
print("centres kept", out["out/centers"].shape)

# ---- NMS of the inference shell on the full-level poses (original = input coordinates)
from logocap.inference import LogoCapInference  # noqa: E402
poses = out["out/full_poses"]
rng = np.random.default_rng(1703)
dup = poses[:4] + rng.normal(0, 0.3, poses[:4].shape).astype(np.float32)   # near duplicates
dup[..., 2] = poses[:4, :, 2]
nms_poses = np.concatenate([poses, dup]).astype(np.float32)
nms_scores = np.concatenate([out["out/full_scores"], out["out/full_scores"][:4] * rng.uniform(0.5, 1.5, 4).astype(np.float32)])
keep = LogoCapInference.nms_core(cfg, torch.from_numpy(nms_poses[..., :2]), torch.from_numpy(nms_scores))
out["out/nms_poses"] = nms_poses
out["out/nms_scores"] = nms_scores
out["out/nms_keep"] = np.asarray(keep, np.int64)
print("nms keep", keep)

# ---- one training forward
model.train()
model.backbone.feat = torch.from_numpy(arr["train_features"])
G = [3, 2]
metas = []
gts = np.zeros((2, 30, 17, 3), np.float32)
areas_in = np.zeros((2, 30), np.float32)
valid = np.zeros((2, 30), np.float32)
scales = [1.25, 0.8]
shifts = [(-7.0, 3.0), (5.0, -4.0)]
flips = [0, 1]
with torch.no_grad():
    hm0 = model.final_layer_cls(model.transition_cls(torch.from_numpy(arr["train_features"])))
for b in range(2):
    # people whose keypoints sit around the decoded initial poses, so OKS >= 0.5 happens
    s, (tx, ty) = scales[b], shifts[b]
    A = np.array([[s, 0, tx], [0, s, ty], [0, 0, 1]], np.float64)
    Ainv = np.linalg.inv(A)
    kp_in = rng.uniform([0, 0], [W, H], (G[b], 17, 2))
    vis = rng.choice([0, 1, 2], (G[b], 17), p=[0.2, 0.3, 0.5]).astype(np.float64)
    area_orig = rng.uniform(300, 3000, G[b])
    in_flip = kp_in.copy()
    if flips[b]:
        in_flip[..., 0] = W - 1 - in_flip[..., 0]          # the unflipped input coords
    orig = in_flip @ Ainv[:2, :2].T + Ainv[:2, 2]
    kpts = np.concatenate([orig, vis[..., None]], -1).astype(np.float32)
    metas.append({"annotations": {"kpts": torch.from_numpy(kpts), "areas": torch.from_numpy(area_orig.astype(np.float32))},
                  "transform": torch.from_numpy(A.astype(np.float32)),
                  "transform_inv": torch.from_numpy(Ainv.astype(np.float32)), "HFlip": bool(flips[b])})
    gts[b, :G[b]] = np.concatenate([kp_in, vis[..., None]], -1)
    areas_in[b, :G[b]] = area_orig * s * s
    valid[b, :G[b]] = 1
out["given/train_gt"] = gts
out["given/train_areas"] = areas_in
out["given/train_valid"] = valid
out["given/train_orig_areas"] = np.stack([np.pad(m["annotations"]["areas"].numpy(), (0, 30 - g)) for m, g in zip(metas, G)])
targets = {"heatmaps.t": torch.from_numpy(arr["heat_t"]), "heatmaps.w": torch.from_numpy(arr["heat_w"]),
           "offsets.t": torch.from_numpy(arr["off_t"]), "offsets.w": torch.from_numpy(arr["off_w"]),
           "meta": metas}
# make some decoded poses land on the people: people = initial poses of the first centres
with torch.no_grad():
    hr = torch.nn.functional.interpolate(hm0, size=(H, W), mode="bilinear", align_corners=False)
    offs = model.final_layer_reg(model.transition_reg(torch.from_numpy(arr["train_features"])))
    dec = model.decoder(torch.zeros(2, 3, H, W), {"centermaps": hr[:, -1:], "offsets": offs})
init = dec["allposes"][:, :, 5, 5].numpy()           # (2, 30, 17, 2)
out["out/train_centers"] = dec["centers"].numpy()
for b in range(2):
    s, (tx, ty) = scales[b], shifts[b]
    A = metas[b]["transform"].numpy().astype(np.float64)
    Ainv = np.linalg.inv(A)
    for g in range(G[b]):
        kp_in = init[b, 2 * g] + rng.normal(0, 1.5, (17, 2))
        in_flip = kp_in.copy()
        if flips[b]:
            in_flip[..., 0] = W - 1 - in_flip[..., 0]
        orig = in_flip @ Ainv[:2, :2].T + Ainv[:2, 2]
        metas[b]["annotations"]["kpts"][g, :, :2] = torch.from_numpy(orig.astype(np.float32))
        gts[b, g, :, :2] = kp_in
out["given/train_gt"] = gts
# our side sees the GT in input coordinates as float32 computed from the stored original ones
out["given/train_gt_orig"] = np.stack([np.pad(m["annotations"]["kpts"].numpy(), ((0, 30 - g), (0, 0), (0, 0))) for m, g in zip(metas, G)])
out["given/train_affine"] = np.stack([m["transform"].numpy() for m in metas])
out["given/train_flip"] = np.asarray(flips, np.float32)
outputs, losses = model(torch.zeros(2, 3, H, W), targets)
out["out/train_kam"] = outputs["oks.joints"].detach().numpy()
out["out/train_oks_joints"] = targets["oks.joints"].numpy()
out["out/train_oks_person"] = targets["oks.person"].numpy()
sub_rng = np.random.default_rng(0)
for name, t in (("train_out_hm", outputs["out_hm"].detach().numpy()), ("train_gt_hm", targets["out_hm"].numpy())):
    idx = sub_rng.choice(t.size, 2048, replace=False)
    out[f"sub/{name}/idx"] = idx
    out[f"sub/{name}/val"] = t.ravel()[idx]
    out[f"sub/{name}/shape"] = np.asarray(t.shape)
print("kept instances", out["out/train_kam"].shape)
for k, v in losses.items():
    out[f"out/{k}"] = np.float32(v.detach().numpy())
print({k: float(v) for k, v in losses.items()})
recipe = {"streams": [{"seed": s["seed"], "draws": s["draws"] + ([[k[len('given/'):], list(out[k].shape), 'given', 0, 0] for k in sorted(out) if k.startswith('given/')] if s["seed"] == 1702 else [])} for s in streams],
          "meta": {"input_hw": [H, W], "reference": "cherubicXN/logocap@39d104f",
                   "config": "experiments/logocap-hrnet-w32-coco.yaml"}}
out["recipe"] = json.dumps(recipe)
np.savez_compressed(sys.argv[1], **out)
print({k: v.shape for k, v in out.items() if k != "recipe"})
