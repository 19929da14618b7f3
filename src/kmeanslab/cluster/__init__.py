"""The estimators: KMeans and the k-means family, with their seeding functions."""

from ._kmeans import KMeans, k_means
from ._kmedians import KMedians
from ._minibatch import MiniBatchKMeans
from ._soft import SoftKMeans
from ._spherical import SphericalKMeans
from ._seeding import kmeans_plusplus
from .registry import ESTIMATORS, make_estimator

__all__ = ["ESTIMATORS", "KMeans", "KMedians", "MiniBatchKMeans", "SoftKMeans", "SphericalKMeans",
           "k_means", "kmeans_plusplus", "make_estimator"]
