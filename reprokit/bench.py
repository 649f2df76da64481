"""Benchmarks (never timed tests): ``python -m reprokit.bench pipeline``.

``pipeline`` writes synthetic JPEGs (``reprokit.synthetic``), then measures samples per second
of the 256x256 keypoint pipeline (decode -> anibali affine + flip + channel scale -> 16 Gaussian
heatmaps at 64x64 -> batch) against a decode-only pipeline in the same process, and prints both
with their ratio (this machine is noisy; compare ratios, not absolute numbers).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time


def _rate(ds, warmup: int, batches: int, batch_size: int) -> float:
    it = iter(ds)
    for _ in range(warmup):
        next(it)
    start = time.perf_counter()
    for _ in range(batches):
        next(it)
    return batches * batch_size / (time.perf_counter() - start)


def bench_pipeline(num_images: int = 128, image_size=(480, 640), batch_size: int = 8,
                   batches: int = 40, warmup: int = 5) -> dict:
    # lazy: `python -m reprokit.bench --help` answers without loading TensorFlow
    from reprokit.codecs import GaussianHeatmapCodec
    from reprokit.data import AffineCrop, ChannelScale, Compose, ImageRecordReader, build_dataset
    from reprokit.synthetic import HUMAN16, write_figures
    from reprokit.data.meta import flip_pairs_to_index   # lazy, as above

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        records = write_figures(HUMAN16, tmp, num_images, image_size, seed=1)
        write_s = time.perf_counter() - t0
        records.pop("label_path")
        reader = ImageRecordReader(records)
        flip = flip_pairs_to_index(HUMAN16.flip_pairs, HUMAN16.num_joints)
        augment = Compose([AffineCrop((256, 256), scale_std=0.25, scale_range=(0.75, 1.25),
                                      rotation_std=30.0, rotation_range=(-60.0, 60.0),
                                      rotation_prob=0.6, flip_prob=0.5, flip_index=flip),
                           ChannelScale(0.8, 1.2)])
        codec = GaussianHeatmapCodec((256, 256), (64, 64), sigma=1.0, peak_rounding="floor",
                                     patch_size=7)
        full = build_dataset(reader, augment, codec, batch_size, training=True, seed=0, repeat=True)
        decode_only = build_dataset(reader, None, None, batch_size, training=True, seed=0,
                                    repeat=True, format_fn=lambda ex: ex["image"][:64, :64])
        rate_decode = _rate(decode_only, warmup, batches, batch_size)
        rate_full = _rate(full, warmup, batches, batch_size)
    return {"images": num_images, "image_size": list(image_size), "write_seconds": write_s,
            "decode_only_samples_per_s": rate_decode, "full_samples_per_s": rate_full,
            "full_over_decode": rate_full / rate_decode, "cpus": os.cpu_count()}


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = argparse.ArgumentParser(prog="python -m reprokit.bench")
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("pipeline", help="augmented samples per second, 256x256 keypoint pipeline")
    p.add_argument("--images", type=int, default=128)
    p.add_argument("--batches", type=int, default=40)
    args = parser.parse_args(argv)
    r = bench_pipeline(args.images, batches=args.batches)
    print(f"pipeline benchmark ({r['cpus']} CPUs, {r['images']} synthetic JPEGs "
          f"{r['image_size'][1]}x{r['image_size'][0]}, batch 8):")
    print(f"  decode only                                   {r['decode_only_samples_per_s']:8.1f} samples/s")
    print(f"  decode + affine/flip/colour + 16 heatmaps 64² {r['full_samples_per_s']:8.1f} samples/s")
    print(f"  ratio full / decode-only                      {r['full_over_decode']:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
