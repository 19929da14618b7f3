"""The compiled kernels (kmeanslab._core): CPU levels, threads, argument checks, and an
installed wheel outside the source tree."""

import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_blobs
from threadpoolctl import threadpool_limits

from kmeanslab import _core
from kmeanslab.cluster import KMeans, KMedians, SoftKMeans, _engine

LEVELS = _core.cpu_levels()
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def level():
    """Restores the level picked at import after a test that switches."""
    before = _core.cpu_level()
    yield
    _core.set_cpu_level(before)


def _fits(X):
    """Every kernel family on X: Lloyd (dense and CSR), Hamerly, Elkan (on grid data: its
    byte copy), k-means++ seeding, soft k-means, k-medians; and 40 centres (packed panels)."""
    out = {}
    for alg in ("lloyd", "hamerly", "elkan"):
        out[alg] = KMeans(9, n_init=1, random_state=0, algorithm=alg, tol=0).fit(X)
    out["csr"] = KMeans(9, n_init=1, random_state=0, tol=0).fit(sp.csr_matrix(X))
    out["soft"] = SoftKMeans(5, beta=0.5, n_init=1, random_state=0, max_iter=20).fit(X)
    out["kmedians"] = KMedians(5, n_init=1, random_state=0, max_iter=20).fit(X)
    out["many"] = KMeans(40, n_init=1, random_state=0, algorithm="lloyd", max_iter=10).fit(X)
    return out


def _grid_data(dtype, mostly_zero=False):
    """256 levels (Elkan reads a byte copy). mostly_zero: 64 features, each cluster's rows
    zero outside its own eighth of them (every eighth row full), so that the kernels'
    products through a row's non-zeros (read from X's copy of them) and their tiles both run."""
    d = 64 if mostly_zero else 24
    X, y = make_blobs(3000, n_features=d, centers=9, cluster_std=2.5, random_state=3)
    X = (X - X.min()) / (X.max() - X.min())
    if mostly_zero:
        support = np.random.RandomState(3).rand(9, d) < 0.12
        X = np.where(support[y] | (np.arange(len(X)) % 8 == 0)[:, None], X, 0)
    return (np.rint(X * 255) / 255).astype(dtype)


