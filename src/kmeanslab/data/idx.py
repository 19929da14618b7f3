"""IDX files, the format of MNIST and its family (Fashion-MNIST, KMNIST, EMNIST): parsing,
checksums, and folders holding a train and a test set.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path

import numpy as np

from .homes import DataError, DataNotFoundError

SPLITS = ("train", "test", "all")

# IDX type code -> big-endian numpy dtype, per the format's specification.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}


def read_bytes(path: Path) -> bytes:
    """Return the file's content, gunzipped when it starts with the gzip magic."""
    raw = path.read_bytes()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, zlib.error, gzip.BadGzipFile, OSError) as exc:
        raise DataError(
            f"{path}: truncated or corrupted gzip file ({exc}); delete it and run again "
            "to re-download, or replace it with a good copy"
        ) from None


def _parse_idx(data: bytes, path) -> np.ndarray:
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise DataError(
            f"{path}: not an IDX file (expected magic 00 00 <type> <ndim> with type one of "
            f"{', '.join(f'0x{c:02X}' for c in _IDX_DTYPES)}, found {data[:4].hex(' ') or 'an empty file'}); "
            "delete it and run again to re-download, or replace it with a good copy"
        )
    dtype, ndim = _IDX_DTYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise DataError(f"{path}: IDX header declares {ndim} dimensions but the file "
                        f"holds only {len(data)} bytes; the file is damaged, delete it")
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise DataError(
            f"{path}: IDX dimensions {dims} need {expected} payload bytes, found "
            f"{len(data) - header}; the file is truncated or damaged, delete it and run "
            "again to re-download"
        )
    arr = np.frombuffer(data, dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=False)


def read_idx(path) -> np.ndarray:
    """Read one IDX file (gzipped or not) into an array with its IDX shape.

    Parameters
    ----------
    path : str or Path
        The file. Compression is detected by its magic bytes, not its name.

    Returns
    -------
    ndarray
        Native byte order; ``uint8`` for MNIST images and labels.

    Raises
    ------
    DataError
        Truncated gzip, wrong magic number, or payload length not matching the dims.
    """
    path = Path(path)
    arr = _parse_idx(read_bytes(path), path)
    # A view on bytes is read-only; callers expect an ordinary, writable array.
    return arr if arr.flags.writeable else arr.copy()


def images_labels(img_path: Path, lbl_path: Path, sha256: dict | None = None):
    """Read an image file and a label file, check them, return (X, y, (H, W)).

    ``sha256`` maps file stems to the checksums to verify; files not in it are trusted.
    """
    arrays = []
    for path in (img_path, lbl_path):
        data = read_bytes(path)
        if sha256 and stem(path.name) in sha256:
            check_sha(data, sha256[stem(path.name)], path)
        arrays.append(_parse_idx(data, path))
    images, labels = arrays
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataError(f"{img_path}: expected unsigned-byte images of shape (n, H, W), "
                        f"found {images.dtype} with shape {images.shape}")
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise DataError(f"{lbl_path}: expected a 1-D integer label file, found "
                        f"{labels.dtype} with shape {labels.shape}")
    if len(images) != len(labels):
        raise DataError(
            f"{img_path} holds {len(images)} images but {lbl_path} holds {len(labels)} "
            "labels; one of them is damaged or from another set, delete both and run again"
        )
    n, h, w = images.shape
    X = images.reshape(n, h * w).astype(np.float32)
    X /= 255.0
    return X, labels.astype(np.int64), (h, w)


def stem(filename: str) -> str:
    return filename[:-3] if filename.endswith(".gz") else filename


def check_sha(data: bytes, expected: str, where) -> None:
    found = hashlib.sha256(data).hexdigest()
    if found != expected:
        raise DataError(f"{where}: SHA-256 of the content is {found}, expected {expected}; "
                        "the file is damaged or not the expected one, delete it")


# -- folders of IDX files ----------------------------------------------------------------
_IDX_PATTERNS = {
    "train": (("*train-images*idx3*",), ("*train-labels*idx1*",)),
    "test": (("*t10k-images*idx3*", "*test-images*idx3*"),
             ("*t10k-labels*idx1*", "*test-labels*idx1*")),
}


def _glob_one(folder: Path, patterns, what: str) -> Path:
    found = {}
    for pattern in patterns:
        for p in folder.glob(pattern):
            if p.is_file() and not p.name.startswith(".") and not p.name.endswith(".part"):
                # A file and its gzipped twin are the same data; keep one of them.
                found.setdefault(stem(p.name), p)
    if not found:
        raise DataNotFoundError(
            f"{folder}: no {what} file (looked for {' or '.join(patterns)}, "
            "with or without .gz)"
        )
    if len(found) > 1:
        raise ValueError(f"{folder}: several {what} files match: "
                         f"{', '.join(sorted(found))}; keep one set per folder")
    return next(iter(found.values()))


def load_idx_folder(folder, split):
    folder = Path(folder).expanduser()
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if not folder.is_dir():
        raise DataNotFoundError(f"IDX folder {folder} does not exist or is not a folder")
    parts = ("train", "test") if split == "all" else (split,)
    out = []
    for part in parts:
        img_pats, lbl_pats = _IDX_PATTERNS[part]
        out.append(images_labels(_glob_one(folder, img_pats, f"{part} images"),
                                  _glob_one(folder, lbl_pats, f"{part} labels")))
    if len(out) == 1:
        return out[0]
    (X1, y1, s1), (X2, y2, s2) = out
    if s1 != s2:
        raise DataError(f"{folder}: train images are {s1} but test images are {s2}")
    return np.concatenate([X1, X2]), np.concatenate([y1, y2]), s1


def load_idx(folder, split="train"):
    """Load an MNIST-like set (Fashion-MNIST, KMNIST, EMNIST ...) from a folder of IDX files.

    Files are matched by pattern (``*train-images*idx3*``, ``*t10k-images*idx3*`` or
    ``*test-images*idx3*``, and the ``labels``/``idx1`` twins), gzipped or not. EMNIST
    stores its images transposed; transpose them yourself before displaying.

    Returns
    -------
    X : ndarray of shape (n, H*W), float32 in [0, 1]
    y : ndarray of shape (n,), int64
    """
    X, y, _ = load_idx_folder(folder, split)
    return X, y
