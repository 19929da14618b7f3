"""MNIST: the four canonical files, found in the data homes or downloaded once (checksums
verified, written atomically)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .homes import DataNotFoundError, candidate_homes, download_dir
from .idx import SPLITS, check_sha, images_labels, read_bytes, stem

logger = logging.getLogger(__name__)

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
# Of the decompressed bytes, so a mirror that recompresses the same data still passes.
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
_CHUNK = 1 << 16


def _download(filename: str, dest_dir: Path, mirrors, progress=None, timeout=30) -> Path:
    """Fetch ``filename`` from the first mirror that serves it with the right checksum.

    The bytes go to a temporary file beside the destination, which is renamed onto the
    final name only once its decompressed SHA-256 matches, so an interrupted or bad
    download never leaves a file that a later run would trust.
    """
    from http.client import HTTPException  # network modules load only when needed

    expected = MNIST_SHA256[stem(filename)]
    final = dest_dir / filename
    errors = []
    for base in mirrors:
        url = base if base.endswith("/") else base + "/"
        url += filename
        logger.info("downloading %s", url)
        try:
            _fetch(url, final, expected, progress, timeout)
        except (OSError, HTTPException, ValueError) as exc:
            logger.warning("download of %s failed: %s", url, exc)
            errors.append(f"{url}: {type(exc).__name__}: {exc}")
            continue
        logger.info("saved %s", final)
        return final
    exc = DataNotFoundError(
        f"could not download {filename}; every mirror failed:\n  " + "\n  ".join(errors)
        + f"\nCopy the file into {dest_dir} by hand, or point KMEANSLAB_DATA at a folder "
        "holding mnist/ with the four MNIST files."
    )
    exc.reason = f"every mirror failed for {filename}: " + "; ".join(errors)
    raise exc


def _fetch(url: str, final: Path, expected_sha: str, progress, timeout) -> None:
    import urllib.request

    from .._io import atomic_open

    def verify(tmp):
        check_sha(read_bytes(tmp), expected_sha, url)

    # Also on KeyboardInterrupt: a half-written .part never outlives the attempt.
    with atomic_open(final, check=verify, suffix=".part") as out:
        request = urllib.request.Request(url, headers={"User-Agent": "kmeanslab"})
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            done = 0
            if progress is not None:
                progress(final.name, 0, total)
            while chunk := resp.read(_CHUNK):
                out.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(final.name, done, total)
        if total is not None and done != total:
            raise OSError(f"connection closed after {done} of {total} bytes")


def _find(filename: str, homes) -> Path | None:
    for home in homes:
        for name in (filename, stem(filename)):
            path = home / "mnist" / name
            if path.is_file():
                return path
    return None


def missing_message(homes, download_error=None):
    """One line: MNIST was not found, where it was looked for, and how to provide it."""
    from .caches import places
    from .homes import user_cache

    looked = [str(h / "mnist") for h in homes] + [f"{p} ({who})" for who, p in places()]
    why = f"; downloading failed ({download_error})" if download_error else ""
    return (f"MNIST not found{why}. Looked in: {', '.join(looked)}. Provide it with --data-home DIR "
            "(data_home=DIR) or KMEANSLAB_DATA=DIR, a folder holding mnist/ with the four IDX files "
            f"(train-images-idx3-ubyte.gz ...), or copy those files into {user_cache() / 'mnist'}, "
            "or pass a file or folder as the dataset (Keras mnist.npz, torchvision MNIST/raw, parquet)"
            + ("" if download_error else "; or allow the download (drop --no-download)"))


def _from_homes(part, homes, verify):
    paths, to_verify = [], {}
    for filename in MNIST_FILES[part]:
        path = _find(filename, homes)
        if path is None:
            return None
        if verify:
            to_verify[stem(filename)] = MNIST_SHA256[stem(filename)]
        paths.append(path)
    X, y, _ = images_labels(*paths, sha256=to_verify)
    return X, y


def load_mnist_parts(parts, data_home=None, download=True, *, mirrors=None, progress=None,
                     timeout=30, verify=False):
    """``({part: (X, y)}, note)``: MNIST from the data homes, else from another tool's
    cache (Keras, torchvision, scikit-learn, Hugging Face; the note says which), else
    downloaded into the user cache. Raises DataNotFoundError saying where it looked."""
    homes = candidate_homes(data_home)
    found = {part: _from_homes(part, homes, verify) for part in parts}
    if all(v is not None for v in found.values()):
        return found, None
    from .caches import find_mnist

    elsewhere = find_mnist()
    if elsewhere is not None:
        who, path, read = elsewhere
        X_tr, y_tr, X_te, y_te, _ = read()
        both = {"train": (X_tr, y_tr), "test": (X_te, y_te)}
        if any(both[p][0] is None for p in parts):
            raise DataNotFoundError(f"MNIST in {who}'s cache at {path} has no test part")
        return {p: both[p] for p in parts}, f"MNIST read from {who}'s copy at {path}"
    if not download:
        raise DataNotFoundError(missing_message(homes))
    mirrors = MNIST_MIRRORS if mirrors is None else tuple(mirrors)
    for part in parts:
        if found[part] is not None:
            continue
        paths = []
        for filename in MNIST_FILES[part]:
            path = _find(filename, homes)
            if path is None:
                try:
                    path = _download(filename, download_dir(data_home, "mnist"), mirrors, progress, timeout)
                except DataNotFoundError as exc:
                    raise DataNotFoundError(missing_message(homes, exc.reason)) from exc
            paths.append(path)
        X, y, _ = images_labels(*paths, sha256={})
        found[part] = (X, y)
    return found, None


def load_mnist(split="train", data_home=None, download=True, *, mirrors=None,
               progress=None, timeout=30, verify=False):
    """Load MNIST from the local copy, downloading the missing files first if allowed.

    Looked for, in order: ``data_home/mnist``, ``$KMEANSLAB_DATA/mnist``, the user
    cache, then the copies other tools keep (Keras's ``~/.keras/datasets/mnist.npz``,
    a torchvision ``MNIST/raw`` folder, scikit-learn's OpenML cache, Hugging Face's
    hub cache; see :mod:`kmeanslab.data.caches`); downloaded only when none has it.

    Parameters
    ----------
    split : {"train", "test", "all"}
        "all" is the 60,000 training rows followed by the 10,000 test rows.
    data_home : str or Path, optional
        Folder holding ``mnist/``; searched first, and where downloads go.
    download : bool
        Fetch missing files from ``mirrors`` (checksums are verified after download).
    mirrors : sequence of str, optional
        Base URLs tried in order; default :data:`MNIST_MIRRORS`.
    progress : callable, optional
        ``progress(filename, done_bytes, total_bytes_or_None)``, called while downloading.
    timeout : float
        Socket timeout in seconds for each download attempt.
    verify : bool
        Also check the SHA-256 of files already present (reads them once more).

    Returns
    -------
    X : ndarray of shape (n, 784), float32 in [0, 1], C-contiguous
    y : ndarray of shape (n,), int64
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    parts = ("train", "test") if split == "all" else (split,)
    found, note = load_mnist_parts(parts, data_home, download, mirrors=mirrors, progress=progress,
                                   timeout=timeout, verify=verify)
    if note:
        logger.info(note)
    if len(parts) == 1:
        return found[parts[0]]
    return np.concatenate([found[p][0] for p in parts]), np.concatenate([found[p][1] for p in parts])