@pytest.mark.parametrize("mostly_zero", [False, True], ids=["full", "mostly-zero"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_levels_give_the_same_labels_and_threads_the_same_bits(level, dtype, mostly_zero):
    """At every level the CPU runs: 1 and 2 OpenMP threads give bit-identical fits; every
    level gives the labels of the others (centres may differ in the last bits)."""
    X = _grid_data(dtype, mostly_zero)
    assert (_engine.Data(X, np.ones(len(X), dtype)).nonzeros is not None) == mostly_zero
    per_level = {}
    for name in LEVELS:
        _core.set_cpu_level(name)
        assert _core.cpu_level() == name
        runs = []
        for threads in (1, 2):
            with threadpool_limits(limits=threads, user_api="openmp"):
                assert _core.max_threads() <= threads
                runs.append(_fits(X))
        for key, a in runs[0].items():
            b = runs[1][key]
            np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_, err_msg=f"{name} {key}")
            np.testing.assert_array_equal(a.labels_, b.labels_, err_msg=f"{name} {key}")
            assert a.inertia_ == b.inertia_, (name, key)
        per_level[name] = runs[0]
    first = per_level[LEVELS[0]]
    for name in LEVELS[1:]:
        for key, fit in per_level[name].items():
            np.testing.assert_array_equal(fit.labels_, first[key].labels_, err_msg=f"{name} {key}")
            assert fit.n_iter_ == first[key].n_iter_, (name, key)
            np.testing.assert_allclose(fit.cluster_centers_, first[key].cluster_centers_, rtol=1e-5, atol=1e-6)


def test_openmp_limit_reaches_the_kernels():
    with threadpool_limits(limits=1, user_api="openmp"):
        assert _core.max_threads() == 1


def _import_level(value):
    env = dict(os.environ, KMEANSLAB_CPU=value)
    return subprocess.run([sys.executable, "-c", "import kmeanslab._core as c; print(c.cpu_level())"],
                          env=env, capture_output=True, text=True, timeout=120)


def test_environment_variable_forces_a_level():
    for name in LEVELS:
        proc = _import_level(name)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == name


def test_a_level_the_cpu_lacks_is_refused(level):
    built = {"baseline", "avx2", "avx512"} if _machine() == "x86" else {"baseline"}
    missing = sorted(built - set(LEVELS))
    if not missing:
        pytest.skip("this CPU runs every level of the build")
    for name in missing:
        with pytest.raises(ValueError, match=f"this CPU cannot run the {name} kernels"):
            _core.set_cpu_level(name)
        proc = _import_level(name)
        assert proc.returncode != 0
        assert f"KMEANSLAB_CPU={name}: this CPU cannot run the {name} kernels" in proc.stderr
    with pytest.raises(ValueError, match="not a CPU level of this build"):
        _core.set_cpu_level("sse9")
    assert "not a CPU level" in _import_level("sse9").stderr


def _machine():
    import platform

    return "x86" if platform.machine().lower() in ("x86_64", "amd64") else platform.machine()


def test_arguments_are_checked_before_a_kernel_runs():
    X = np.random.RandomState(0).rand(50, 3)
    C = X[:4].copy()
    labels = np.zeros(50, dtype=np.int32)
    out = np.empty(50)
    with pytest.raises(TypeError, match="C must be a float64 array"):
        _core.exact_sq_dist(X, C.astype(np.float32), labels, out)
    with pytest.raises(ValueError, match="out has 49 entries along axis 0, expected 50"):
        _core.exact_sq_dist(X, C, labels, out[:49])
    with pytest.raises(ValueError, match="out must be C-contiguous"):
        _core.exact_sq_dist(X, C, labels, np.empty(100)[::2])
    with pytest.raises(ValueError, match=r"labels holds 4 at position 7, outside \[0, 4\)"):
        bad = labels.copy()
        bad[7] = 4
        _core.exact_sq_dist(X, C, bad, out)
    with pytest.raises(TypeError, match="X must be a float32 or float64 array"):
        _core.row_sq_norms(X.astype(np.int64), np.empty(50))
    with pytest.raises(TypeError, match="incompatible function arguments"):  # a read-only output
        ro = np.empty(50)
        ro.flags.writeable = False
        _core.exact_sq_dist(X, C, labels, ro)


@pytest.mark.slow
def test_copy_of_nonzeros_is_x_in_csr_and_checked():
    """X's copy of its non-zeros is scipy's CSR of X; offsets that are not X's counts are
    refused before anything is written out of place."""
    from kmeanslab.cluster._kernels import dense as dk

    rng = np.random.RandomState(0)
    X = np.where(rng.rand(300, 70) < 0.2, rng.rand(300, 70), 0).astype(np.float32)
    X[5] = 0  # an empty row
    ptr, idx, val = dk.copy_nonzeros(X, dk.count_nonzeros(X))
    ref = sp.csr_matrix(X)
    np.testing.assert_array_equal(ptr, ref.indptr)
    np.testing.assert_array_equal(idx, ref.indices)
    np.testing.assert_array_equal(val, ref.data)
    counts = dk.count_nonzeros(X)
    counts[7] -= 1
    counts[8] += 1
    with pytest.raises(ValueError, match="counts"):
        dk.copy_nonzeros(X, counts)
    bad = ptr.copy()
    bad[3] = bad[4] + 1
    labels, mind = np.empty(300, np.int32), np.empty(300, np.float32)
    C = X[:4].copy()
    with pytest.raises(ValueError, match="nz_ptr"):
        _core.lloyd_pass(X, np.ones(300), C, (C * C).sum(1), (X * X).sum(1), 1e-4, labels, mind,
                         np.zeros(1), np.zeros((1, 0, 0)), bad, idx, val)


def test_wheel_installs_and_fits_outside_the_source_tree(tmp_path):
    """`pip wheel .` builds the extension into the wheel; installed into a new venv (its
    dependencies read from this one's site-packages, nothing downloaded) it fits from a
    folder outside the checkout."""
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", ROOT, "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(wheels)], check=True, timeout=600, capture_output=True)
    (wheel,) = wheels.glob("kmeanslab-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        meta = z.read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert any(n.startswith("kmeanslab/_core") for n in names)
    runtime = [line for line in meta.splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert any("numpy" in line for line in runtime)  # the runtime requirements are where this looks
    assert not any("numba" in line.lower() for line in runtime)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    ours = next(p for p in sys.path if p.endswith("site-packages") and os.path.isdir(os.path.join(p, "numpy")))
    # This venv's packages as a plain path: its .pth files (the editable install) stay off.
    (tmp_path / "venv_deps.pth").write_text(ours + "\n")
    os.replace(tmp_path / "venv_deps.pth", os.path.join(site, "deps.pth"))
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index", "-q",
                    str(wheel)], check=True, timeout=300, capture_output=True)
    script = ("import kmeanslab, kmeanslab._core as c, numpy as np\n"
              "from kmeanslab import KMeans\n"
              "from sklearn.datasets import make_blobs\n"
              "X, _ = make_blobs(2000, n_features=8, centers=5, random_state=0)\n"
              "km = KMeans(5, n_init=2, random_state=0).fit(X.astype(np.float32))\n"
              "print(kmeanslab.__file__, c.__file__, c.cpu_level(), km.inertia_, len(set(km.labels_)))\n")
    run = subprocess.run([str(py), "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert run.returncode == 0, run.stderr
    mod, core, cpu, inertia, n_labels = run.stdout.split()
    assert mod.startswith(str(venv)) and core.startswith(str(venv))
    assert cpu in LEVELS and int(n_labels) == 5
    X, _ = make_blobs(2000, n_features=8, centers=5, random_state=0)
    assert float(inertia) == pytest.approx(KMeans(5, n_init=2, random_state=0).fit(X.astype(np.float32)).inertia_)
