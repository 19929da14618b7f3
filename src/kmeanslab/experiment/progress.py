"""Progress bars (``tqdm.auto``: a widget in Jupyter, a line redrawn on a terminal) for
the callbacks the library takes. The library itself never prints: these are only drawn
when a caller passes them, as the CLI does.

    from kmeanslab.experiment import progress
    run_sweep(spec, "runs/k", on_progress=progress.SweepProgress())
"""

import sys


def _tqdm():
    from tqdm.auto import tqdm

    return tqdm


class SweepProgress:
    """``on_progress`` for :func:`kmeanslab.experiment.sweep.run_sweep`: cells done of the
    total, elapsed time and ETA; says first how many cells a resumed sweep found done."""

    def __init__(self, file=None, **tqdm_options):
        self.file = file if file is not None else sys.stderr
        self.options = tqdm_options
        self.bar = None

    def __call__(self, ev):
        if self.bar is None:
            self.bar = _tqdm()(total=ev["total"], initial=ev["done"], unit="cell", file=self.file,
                               dynamic_ncols=True, **self.options)
            if ev["cell"] is None and ev["skipped"]:
                self.bar.write(f"resuming: {ev['skipped']} of {ev['total']} cells already done", file=self.file)
        self.bar.n = ev["done"]
        self.bar.refresh()
        if ev["done"] >= ev["total"]:
            self.close()

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class DownloadProgress:
    """``progress(filename, done, total)`` for the data loaders: one bar per file, in bytes."""

    def __init__(self, file=None):
        self.file = file if file is not None else sys.stderr
        self.bars = {}

    def __call__(self, filename, done, total):
        bar = self.bars.get(filename)
        if bar is None:
            bar = self.bars[filename] = _tqdm()(total=total, unit="B", unit_scale=True, file=self.file,
                                                desc=f"downloading {filename}", dynamic_ncols=True)
        bar.update(done - bar.n)
        if total is not None and done >= total:
            bar.close()

    def close(self):
        for bar in self.bars.values():
            bar.close()
