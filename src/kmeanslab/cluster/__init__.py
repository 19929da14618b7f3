"""The estimators: KMeans and the k-means family, with their seeding functions."""

from ._kmeans import KMeans, k_means
from .init import kmeans_plusplus

__all__ = ["KMeans", "k_means", "kmeans_plusplus"]
