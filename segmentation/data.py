"""SURREAL: reader for the published layout, frame extraction, and the thesis preprocessing.

Layout (gulvarol/surreal README; docs/reference/segmentation.md §3.1)::

    SURREAL/data/cmu/{train,val,test}/run{0,1,2}/<seq>/
        <seq>_c0001.mp4         RGB 240 x 320, T frames
        <seq>_c0001_segm.mat    segm_1 .. segm_T: uint8 (240, 320), 0 = background, 1..24 parts
        <seq>_c0001_info.mat    zrot (T,), joints2D (2, 24, T) px 0-based, joints3D (3, 24, T) m, ...

T is ``len(info["zrot"])`` (as Varol's loader); segm keys are 1-based. Preprocessing
(spec §B): clustered frame selection on pelvis-centred 3D joints (k-means, nearest frame per
centroid), frames without foreground or with all-zero joints dropped, the head-label fix
(largest 8-connected head component kept, the others refilled from their border), a square
body crop (``max(w, h) + margin``, zero padding) resized to the network input (bilinear image,
nearest label) with the joints moved by the same affine. Extracted frames are PNG pairs
(label PNGs hold the ids 0..24) with an ``index.json``.
"""
from __future__ import annotations

import glob
import json
import logging
import os

import cv2
import numpy as np
from scipy.io import loadmat
from tqdm import tqdm

from reprokit.errors import DataFormatError

from reprokit.synthetic import is_synthetic, mark_synthetic
from segmentation.labels import HEAD

SPLITS = ("train", "val", "test")
_LOG = logging.getLogger("reprokit.segmentation")


class SurrealError(DataFormatError):
    """A SURREAL clip that cannot be read as published (names the clip and the file)."""


