"""kmeanslab: fast, correct k-means for MNIST and friends.

Heavy submodules (scikit-learn, the compiled kernels, matplotlib) load on first use, so that
``import kmeanslab`` stays cheap.
"""

from importlib import import_module

__version__ = "0.1.0"

_LAZY = {
    "KMeans": "kmeanslab.cluster",
    "MiniBatchKMeans": "kmeanslab.cluster",
    "SoftKMeans": "kmeanslab.cluster",
    "KMedians": "kmeanslab.cluster",
    "SphericalKMeans": "kmeanslab.cluster",
    "k_means": "kmeanslab.cluster",
    "kmeans_plusplus": "kmeanslab.cluster",
    "load_mnist": "kmeanslab.data",
    "load_idx": "kmeanslab.data",
    "load_digits": "kmeanslab.data",
    "load_array": "kmeanslab.data",
    "load_dataset": "kmeanslab.data",
}
_SUBMODULES = {"cluster", "data", "datasets", "metrics", "plots", "preprocessing", "embed", "experiment", "cli"}

__all__ = sorted(_LAZY) + sorted(_SUBMODULES)


def __getattr__(name):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
    elif name in _SUBMODULES:
        value = import_module(f"kmeanslab.{name}")
    else:
        raise AttributeError(f"module 'kmeanslab' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return __all__
