"""Edges of the CLI's helpers that mutation testing found untested (``make mutate``)."""

import io

from kmeanslab.cli import build_parser, format_table, sweep_from_args
from kmeanslab.experiment.progress import DownloadProgress, SweepProgress


def test_download_progress_draws_one_bar_per_file_in_bytes():
    out = io.StringIO()
    bar = DownloadProgress(file=out)
    bar("train.gz", 0, 2048)
    bar("train.gz", 2048, 2048)
    bar("test.gz", 3 * 2**20, None)
    bar.close()
    text = out.getvalue()
    assert "downloading train.gz" in text and "100%" in text and "2.05k/2.05k" in text
    assert "downloading test.gz" in text and "3.15MB" in text


def test_sweep_progress_says_what_a_resume_found():
    out = io.StringIO()
    bar = SweepProgress(file=out)
    bar({"done": 2, "total": 5, "skipped": 2, "computed": 0, "elapsed": 0.0, "cell": None})
    bar({"done": 5, "total": 5, "skipped": 2, "computed": 3, "elapsed": 1.0, "cell": "c"})
    text = out.getvalue()
    assert text.splitlines()[0].startswith("resuming: 2 of 5 cells already done") or \
        "resuming: 2 of 5 cells already done" in text
    assert "5/5" in text and bar.bar is None


def test_format_table_shows_a_dash_for_a_missing_value():
    lines = format_table({"train": {"sse": 12.5, "purity": None}, "test": {"sse": 3.0}}).splitlines()
    assert lines[0].split() == ["train", "test"]
    rows = {line[:22].strip(): line[22:].split() for line in lines[1:]}
    assert rows["SSE"] == ["12.5", "3"]
    assert rows["purity"] == ["-", "-"]


def test_metric_flag_replaces_the_files_algorithm(tmp_path):
    cfg = tmp_path / "sweep.toml"
    cfg.write_text('dataset = "digits"\nalgorithm = "kmeans"\n[sweep]\nk = [2, 3]\nalgorithm = ["kmeans"]\n')
    args = build_parser().parse_args(["sweep", "--config", str(cfg), "--metric", "manhattan,cosine"])
    spec = sweep_from_args(args)
    assert spec.axes["metric"] == ["manhattan", "cosine"]
    from kmeanslab.experiment.sweep import cells

    assert sorted({c.algorithm for _, c, _ in cells(spec)}) == ["kmedians", "spherical"]
