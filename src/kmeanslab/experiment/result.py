"""What :func:`kmeanslab.experiment.run` returns: the fitted model and everything the run
wrote, readable as the dict of ``metrics.json`` and shown in Jupyter as a table and the
centroids."""

from collections.abc import Mapping
from pathlib import Path

from . import report


class RunResult(Mapping):
    """A finished run.

    It is a read-only mapping holding exactly what ``metrics.json`` holds
    (``result["metrics"]["test"]["purity"]``), so code written for the dict keeps
    working; :meth:`to_dict` gives a copy to serialise.

    Attributes
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Preprocessing (and embedding) then the fitted estimator; ``pipeline.predict(X)``
        clusters new raw rows.
    model : estimator
        The fitted clustering estimator (``pipeline[-1]``).
    mappings : dict or None
        ``{"majority", "hungarian"}`` :class:`kmeanslab.metrics.ClusterMapping` learned on
        train (None without labels): ``result.mappings["majority"].predict(labels)``.
    labels : dict
        Cluster of each row per split (``"train"``, ``"test"``).
    metrics : dict
        Per split, every metric (as in metrics.json).
    out : Path
        The run folder; ``paths`` maps each file written there to its path.
    """

    def __init__(self, data, pipeline, mappings, labels, out, written):
        self._data = data
        self.pipeline = pipeline
        self.model = pipeline.named_steps["cluster"]
        self.mappings = mappings
        self.labels = labels
        self.out = Path(out)
        self.paths = {name: self.out / name for name in written}

    def __getitem__(self, key):
        return self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)

    @property
    def metrics(self):
        return self._data["metrics"]

    @property
    def config(self):
        return self._data["config"]

    def to_dict(self):
        """The dict written to metrics.json (a deep copy)."""
        import copy

        return copy.deepcopy(self._data)

    def predict(self, X):
        """The class each raw row of ``X`` is predicted to be: its cluster's majority class
        learned on train (rows of clusters no class was learned for get the mapping's
        ``unmapped_value_``)."""
        if self.mappings is None:
            raise ValueError("this run had no labels: there is no class to predict")
        return self.mappings["majority"].predict(self.pipeline.predict(X))

    def __repr__(self):
        ds = self._data["dataset"]
        shown = ", ".join(f"{s}: purity {m.get('purity', float('nan')):.4f}" for s, m in self.metrics.items()
                          if m.get("purity") is not None)
        return (f"RunResult({ds['name']}, k={self.config['k']}, {type(self.model).__name__}"
                f"{', ' + shown if shown else ''}, out={str(self.out)!r})")

    def _repr_html_(self):
        cfg, ds = self._data["config"], self._data["dataset"]
        parts = [f"<b>kmeanslab run: {report.esc(report.run_title(self._data))}</b>"]
        parts += [f'<p class="note">{report.esc(n)}</p>' for n in self._data.get("notes", [])]
        parts.append(report.metrics_table(self.metrics, cfg.get("algorithm")))
        unrep = report.unrepresented_note(self._data)
        if unrep:
            parts.append(f"<p>{report.esc(unrep)}</p>")
        if "centroids.png" in self.paths:
            parts.append(report.figure(self.paths["centroids.png"], "centroids: cluster id: majority class · purity"))
        parts.append(f"<p>{ds['n_train']} train rows · folder <code>{report.esc(self.out)}</code></p>")
        return f"<div>{''.join(parts)}</div>"
