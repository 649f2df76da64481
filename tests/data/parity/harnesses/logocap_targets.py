"""Run LOGO-CAP's released target generators (cherubicXN/logocap @39d104f,
logocap/dataset/target_generators/target_generators.py, executed from the mirror, not copied
into the repository) on seeded random people; save inputs and outputs as the golden file."""
import importlib.util
import os
import sys

import numpy as np

# REF: a checkout of cherubicXN/logocap @39d104f (e.g. `git archive` of the fetch mirror)
REF = os.environ.get("REF", "/tmp/logocap-ref")
_spec = importlib.util.spec_from_file_location(
    "ref_target_generators", os.path.join(REF, "logocap/dataset/target_generators/target_generators.py"))
_ref = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_ref)
HeatmapGenerator, OffsetGenerator = _ref.HeatmapGenerator, _ref.OffsetGenerator

RES = 48
out = {}
rng = np.random.default_rng(20261130)
cases = 6
for c in range(cases):
    P = int(rng.integers(1, 7))
    kp = np.zeros((P, 17, 2)); v = np.zeros((P, 17))
    for p in range(P):
        centre = rng.uniform(-2, RES + 2, 2)
        size = rng.uniform(4, 20)
        kp[p] = centre + rng.normal(0, size / 2, (17, 2))
        v[p] = rng.choice([0, 1, 2], 17, p=[0.2, 0.3, 0.5])
    if c == 0:                       # overlapping people: the overlap rule
        kp[1:] = kp[0] + rng.normal(0, 1.0, kp[1:].shape) if P > 1 else kp[1:]
    kp[v == 0] = 0.0                 # COCO writes unlabelled keypoints as 0, 0
    area_orig = rng.uniform(200, 6000, P) * 16
    area_orig[rng.random(P) < 0.2] = rng.uniform(100, 1000)     # some below 32^2
    area_aug = area_orig * rng.uniform(0.5, 2.0)
    # the stored (float32) inputs are what both sides see
    kp = kp.astype(np.float32).astype(np.float64)
    area_orig = area_orig.astype(np.float32).astype(np.float64)
    area_aug = area_aug.astype(np.float32).astype(np.float64)
    joints = np.zeros((P, 18, 3))
    joints[:, :17, :2] = kp; joints[:, :17, 2] = v
    for p in range(P):               # get_joints: centre = mean of the labelled keypoints
        n = (v[p] > 0).sum()
        if area_orig[p] < 32 ** 2 or n == 0:
            continue
        joints[p, 17, :2] = kp[p].sum(0) / n
        joints[p, 17, 2] = 1
    mask = np.ones((RES, RES), np.float32)
    if c == 1:
        mask[5:20, 10:30] = 0
    hms, ignored = HeatmapGenerator(RES, 18)(joints, 2.0, 4, 0.1)
    offs, offw = OffsetGenerator(RES, RES, 18, 4)(joints, area_aug)  # (P,): numpy 2 cannot assign the (P, 1) rows the original passes
    out[f"c{c}_keypoints"] = kp.astype(np.float32); out[f"c{c}_flags"] = v.astype(np.float32)
    out[f"c{c}_area_orig"] = area_orig.astype(np.float32); out[f"c{c}_area_aug"] = area_aug.astype(np.float32)
    out[f"c{c}_keep"] = mask
    out[f"c{c}_heatmaps"] = hms.astype(np.float32); out[f"c{c}_heat_weight"] = (mask[None] * ignored).astype(np.float32)
    out[f"c{c}_offsets"] = offs.astype(np.float32); out[f"c{c}_offset_weight"] = offw.astype(np.float32)
out["res"] = np.int32(RES)
np.savez_compressed(sys.argv[1], **out)
print({k: v.shape for k, v in out.items() if k.startswith("c0")})
