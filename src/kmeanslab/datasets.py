"""Former name of :mod:`kmeanslab.data`, kept so that code written against kmeanslab 0.1
(``from kmeanslab.datasets import load_mnist``) runs unchanged."""

from .data import *  # noqa: F401,F403
from .data import __all__  # noqa: F401
