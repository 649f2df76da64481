"""Test-suite settings: quiet TF logs, deselect `large` tests unless asked for (`-m large`)."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def pytest_configure(config):
    config.addinivalue_line("markers", "large: long test (real-size models or data); run with -m large")
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
