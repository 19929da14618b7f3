"""Where other tools keep MNIST, looked in before anything is downloaded.

Each place is (who keeps it, the path, its reader). Environment variables are honoured
as those tools do: ``KERAS_HOME``, ``TORCH_HOME``, ``SCIKIT_LEARN_DATA``, ``HF_HOME`` /
``HF_HUB_CACHE``. torchvision has no default root; the roots its tutorials use
(``./data``, ``~/data``, ``$TORCH_HOME/datasets``) are tried.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import formats


def _env_path(name, default):
    value = os.environ.get(name)
    return Path(value).expanduser() if value else default


def places():
    """``[(who, path)]`` in the order they are tried (existing or not)."""
    home = Path.home()
    keras = _env_path("KERAS_HOME", home / ".keras")
    torch = _env_path("TORCH_HOME", home / ".cache" / "torch")
    sklearn = _env_path("SCIKIT_LEARN_DATA", home / "scikit_learn_data")
    hf_home = _env_path("HF_HOME", home / ".cache" / "huggingface")
    hub = _env_path("HF_HUB_CACHE", hf_home / "hub")
    return [
        ("Keras", keras / "datasets" / "mnist.npz"),
        ("torchvision", Path("data") / "MNIST" / "raw"),
        ("torchvision", home / "data" / "MNIST" / "raw"),
        ("torchvision", torch / "datasets" / "MNIST" / "raw"),
        ("scikit-learn OpenML", sklearn / "openml" / "openml.org" / "data" / "v1" / "download" / "52667"),
        ("Hugging Face", hub / "datasets--ylecun--mnist"),
        ("Hugging Face", hub / "datasets--mnist"),
    ]


def _openml_file(folder):
    """The cached ARFF: ``52667/mnist_784.arff.gz`` (scikit-learn >= 1.3) or ``52667.gz``."""
    if folder.is_dir():
        found = sorted(folder.glob("*.arff*"))
        return found[0] if found else None
    legacy = folder.with_name(folder.name + ".gz")
    return legacy if legacy.is_file() else None


def _hf_snapshot(repo):
    """The newest snapshot folder of a Hugging Face dataset repo that holds parquet files."""
    snaps = sorted((repo / "snapshots").glob("*"), key=lambda p: p.stat().st_mtime, reverse=True) \
        if (repo / "snapshots").is_dir() else []
    for snap in snaps:
        if any(snap.glob("**/*.parquet")):
            return snap
    return None


def find_mnist():
    """The first place that holds MNIST: ``(who, path, read)`` with ``read()`` returning
    (X_train, y_train, X_test, y_test, shape); or None."""
    for who, path in places():
        if who == "Keras" and path.is_file():
            return who, path, lambda p=path: formats.read_keras_npz(p)
        if who == "torchvision":
            raw = formats.torchvision_raw(path)
            if raw is not None:
                return who, raw, lambda p=raw: _idx_both(p)
        if who.startswith("scikit-learn"):
            arff = _openml_file(path)
            if arff is not None:
                return who, arff, lambda p=arff: formats.read_openml_arff(p)
        if who == "Hugging Face":
            snap = _hf_snapshot(path)
            if snap is not None:
                return who, snap, lambda p=snap: _parquet_both(p)
    return None


def _idx_both(folder):
    from .idx import load_idx_folder

    X_tr, y_tr, shape = load_idx_folder(folder, "train")
    X_te, y_te, _ = load_idx_folder(folder, "test")
    return X_tr, y_tr, X_te, y_te, shape


def _parquet_both(folder):
    parts = formats.parquet_parts(folder)
    X_tr, y_tr, shape, _ = formats.read_parquet(parts["train"])
    X_te, y_te, _, _ = formats.read_parquet(parts["test"]) if parts["test"] else (None, None, None, None)
    return X_tr, y_tr, X_te, y_te, shape
