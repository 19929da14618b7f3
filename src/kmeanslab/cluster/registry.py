"""The estimators by name, for the command line and experiment configs."""

from ._kmeans import KMeans
from ._kmedians import KMedians
from ._minibatch import MiniBatchKMeans
from ._soft import SoftKMeans
from ._spherical import SphericalKMeans

ESTIMATORS = {
    "kmeans": KMeans,
    "minibatch": MiniBatchKMeans,
    "soft": SoftKMeans,
    "kmedians": KMedians,
    "spherical": SphericalKMeans,
}

# Options that only some algorithms take (``--beta``, ``--batch-size``): passed where
# the estimator has them, silently left out where it has not; None means "not given".
OPTIONAL_PARAMS = ("beta", "batch_size")


def make_estimator(name, **params):
    """The estimator registered as ``name``, built with ``params``.

    Parameters in :data:`OPTIONAL_PARAMS` are dropped where the estimator does not
    take them or when they are None (the estimator's default then applies); any
    other parameter it does not take is an error.

    Raises
    ------
    ValueError
        For an unknown algorithm name (the message lists the choices) or a parameter
        the estimator does not take.
    """
    if not isinstance(name, str) or name.strip().lower() not in ESTIMATORS:
        raise ValueError(f"unknown algorithm {name!r}; choose one of: {', '.join(ESTIMATORS)}")
    cls = ESTIMATORS[name.strip().lower()]
    accepted = cls._get_param_names()
    kept = {}
    for key, value in params.items():
        if key in OPTIONAL_PARAMS and (value is None or key not in accepted):
            continue
        if key not in accepted:
            raise ValueError(f"algorithm {name!r} ({cls.__name__}) has no parameter {key!r}; "
                             f"it takes: {', '.join(accepted)}")
        kept[key] = value
    return cls(**kept)
