"""Package metadata for reprokit: faithful TF/Keras reproductions of four vision papers.

One distribution, four import packages: the shared layer ``reprokit`` and the siblings
``hourglass``, ``handpose`` and ``segmentation`` (see docs/design.md for the dependency direction).
"""
from setuptools import find_packages, setup

setup(
    name="reprokit",
    version="0.1.0",
    description="Faithful TensorFlow/Keras reproductions: stacked hourglass (CV701), "
    "two-stage hand pose (Sibgrapi 104), body-part segmentation on SURREAL.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    packages=find_packages(include=["reprokit*", "hourglass*", "handpose*", "segmentation*",
                                    "logocap*"]),
    install_requires=[
        "tensorflow~=2.21.0",
        "keras>=3.12",
        "numpy",
        # Headless: no GUI libraries (libGL, GTK) needed on servers and CI; we never open windows.
        "opencv-python-headless",
        "scipy",
        "h5py",
        "matplotlib",
        "tqdm",
        # TensorFlow 2.21 no longer pulls TensorBoard in; runs write TensorBoard logs (docs/design.md).
        "tensorboard~=2.21.0",
        # COCO keypoint evaluation (logocap); not xtcocotools, which fails with numpy 2
        # (docs/reference/logocap_metrics_ecosystem.md §2)
        "pycocotools>=2.0.8",
    ],
    extras_require={
        # the test suite executes the notebooks, so the notebook runner is a dev dependency
        "dev": ["pytest", "pytest-xdist", "hypothesis", "nbclient", "nbformat", "ipykernel"],
        # python -m PACKAGE export --format onnx (reprokit.export): tf2onnx converts, onnxruntime
        # checks; make test installs it (tests/reprokit/test_export.py)
        "export": ["tf2onnx", "onnxruntime"],
        "notebooks": ["nbclient", "nbformat", "ipykernel"],
    },
    entry_points={
        "console_scripts": ["repro = reprokit.cli:main"],
        # Reproductions register here; `repro list` reads this group, so reprokit never
        # imports the sibling packages (docs/design.md, dependency direction).
        "reprokit.reproductions": [
            "hourglass.table1 = hourglass.reproduce:TABLE1_REPRODUCTION",
            "handpose.table4 = handpose.reproduce:TABLE4_REPRODUCTION",
            "segmentation.table1 = segmentation.reproduce:TABLE1_REPRODUCTION",
            "segmentation.table2 = segmentation.reproduce:TABLE2_REPRODUCTION",
            "segmentation.table3 = segmentation.reproduce:TABLE3_REPRODUCTION",
            "segmentation.table4 = segmentation.reproduce:TABLE4_REPRODUCTION",
            "segmentation.table5 = segmentation.reproduce:TABLE5_REPRODUCTION",
            "segmentation.table6 = segmentation.reproduce:TABLE6_REPRODUCTION",
            "segmentation.hourglass = segmentation.reproduce:HOURGLASS_REPRODUCTION",
            "logocap.upper_bound = logocap.reproduce:UPPER_BOUND_REPRODUCTION",
            "logocap.adaptation = logocap.tables:ADAPTATION_REPRODUCTION",
            "logocap.speed = logocap.tables:SPEED_REPRODUCTION",
        ],
        # `python -m reprokit.bench`: one model per package (reprokit.bench.BenchCase)
        "reprokit.benchmarks": [
            "hourglass = hourglass.bench:BENCH_CASE",
            "handpose = handpose.bench:BENCH_CASE",
            "segmentation = segmentation.bench:BENCH_CASE",
            "logocap = logocap.train:BENCH_CASE",
        ],
    },
    classifiers=[
        "Programming Language :: Python :: 3.11",
        "License :: OSI Approved :: Apache Software License",
        "Topic :: Scientific/Engineering :: Image Recognition",
    ],
)
