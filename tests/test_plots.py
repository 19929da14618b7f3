import subprocess
import sys

import numpy as np
import pytest
from matplotlib import _pylab_helpers
from matplotlib.figure import Figure

from kmeanslab import plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def no_pyplot_figures():
    yield
    # Figures built on their own canvas never register with pyplot's manager.
    assert _pylab_helpers.Gcf.get_num_fig_managers() == 0


def assert_png(path, min_bytes=2000):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > min_bytes
    # nothing left behind by the atomic write
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


def image_axes(fig):
    return [ax for ax in fig.axes if ax.images]


@pytest.fixture
def centers():
    return np.random.default_rng(0).random((10, 784))


def test_plot_centroids_grid_with_titles(centers, tmp_path):
    titles = [f"{k} · 0.{k}7" for k in range(10)]
    path = tmp_path / "centroids.png"
    fig = plots.plot_centroids(centers, titles=titles, path=path)
    assert isinstance(fig, Figure)
    axes = image_axes(fig)
    assert len(axes) == len(fig.axes) == 10
    assert [ax.get_title() for ax in axes] == titles
    np.testing.assert_allclose(axes[3].images[0].get_array(), centers[3].reshape(28, 28))
    assert all(not ax.axison for ax in axes)
    assert_png(path)


@pytest.mark.parametrize("k", [1, 37])
def test_plot_centroids_any_k(k, tmp_path):
    c = np.random.default_rng(k).random((k, 64))
    fig = plots.plot_centroids(c, image_shape=(8, 8), path=tmp_path / "c.png")
    assert len(image_axes(fig)) == k
    # 37 centers: 10 per row, so 4 rows
    if k == 37:
        assert fig.axes[0].get_subplotspec().get_gridspec().get_geometry() == (4, 10)
    assert_png(tmp_path / "c.png", min_bytes=200)


def test_plot_centroids_titles_must_match(centers):
    with pytest.raises(ValueError, match="titles"):
        plots.plot_centroids(centers, titles=["a", "b"])
    with pytest.raises(ValueError, match="centers"):
        plots.plot_centroids(np.zeros(5))
    with pytest.raises(ValueError, match="ncols"):
        plots.plot_centroids(centers, ncols=0)


@pytest.mark.parametrize("shape", [None, (5, 5)])
def test_plot_centroids_heatmap_fallback(centers, shape):
    fig = plots.plot_centroids(centers[:, :30], image_shape=shape, titles=list("abcdefghij"))
    heat = image_axes(fig)
    assert len(heat) == 1  # plus the colorbar
    np.testing.assert_allclose(heat[0].images[0].get_array(), centers[:, :30])
    assert [t.get_text() for t in heat[0].get_yticklabels()] == list("abcdefghij")


def test_plot_loss_single_and_several_runs(tmp_path):
    fig = plots.plot_loss([10.0, 7.5, 7.0, 6.9], path=tmp_path / "loss.png")
    (ax,) = fig.axes
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3, 4])
    np.testing.assert_array_equal(line.get_ydata(), [10.0, 7.5, 7.0, 6.9])
    assert line.get_marker() == "o"
    assert all(float(t).is_integer() for t in ax.get_xticks())
    assert_png(tmp_path / "loss.png")

    runs = [[9.0, 8.0], [9.5, 7.0, 6.5], [8.0, 7.5]]
    fig = plots.plot_loss(runs, ylabel="SSE", title="n_init=3")
    lines = fig.axes[0].get_lines()
    assert len(lines) == 3
    # run 1 ends lowest: drawn thickest and named in the legend
    assert lines[1].get_linewidth() > lines[0].get_linewidth()
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["best (run 1)"]
    assert fig.axes[0].get_ylabel() == "SSE"
    with pytest.raises(ValueError, match="best"):
        plots.plot_loss(runs, best=3)
    with pytest.raises(ValueError, match="history"):
        plots.plot_loss([])


