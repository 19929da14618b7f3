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
    from kmeanslab.datasets import load_mnist

    return load_mnist("train", data_home=mnist_home, download=False)


@pytest.fixture(scope="session")
def mnist_test(mnist_home):
    from kmeanslab.datasets import load_mnist

    return load_mnist("test", data_home=mnist_home, download=False)


@pytest.fixture(scope="session")
def mnist_small(mnist_train):
    """A seeded 3,000-row subset of the training set (float32, labels int64)."""
    X, y = mnist_train
    idx = np.random.RandomState(0).choice(len(X), 3000, replace=False)
    return X[idx], y[idx]
