import os
from pathlib import Path

import numpy as np
import pytest

MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def mnist_home():
    """Folder holding mnist/ with the four IDX files.

    Where CI sets KMEANSLAB_DATA (and KMEANSLAB_REQUIRE_DATA) a missing copy is a
    failure, not a skip: tests must never pass by silently doing nothing.
    """
    env = os.environ.get("KMEANSLAB_DATA")
    home = Path(env) if env else SHARED_DATA
    present = all((home / "mnist" / f).is_file() for f in MNIST_FILES)
    if not present:
        if env or os.environ.get("KMEANSLAB_REQUIRE_DATA"):
            pytest.fail(f"MNIST not found under {home}/mnist (KMEANSLAB_DATA={env!r})")
        pytest.skip("MNIST not available; set KMEANSLAB_DATA")
    return home


@pytest.fixture(scope="session")
def mnist_train(mnist_home):
    from kmeanslab.data import load_mnist

    return load_mnist("train", data_home=mnist_home, download=False)


@pytest.fixture(scope="session")
def mnist_test(mnist_home):
    from kmeanslab.data import load_mnist

    return load_mnist("test", data_home=mnist_home, download=False)


@pytest.fixture(scope="session")
def mnist_small(mnist_train):
    """A seeded 3,000-row subset of the training set (float32, labels int64)."""
    X, y = mnist_train
    idx = np.random.RandomState(0).choice(len(X), 3000, replace=False)
    return X[idx], y[idx]


class PausedCLI:
    """A ``kmeanslab`` process stopped at a named checkpoint, to be interrupted there.

    The process runs with SIGINT at its default (whatever the test runner inherited) in a
    session of its own, so that :meth:`interrupt` is what Ctrl-C on a terminal does: SIGINT
    to the whole process group, sweep workers included.
    """

    def __init__(self, argv, stage, tmp_path, timeout=300):
        import signal
        import subprocess
        import sys
        import time

        flag = tmp_path / f"paused-{stage.replace(':', '-')}"
        env = dict(os.environ, PYTHONUNBUFFERED="1", KMEANSLAB_TEST_PAUSE=stage,
                   KMEANSLAB_TEST_PAUSE_FILE=str(flag))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kmeanslab.cli", *map(str, argv)], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env=env, start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + timeout
        while not flag.exists() and self.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        if not flag.exists():
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError(f"never paused at {stage} (exit {self.proc.returncode}):\n{err}")

    def interrupt(self, timeout=120):
        """Ctrl-C; returns (exit code, stdout, stderr)."""
        import signal

        os.killpg(self.proc.pid, signal.SIGINT)
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err


@pytest.fixture
def paused_cli(tmp_path):
    """``paused_cli(argv, stage)``: see :class:`PausedCLI` and ``_io.checkpoint``."""
    started = []

    def start(argv, stage):
        started.append(PausedCLI(argv, stage, tmp_path))
        return started[-1]

    yield start
    for cli in started:
        if cli.proc.poll() is None:
            cli.proc.kill()
            cli.proc.communicate()


def need(module, reason=None):
    """``pytest.importorskip``, except in CI (KMEANSLAB_REQUIRE_DATA): there the test extra
    installs every package a test needs, so a missing one is a failure, never a skip."""
    import importlib

    if os.environ.get("KMEANSLAB_REQUIRE_DATA"):
        return importlib.import_module(module)
    return pytest.importorskip(module, reason=reason)
