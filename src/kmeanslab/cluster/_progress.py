"""What ``verbose > 0`` prints: scikit-learn's lines, on stdout.

This is the one place the library prints (as scikit-learn, which prints these lines
from ``sklearn.cluster.KMeans`` / ``MiniBatchKMeans``), so that a user swapping the
import sees the same progress. Iterations are numbered from 0, mini-batch steps
from 1, as there.
"""

import numpy as np


def unscale(value, e, degree=2):
    """A quantity of degree ``degree`` in X computed on X * 2**e, in the caller's units."""
    if not e:
        return float(value)
    with np.errstate(over="ignore"):
        return float(np.ldexp(np.float64(value), -degree * e))


class Progress:
    """Prints the lines of scikit-learn's Lloyd / Elkan loop when ``verbose`` > 0.

    ``period``: scikit-learn's Lloyd ends its iteration line with a period, its Elkan
    does not. Values are computed on X * 2**``scale_exp`` (see ``_BaseKMeans``) and
    printed in X's units; ``degree``: how the objective scales with X (2 for squared
    distances); centre shifts and the tolerance are squared distances.
    """

    def __init__(self, verbose, scale_exp=0, degree=2, period="."):
        self.verbose, self.e, self.degree, self.period = verbose, scale_exp, degree, period

    def say(self, line):
        if self.verbose:
            print(line)

    def iteration(self, it, inertia, word="Iteration"):
        if self.verbose:
            print(f"{word} {it}, inertia {unscale(inertia, self.e, self.degree)}{self.period}")

    def strict(self, it):
        self.say(f"Converged at iteration {it}: strict convergence.")

    def within_tol(self, it, shift, tol):
        if self.verbose:
            tol = unscale(tol, self.e) if tol else 0  # scikit-learn's tolerance 0 is an int
            print(f"Converged at iteration {it}: center shift {unscale(shift, self.e)} "
                  f"within tolerance {tol}.")
