"""Test-suite settings: quiet TF logs, deselect `large` tests unless asked for (`-m large`), and
the `real_dir` fixture for tests on the real files of ``../shared/real``."""
import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def pytest_configure(config):
    config.addinivalue_line("markers", "large: long test (real-size models or data); run with -m large")
    config.addinivalue_line("markers", "real: needs the real sample files of ../shared/real "
                            "(REPROKIT_REAL_DIR overrides the folder)")
    # Keras 3.15's own weight saving calls np.array(variable, copy=False) (keras/src/backend/
    # tensorflow/core.py); thousands of identical warnings that are not ours to fix.
    config.addinivalue_line(
        "filterwarnings", "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")


def pytest_collection_modifyitems(config, items):
    """Without an explicit ``-m``, deselect tests marked ``large`` (they run with ``-m large``)."""
    if config.getoption("-m"):
        return
    large = [item for item in items if "large" in item.keywords]
    if large:
        config.hook.pytest_deselected(items=large)
        items[:] = [item for item in items if "large" not in item.keywords]


#: The real sample files (MPII annotations and images, COCO, RHD, FreiHAND); not copied into the
#: repository. CI has ``../shared`` beside the checkout.
REAL_DIR = os.environ.get("REPROKIT_REAL_DIR") or os.path.normpath(
    os.path.join(os.path.dirname(__file__), "..", "..", "shared", "real"))


@pytest.fixture(scope="session")
def real_dir():
    """``../shared/real``; when it is absent the test is skipped with a message saying so
    (``make test`` prints skip reasons), or fails when ``REPROKIT_REQUIRE_REAL=1``."""
    if not os.path.isdir(REAL_DIR):
        msg = (f"the real sample files are not at {REAL_DIR} (they live in ../shared/real beside "
               "the checkout; set REPROKIT_REAL_DIR to point elsewhere)")
        if os.environ.get("REPROKIT_REQUIRE_REAL") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return REAL_DIR


@pytest.fixture(autouse=True)
def _process_settings():
    """Each test starts from this process's default execution settings and ends without leaking
    its own: ``REPROKIT_EXECUTION`` (set by ``Execution.activate`` and every CLI's
    ``--strategy/--precision/--jit`` options) is removed for the test and restored after it, and
    the Keras global dtype policy is put back. Without this a test that activates
    ``mixed_float16`` + XLA silently changes how every later test in the same worker trains
    (``make test`` runs the files in two worker processes, in an order that varies)."""
    # not monkeypatch: this autouse fixture is set up before a test's own monkeypatch, so it is
    # torn down after it, when that monkeypatch has put back whatever it had recorded
    saved = os.environ.pop("REPROKIT_EXECUTION", None)
    yield
    os.environ.pop("REPROKIT_EXECUTION", None)
    if saved is not None:
        os.environ["REPROKIT_EXECUTION"] = saved
    import sys
    if "keras" in sys.modules:            # only tests that imported Keras can have changed it
        import keras
        if keras.mixed_precision.global_policy().name != "float32":
            keras.mixed_precision.set_global_policy("float32")
