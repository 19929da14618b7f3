"""Embedding front-end: reduce the features (PCA, UMAP) before clustering.

An embedding is a scikit-learn transformer fitted on the training split only; new data
(the test split) goes through the same fitted transform. :func:`make_front` chains it
after the preprocessing into a :class:`sklearn.pipeline.Pipeline`, and
:func:`make_pipeline` adds the estimator as the last step.

Spec strings, as written after ``--embed``: ``"none"``, ``"pca:N"`` or ``"umap:N"``
(N output dimensions). UMAP comes from the optional ``umap-learn`` package
(``pip install 'kmeanslab[umap]'``) and is imported only when asked for.
"""

import re
import warnings

from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import Pipeline

__all__ = ["EMBEDDINGS", "parse_embed", "check_available", "make_embedding", "make_front", "make_pipeline", "UMAPEmbedding"]

EMBEDDINGS = ("pca", "umap")
_SPEC = re.compile(r"^\s*([a-z]+)\s*:\s*(\d+)\s*$")
INSTALL_HINT = "pip install 'kmeanslab[umap]' (or: pip install umap-learn)"


def parse_embed(spec):
    """``(name, n_components)`` for a spec string, or None for no embedding.

    Raises ValueError naming ``embed`` for anything else.
    """
    if spec is None:
        return None
    if not isinstance(spec, str):
        raise ValueError(f"embed must be a string like 'pca:50' or 'umap:10', got {spec!r}")
    if spec.strip().lower() in ("", "none"):
        return None
    m = _SPEC.match(spec.lower())
    if not m or m.group(1) not in EMBEDDINGS or int(m.group(2)) < 1:
        raise ValueError(f"embed must be 'none', 'pca:N' or 'umap:N' with N >= 1, got {spec!r}")
    return m.group(1), int(m.group(2))


def _import_umap():
    try:
        import umap  # noqa: F401  (numba-compiles on first import: slow, so only on demand)
    except ImportError as exc:
        raise ImportError(f"--embed umap needs the optional package umap-learn ({exc}); "
                          f"install it with: {INSTALL_HINT}") from None
    return umap


class UMAPEmbedding(TransformerMixin, BaseEstimator):
    """umap-learn's UMAP with settings meant for clustering rather than for pictures.

    ``min_dist=0`` packs each manifold piece tightly, which is what k-means wants (the
    umap-learn docs' "Using UMAP for clustering"); ``random_state`` makes it
    reproducible (umap then runs its optimisation on one thread). Inputs wider than
    ``pca`` features are first reduced to their ``pca`` principal components (fitted on
    the same rows): the neighbour search is then several times faster, and on MNIST the
    clusters come out the same.
    """

    def __init__(self, n_components=10, n_neighbors=15, min_dist=0.0, metric="euclidean",
                 pca=50, random_state=None):
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.metric = metric
        self.pca = pca
        self.random_state = random_state

    def _umap(self):
        umap = _import_umap()
        return umap.UMAP(n_components=self.n_components, n_neighbors=self.n_neighbors,
                         min_dist=self.min_dist, metric=self.metric,
                         random_state=self.random_state)

    def _reduce(self, X):
        return X if self.pca_ is None else self.pca_.transform(X)

    def fit_transform(self, X, y=None):
        self.umap_ = self._umap()
        self.pca_ = None
        if self.pca and X.shape[1] > self.pca:
            from sklearn.decomposition import PCA

            self.pca_ = PCA(n_components=self.pca, random_state=self.random_state).fit(X)
        self.n_features_in_ = X.shape[1]
        X = self._reduce(X)
        with warnings.catch_warnings():
            # "n_jobs overridden by setting random_state" and numba's notes: not the user's concern.
            warnings.simplefilter("ignore")
            embedding = self.umap_.fit_transform(X)
        return embedding.astype("float32", copy=False)

    def fit(self, X, y=None):
        self.fit_transform(X)
        return self

    def transform(self, X):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self.umap_.transform(self._reduce(X)).astype("float32", copy=False)


def check_available(spec):
    """Raise ImportError (with the install command) if ``spec`` needs a package that is missing."""
    parsed = parse_embed(spec)
    if parsed is not None and parsed[0] == "umap":
        _import_umap()


def make_embedding(spec, random_state=None):
    """A fresh, unfitted transformer for ``spec``, or None when ``spec`` means none."""
    parsed = parse_embed(spec)
    if parsed is None:
        return None
    name, n = parsed
    if name == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=n, random_state=random_state)
    _import_umap()  # fail now, with the install hint, not at fit time
    return UMAPEmbedding(n_components=n, random_state=random_state)


def make_front(preprocessor, spec=None, random_state=None):
    """Pipeline of the feature steps: ``preprocess`` then, if any, ``embed``."""
    steps = [("preprocess", preprocessor)]
    embedding = make_embedding(spec, random_state)
    if embedding is not None:
        steps.append(("embed", embedding))
    return Pipeline(steps)


def make_pipeline(front, estimator):
    """Preprocess -> embed -> estimator as one Pipeline (steps of ``front`` are shared, not copied)."""
    return Pipeline(list(front.steps) + [("cluster", estimator)])


