"""examples/mnist-kmeans.ipynb runs top to bottom in a Jupyter kernel of this venv's Python,
and its figures and the run's result display inline (pyplot is never imported)."""

import json
import sys
from pathlib import Path

import pytest

from conftest import need

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "mnist-kmeans.ipynb"


def _kernel_here(tmp_path, monkeypatch):
    """A kernelspec whose interpreter is this test's Python (the venv's), whatever else is
    installed on the machine."""
    spec = tmp_path / "jupyter" / "kernels" / "kmeanslab-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "kmeanslab test", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return "kmeanslab-test"


@pytest.mark.slow
def test_notebook_runs_end_to_end(tmp_path, monkeypatch, mnist_home):
    nbformat = need("nbformat")
    nbclient = need("nbclient")
    need("ipykernel")
    monkeypatch.setenv("KMEANSLAB_DATA", str(mnist_home))
    monkeypatch.setenv("MPLBACKEND", "agg")  # no pyplot backend involved: our figures show themselves
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.executable); print('matplotlib.pyplot' in sys.modules)"))
    client = nbclient.NotebookClient(nb, kernel_name=_kernel_here(tmp_path, monkeypatch), timeout=300,
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError on any error
    code = [c for c in nb.cells if c.cell_type == "code"]
    for cell in code:
        assert not [o for o in cell.outputs if o.output_type == "error"], cell.source

    def shown(fragment, mime):
        cell = next(c for c in code if fragment in c.source)
        return [o["data"][mime] for o in cell.outputs if o.output_type == "execute_result" and mime in o["data"]]

    for fragment in ("plot_centroids", "plot_contingency", "plot_loss", "plot_curve"):
        assert shown(fragment, "image/png"), f"{fragment} did not display inline"
    html = shown("result = run(", "text/html")
    assert html and "data-key=\"purity\"" in html[0] and "<img" in html[0]
    accuracy = float(shown("accuracy_majority\"]", "text/plain")[0])
    assert 0.4 < accuracy < 1
    evaluated = next(c for c in code if "metrics.evaluate" in c.source).outputs[0]["text"]
    assert "accuracy_majority  train 0." in evaluated and "test 0." in evaluated
    executable, pyplot = code[-1].outputs[0]["text"].split()
    assert Path(executable).resolve() == Path(sys.executable).resolve()
    assert pyplot == "False"
