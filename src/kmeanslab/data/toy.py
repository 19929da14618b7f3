"""scikit-learn's small bundled sets, as float32 features with int64 labels."""

import numpy as np

from .idx import SPLITS


def load_digits(split="all", test_size=0.2, random_state=0):
    """Load scikit-learn's 8x8 digits as float32 in [0, 1] with int64 labels.

    "train" and "test" are the two sides of a stratified split seeded by
    ``random_state``; "all" is every row in the original order.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    X = (bunch.data / 16.0).astype(np.float32)
    y = bunch.target.astype(np.int64)
    if split == "all":
        return X, y
    from sklearn.model_selection import train_test_split

    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=test_size, random_state=random_state, stratify=y)
    return (X_tr, y_tr) if split == "train" else (X_te, y_te)


def load_iris():
    """scikit-learn's iris: 150 rows of 4 measurements (float32), labels 0-2."""
    from sklearn.datasets import load_iris as sk_load_iris

    bunch = sk_load_iris()
    return bunch.data.astype(np.float32), bunch.target.astype(np.int64)
