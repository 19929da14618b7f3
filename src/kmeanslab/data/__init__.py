"""The data layer: a dataset spec (``mnist``, ``mnist:test``, ``digits``, ``iris``, a folder
of IDX files, ``.npy`` / ``.npz`` / ``.csv`` / ``.parquet`` / ``.zarr``) in, a :class:`Dataset` out.

MNIST is found in the data homes (``data_home``, ``$KMEANSLAB_DATA``, the user cache), in
the copies Keras, torchvision, scikit-learn and Hugging Face keep, or downloaded once;
large ``.npy`` files and ``.zarr`` stores open lazily, as dask arrays of row blocks (see
:func:`load_dataset` for the one rule).
"""

from .arrays import load_array
from .dataset import LAZY_BYTES, NAMES, SPLITS, Dataset, load_dataset, parse_spec, source_stamp
from .tables import LABEL_NAMES, looks_like_labels, parse_columns, split_test
from .homes import DataError, DataNotFoundError, candidate_homes, get_data_home
from .idx import load_idx, read_idx
from .lazy import open_array, open_npy, open_zarr, zarr_labels
from .mnist import MNIST_FILES, MNIST_MIRRORS, MNIST_SHA256, load_mnist
from .toy import load_digits, load_iris

__all__ = [
    "DataError", "DataNotFoundError", "Dataset", "LABEL_NAMES", "LAZY_BYTES", "MNIST_FILES", "MNIST_MIRRORS",
    "MNIST_SHA256", "NAMES", "SPLITS", "candidate_homes", "get_data_home", "load_array",
    "load_dataset", "load_digits", "load_idx", "load_iris", "load_mnist", "open_array",
    "open_npy", "open_zarr", "parse_columns", "parse_spec", "read_idx", "source_stamp", "split_test", "zarr_labels",
    "looks_like_labels",
]
