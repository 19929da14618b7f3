"""Edges of the CLI's helpers that mutation testing found untested (``make mutate``)."""

from kmeanslab.cli import _clock, _download_progress, build_parser, format_table, sweep_from_args


def test_clock_shows_hours_only_when_there_are_some():
    assert [_clock(s) for s in (0, 5.4, 65, 3599.6, 3725)] == ["0:00", "0:05", "1:05", "1:00:00", "1:02:05"]


def test_download_progress_without_a_size_counts_mebibytes(capsys):
    _download_progress()("train.gz", 3 * 2**20, None)
    _download_progress()("test.gz", 100, 100)
    assert capsys.readouterr().err == "  downloading train.gz: 3.0 MiB\r  downloading test.gz: 100.0%\n"


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