def test_plot_contingency_shows_the_matrix(tmp_path):
    matrix = np.array([[5, 0, 1], [0, 7, 2]])
    fig = plots.plot_contingency(matrix, class_names=["a", "b"], path=tmp_path / "m.png")
    (ax,) = image_axes(fig)
    assert len(fig.axes) == 2  # heatmap and colorbar
    np.testing.assert_array_equal(ax.images[0].get_array(), matrix)
    assert ax.get_xlabel() == "cluster" and ax.get_ylabel() == "class"
    assert sorted(t.get_text() for t in ax.texts) == sorted(str(v) for v in matrix.ravel())
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    assert_png(tmp_path / "m.png")


def test_plot_contingency_normalized_and_large():
    matrix = np.array([[3, 0, 0], [1, 0, 4]])
    fig = plots.plot_contingency(matrix, normalize="cluster")
    # columns as fractions of their cluster; the empty cluster shows zeros
    np.testing.assert_allclose(
        image_axes(fig)[0].images[0].get_array(), [[0.75, 0, 0], [0.25, 0, 1]]
    )
    fig = plots.plot_contingency(matrix, normalize="class")
    shown = image_axes(fig)[0].images[0].get_array()
    np.testing.assert_allclose(shown, [[1, 0, 0], [0.2, 0, 0.8]])
    big = np.random.default_rng(0).integers(0, 50, (10, 40))
    assert len(image_axes(plots.plot_contingency(big))[0].texts) == 0
    with pytest.raises(ValueError, match="class_names"):
        plots.plot_contingency(matrix, class_names=["a"])
    with pytest.raises(ValueError, match="normalize"):
        plots.plot_contingency(matrix, normalize="rows")


def test_plot_samples_rows_per_cluster(tmp_path):
    rng = np.random.default_rng(1)
    images = {0: rng.random((3, 784)), 4: rng.random((12, 28, 28)), 7: np.empty((0, 784))}
    fig = plots.plot_samples(images, path=tmp_path / "s.png", max_per_row=10)
    # 3 + 10 (capped) + 0 images; the empty cluster keeps a labelled row
    assert len(image_axes(fig)) == 13
    labels = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert labels == ["cluster 0", "cluster 4", "cluster 7"]
    assert_png(tmp_path / "s.png")
    fig = plots.plot_samples([rng.random((2, 16))], image_shape=(4, 4), row_titles=["3 · 0.91"])
    assert len(image_axes(fig)) == 2
    with pytest.raises(ValueError, match="row_titles"):
        plots.plot_samples(images, row_titles=["x"])
    with pytest.raises(ValueError, match="image_shape"):
        plots.plot_samples({0: rng.random((2, 10))})


def test_plot_curve_bands_and_marker(tmp_path):
    k = np.array([2, 4, 6, 8])
    seeds = np.array([[4.0, 3.0, 2.5, 2.4], [5.0, 3.2, 2.7, 2.2]])
    fig = plots.plot_curve(
        k, {"sse": seeds, "single": [1.0, 1.5, 2.0, 2.5]}, "k", "value",
        path=tmp_path / "curve.png", mark_x=4, title="elbow",
    )  # fmt: skip
    ax = fig.axes[0]
    lines = ax.get_lines()
    assert len(lines) == 3  # two series and the marker
    np.testing.assert_allclose(lines[0].get_ydata(), seeds.mean(axis=0))
    np.testing.assert_allclose(lines[1].get_ydata(), [1.0, 1.5, 2.0, 2.5])
    np.testing.assert_array_equal(lines[2].get_xdata(), [4, 4])
    assert len(ax.collections) == 1  # the min-max band of the 2-D series only
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["sse", "single", "k = 4"]
    assert fig.get_suptitle() == "elbow"
    assert_png(tmp_path / "curve.png")
    with pytest.raises(ValueError, match="single"):
        plots.plot_curve(k, {"single": [1.0, 2.0]}, "k", "v")
    with pytest.raises(ValueError, match="ys"):
        plots.plot_curve(k, {}, "k", "v")


def test_save_replaces_existing_file(tmp_path, centers):
    path = tmp_path / "sub" / "fig.png"
    plots.plot_loss([3.0, 2.0], path=path)
    first = path.read_bytes()
    plots.plot_centroids(centers, path=path)
    assert path.read_bytes() != first
    assert_png(path)


def test_module_does_not_load_pyplot():
    code = (
        "import sys, numpy as np, kmeanslab.plots as p;"
        "p.plot_loss([1.0, 0.5]);"
        "assert 'matplotlib.pyplot' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