def find_clips(root: str, split: str = "train", run: str = "run0") -> list[str]:
    """Clip stems ``.../<seq>/<seq>_cNNNN`` of a split, sorted; ``root`` is ``SURREAL/data``
    (``cmu/`` is found below it) or the ``cmu`` folder itself."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    base = root if os.path.basename(os.path.normpath(root)) == "cmu" else os.path.join(root, "cmu")
    folder = os.path.join(base, split, run)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"SURREAL folder {folder!r} not found (expected "
                                "SURREAL/data/cmu/<split>/<run>/<seq>/, see segmentation.data)")
    return sorted(p[:-4] for p in glob.glob(os.path.join(folder, "*", "*_c[0-9][0-9][0-9][0-9].mp4")))


def read_info(clip: str) -> dict:
    """``<clip>_info.mat``: ``T``, ``joints2D`` ``(T, 24, 2)``, ``joints3D`` ``(T, 24, 3)``."""
    path = clip + "_info.mat"
    if not os.path.exists(path):
        raise SurrealError(f"clip {clip}: {path} is missing")
    try:
        info = loadmat(path)
    except Exception as err:  # scipy raises several types for damaged files
        raise SurrealError(f"clip {clip}: cannot read {path}: {err}") from err
    for key in ("zrot", "joints2D", "joints3D"):
        if key not in info:
            raise SurrealError(f"clip {clip}: {path} has no {key!r}")
    t = int(np.asarray(info["zrot"]).size)
    j2, j3 = np.asarray(info["joints2D"], np.float64), np.asarray(info["joints3D"], np.float64)
    if j2.ndim == 2:                       # T = 1 is squeezed by MATLAB
        j2, j3 = j2[..., None], j3[..., None]
    if j2.shape != (2, 24, t) or j3.shape != (3, 24, t):
        raise SurrealError(f"clip {clip}: joints2D {j2.shape} / joints3D {j3.shape} do not match "
                           f"T = {t} frames (zrot)")
    return {"T": t, "joints2D": j2.transpose(2, 1, 0), "joints3D": j3.transpose(2, 1, 0)}


def read_segm(clip: str, frames=None) -> dict:
    """``{t: uint8 (H, W)}`` from ``<clip>_segm.mat`` (key ``segm_{t+1}``, 1-based)."""
    path = clip + "_segm.mat"
    if not os.path.exists(path):
        raise SurrealError(f"clip {clip}: {path} is missing")
    try:
        mat = loadmat(path)
    except Exception as err:
        raise SurrealError(f"clip {clip}: cannot read {path}: {err}") from err
    out = {}
    for t in (frames if frames is not None else range(len([k for k in mat if k.startswith("segm_")]))):
        key = f"segm_{t + 1}"
        if key not in mat:
            raise SurrealError(f"clip {clip}: {path} has no {key} (frame {t})")
        out[t] = np.asarray(mat[key], np.uint8)
    return out


def read_frames(clip: str, frames, expected: int | None = None) -> dict:
    """Decode the listed frames (0-based) of ``<clip>.mp4`` as RGB uint8.

    Raises:
        SurrealError: naming the clip if the video cannot be opened or has fewer frames than
            ``expected`` (the ``_info.mat`` T) or than requested.
    """
    path = clip + ".mp4"
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise SurrealError(f"clip {clip}: cannot open video {path}")
    want, out, t = set(int(f) for f in frames), {}, 0
    last = max(want) if want else -1
    need = max(last + 1, expected or 0)
    while t < need:
        ok, bgr = cap.read()
        if not ok:
            break
        if t in want:
            out[t] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        t += 1
    cap.release()
    if t < need:
        raise SurrealError(f"clip {clip}: video {path} has {t} readable frames, expected "
                           f"{need} (T = {expected} in _info.mat)")
    return out


def fix_head(segm: np.ndarray) -> np.ndarray:
    """Keep the largest 8-connected component of the head label (16); refill every other head
    component with the most frequent non-head label among the pixels bordering it (8-nbhd)."""
    segm = np.asarray(segm, np.uint8).copy()
    n, comp, stats, _ = cv2.connectedComponentsWithStats((segm == HEAD).astype(np.uint8), 8)
    if n <= 2:
        return segm
    keep = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    kernel = np.ones((3, 3), np.uint8)
    for c in range(1, n):
        if c == keep:
            continue
        region = comp == c
        ring = cv2.dilate(region.astype(np.uint8), kernel).astype(bool) & ~region
        values = segm[ring & (segm != HEAD)]
        segm[region] = np.bincount(values).argmax() if values.size else 0
    return segm


def body_crop(image, segm, joints2d=None, size=(320, 320), margin: float = 0.1):
    """Square crop around the body (``segm > 0``), side ``max(w, h) * (1 + margin)`` (a
    ``margin >= 1`` is in pixels), zero padded, resized to ``size`` (bilinear image, nearest
    label). Returns ``image, segm, joints2d`` (joints moved by the same affine) or ``None`` if
    there is no foreground."""
    ys, xs = np.nonzero(segm)
    if ys.size == 0:
        return None
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    side = max(x1 - x0, y1 - y0)
    side = side + (margin if margin >= 1 else side * margin)
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    h, w = size
    s = w / side
    affine = np.array([[s, 0, w / 2.0 - s * cx], [0, h / side, h / 2.0 - h / side * cy]])
    img = cv2.warpAffine(np.asarray(image), affine, (w, h), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    lab = cv2.warpAffine(np.asarray(segm, np.uint8), affine, (w, h), flags=cv2.INTER_NEAREST,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    j = None
    if joints2d is not None:
        j = np.asarray(joints2d, np.float64) @ affine[:, :2].T + affine[:, 2]
    return img, lab, j


def kmeans_select(features: np.ndarray, k: int, seed: int = 0, iterations: int = 30) -> np.ndarray:
    """Indices of the rows nearest to each of ``k`` k-means centroids (Lloyd, k-means++ start,
    fixed seed); sorted, unique."""
    x = np.asarray(features, np.float64)
    if k >= len(x):
        return np.arange(len(x))
    rng = np.random.default_rng(seed)
    centres = [x[rng.integers(len(x))]]
    for _ in range(1, k):
        d = np.min(((x[:, None] - np.asarray(centres)[None]) ** 2).sum(-1), 1)
        centres.append(x[rng.choice(len(x), p=d / d.sum()) if d.sum() > 0 else rng.integers(len(x))])
    c = np.asarray(centres)
    for _ in range(iterations):
        assign = np.argmin(((x[:, None] - c[None]) ** 2).sum(-1), 1)
        new = np.stack([x[assign == i].mean(0) if np.any(assign == i) else c[i] for i in range(k)])
        if np.allclose(new, c):
            break
        c = new
    nearest = np.argmin(((x[None] - c[:, None]) ** 2).sum(-1), 1)
    return np.unique(nearest)


def extract_frames(root: str, out_dir: str, split: str = "train", run: str = "run0",
                   num_frames: int | None = None, size=(320, 320), margin: float = 0.1,
                   seed: int = 0, progress: bool = True, skip_bad: bool = False) -> dict:
    """Extract image / label PNG pairs from a SURREAL split (spec §B).

    Args:
        num_frames: clustered selection target (k-means on pelvis-centred ``joints3D``, one
            frame per centroid; the thesis used about 90k / 15k / 15k); ``None`` = every frame.
        size: output ``(H, W)``; ``margin``: crop margin (fraction, or pixels if >= 1).

        skip_bad: a damaged clip (unreadable ``_info.mat`` / ``_segm.mat`` / video, or fewer
            frames than its ``T``) is skipped and counted instead of aborting the extraction;
            the skipped clips and why are logged at the end and written to
            ``out_dir/skipped.json``.

    Interrupting and rerunning continues: frames already written are kept.

    Returns:
        records: ``image_path``, ``label_path``, ``joints2d`` ``(N, 24, 2)``, ``clip``,
        ``frame``; also written to ``out_dir/index.json``.
    """
    clips = find_clips(root, split, run)
    if not clips:
        raise FileNotFoundError(f"no clips under {root!r} for {split}/{run}")
    skipped: dict[str, str] = {}
    total = len(clips)
    infos = {}
    for c in clips:
        try:
            infos[c] = read_info(c)
        except SurrealError as err:
            if not skip_bad:
                raise
            skipped[c] = str(err)
    clips = [c for c in clips if c in infos]
    candidates = [(c, t) for c in clips for t in range(infos[c]["T"])
                  if np.any(infos[c]["joints2D"][t])]
    if num_frames is not None:
        feats = np.stack([(infos[c]["joints3D"][t] - infos[c]["joints3D"][t][:1]).ravel()
                          for c, t in candidates])
        candidates = [candidates[i] for i in kmeans_select(feats, num_frames, seed)]
    by_clip: dict = {}
    for c, t in candidates:
        by_clip.setdefault(c, []).append(t)
    for sub in ("images", "labels"):
        os.makedirs(os.path.join(out_dir, sub), exist_ok=True)
    if is_synthetic(root):                  # frames of a synthetic SURREAL stay marked
        mark_synthetic(out_dir)
    records = {"image_path": [], "label_path": [], "joints2d": [], "clip": [], "frame": []}
    for clip, frames in tqdm(by_clip.items(), desc=f"SURREAL {split}", unit="clip",
                             disable=not progress):
        stem = os.path.relpath(clip, os.path.dirname(os.path.dirname(clip))).replace(os.sep, "__")
        todo = [t for t in frames if not os.path.exists(
            os.path.join(out_dir, "labels", f"{stem}_{t:04d}.png"))]
        try:
            images = read_frames(clip, todo, infos[clip]["T"]) if todo else {}
            segms = read_segm(clip, todo) if todo else {}
        except SurrealError as err:
            if not skip_bad:
                raise
            skipped[clip] = str(err)
            continue
        for t in frames:
            img_path = os.path.join(out_dir, "images", f"{stem}_{t:04d}.png")
            lab_path = os.path.join(out_dir, "labels", f"{stem}_{t:04d}.png")
            joints = infos[clip]["joints2D"][t]
            if t in images:
                crop = body_crop(images[t], fix_head(segms[t]), joints, size, margin)
                if crop is None:                                  # no foreground: dropped
                    continue
                img, lab, joints = crop
                cv2.imwrite(img_path, cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
                cv2.imwrite(lab_path + ".tmp.png", lab)
                os.replace(lab_path + ".tmp.png", lab_path)      # label last: marks the pair done
                np.save(lab_path[:-4] + "_joints.npy", joints)
            elif not os.path.exists(lab_path):
                continue
            else:
                joints = np.load(lab_path[:-4] + "_joints.npy")
            records["image_path"].append(img_path)
            records["label_path"].append(lab_path)
            records["joints2d"].append(np.asarray(joints).tolist())
            records["clip"].append(clip)
            records["frame"].append(t)
    with open(os.path.join(out_dir, "index.json"), "w", encoding="utf-8") as f:
        json.dump(records, f)
    if skip_bad:
        with open(os.path.join(out_dir, "skipped.json"), "w", encoding="utf-8") as f:
            json.dump(skipped, f, indent=2)
        if skipped:
            _LOG.warning("skipped %d damaged clip(s) of %d:\n%s", len(skipped), total,
                         "\n".join(f"  {c}: {why}" for c, why in skipped.items()))
    return read_extracted(out_dir)


def read_extracted(out_dir: str) -> dict:
    """Records of an :func:`extract_frames` folder (``index.json``) as arrays."""
    path = os.path.join(out_dir, "index.json")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found; run segmentation.data.extract_frames first")
    with open(path, encoding="utf-8") as f:
        rec = json.load(f)
    return {"image_path": np.asarray(rec["image_path"]), "label_path": np.asarray(rec["label_path"]),
            "joints2d": np.asarray(rec["joints2d"], np.float32).reshape(-1, 24, 2),
            "clip": np.asarray(rec["clip"]), "frame": np.asarray(rec["frame"], np.int64)}


__all__ = ["SPLITS", "SurrealError", "body_crop", "extract_frames", "find_clips", "fix_head",
           "kmeans_select", "read_extracted", "read_frames", "read_info", "read_segm"]
