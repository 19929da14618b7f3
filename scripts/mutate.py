"""Mutation testing of kmeanslab's Python layer with mutmut (``make mutate``; not in CI).

Usage:
    python scripts/mutate.py                                   # every module below
    python scripts/mutate.py src/kmeanslab/metrics.py          # one module
    python scripts/mutate.py --sample 30 --seed 1 MODULE ...   # 30 random mutants per module

Each module is mutated on its own, against its own fast subset of the tests (``TESTS``),
so that a run is practical on two shared cores; mutmut then runs, for each mutant, only
the tests that called the mutated function. Work happens in ``build/mutate/`` (mutmut's
``mutants/`` copy lives there, the worktree is never modified). The compiled kernels
(``kmeanslab._core``, wrapped by ``cluster/_kernels``) are the installed ones and are
not mutated: the invariant tests cover them.

Prints, per module and in total, killed / survived / other and the survival rate
(survivors / (killed + survived)); survivors are listed with the command that shows them.
"""

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = "src/kmeanslab"
ENGINE_TESTS = ["tests/test_reference_engine.py"]
# module -> the fast tests that exercise it (pytest node ids / -k filters welcome).
TESTS = {
    "metrics.py": ["tests/test_metrics.py", "tests/test_metrics_weighted.py"],
    "preprocessing.py": ["tests/test_preprocessing.py", "tests/test_preprocessing_edges.py",
                         "tests/test_glue.py::test_zscore_partial_fit_maps_constant_columns_to_zero"],
    # Not the parallel (spawned workers import the original package) or Ctrl-C tests.
    "experiment/sweep.py": [f"tests/test_sweep.py::test_{name}" for name in (
        "parse_values", "parse_values_errors_name_the_axis", "sweep_table_errors_name_the_key",
        "cell_ids_are_safe_file_names_and_track_the_config", "sweep_outputs_and_numbers",
        "rerun_skips_finished_cells", "choose_k_picks_and_json", "sweep_table_in_toml_and_flag_override",
        "bad_sweep_configs_are_one_line", "data_are_loaded_once_and_prepared_once_per_preprocessing")]
    + ["tests/test_glue.py::test_every_setting_but_where_changes_the_cell_id",
       "tests/test_glue.py::test_every_number_in_the_sweep_report_is_the_cells"],
    "experiment/report.py": ["tests/test_report.py", "tests/test_report_edges.py", "tests/test_glue.py::test_every_number_in_the_run_report_is_metrics_json",
                  "tests/test_glue.py::test_every_number_in_the_sweep_report_is_the_cells"],
    "cli.py": ["tests/test_cli.py", "tests/test_cli_edges.py", "tests/test_glue.py"],
    "cluster/_lloyd.py": ENGINE_TESTS + ["tests/test_invariants.py"],
    "cluster/_engine.py": ENGINE_TESTS + ["tests/test_invariants.py"],
    "cluster/_kmeans.py": ENGINE_TESTS + ["tests/test_zero_weights.py", "tests/test_kmeans.py"],
    "cluster/_kmedians.py": ["tests/test_kmedians.py", "tests/test_zero_weights.py"],
    "cluster/_soft.py": ["tests/test_soft.py", "tests/test_zero_weights.py"],
    "cluster/_spherical.py": ["tests/test_spherical.py", "tests/test_zero_weights.py"],
    "cluster/_minibatch.py": ["tests/test_minibatch.py", "tests/test_zero_weights.py"],
    "cluster/_validation.py": ["tests/test_validation.py"],
    "cluster/_seeding.py": ["tests/test_init.py"],
    "cluster/_loop.py": ENGINE_TESTS + ["tests/test_invariants.py", "tests/test_kmeans.py", "tests/test_validation.py",
                                        "tests/test_properties.py::test_power_of_two_scaling_commutes_exactly_with_kmeans",
                                        "tests/test_sklearn_compat.py::test_a_fixed_point_stops_after_one_iteration_even_with_tol_zero",
                                        "tests/test_sklearn_compat.py::test_duplicates_with_centres_on_them_match_sklearn"],
    "cluster/_methods.py": ENGINE_TESTS + ["tests/test_kmedians.py", "tests/test_soft.py",
                                          "tests/test_spherical.py", "tests/test_zero_weights.py"],
    "cluster/_medians.py": ["tests/test_kmedians.py", "tests/test_zero_weights.py"],
    "cluster/backends/local.py": ENGINE_TESTS + ["tests/test_kmeans.py"],
    "cluster/registry.py": ["tests/test_validation.py", "tests/test_cli.py"],
}
# Not in the selection: cluster/backends/dask.py needs a cluster per test (tests/test_dask.py).
# Lines not mutated: argparse's help and metavar texts and log messages are documentation,
# not behaviour (as the docstrings mutmut already leaves alone).
NOT_MUTATED = [r"\bhelp=", r"\bmetavar=", r"\bdescription=", r"\blogger\.(debug|info)\("]
PYTEST_ARGS = ["-p", "no:randomly", "-p", "no:cacheprovider", "-q", "-x",
               "-k", "not chromium and not sklearn_estimator_checks and not mnist"]


def module_key(arg):
    path = Path(arg).as_posix()
    key = path.split(f"{PKG}/", 1)[-1]
    if key not in TESTS:
        sys.exit(f"mutate: no test subset for {arg!r}; known: {', '.join(TESTS)}")
    return key


def write_config(work, key):
    """A scratch project in ``work``: src and tests linked, pyproject with mutmut's settings."""
    work.mkdir(parents=True, exist_ok=True)
    for name in ("src", "tests"):
        link = work / name
        if not link.exists():
            link.symlink_to(ROOT / name)
    toml_list = lambda items: "[" + ", ".join(f"'{i}'" for i in items) + "]"  # noqa: E731 (literal strings)
    (work / "pyproject.toml").write_text(
        "[tool.mutmut]\n"
        f'source_paths = ["{PKG}"]\n'
        f'only_mutate = ["{PKG}/{key}"]\n'
        f"do_not_mutate_patterns = {toml_list(NOT_MUTATED)}\n"
        f"pytest_add_cli_args = {toml_list(PYTEST_ARGS)}\n"
        f"pytest_add_cli_args_test_selection = {toml_list(TESTS[key])}\n"
        "timeout_multiplier = 5.0\n"
        "timeout_constant = 20.0\n")


SITECUSTOMIZE = """\
# Written by scripts/mutate.py. The editable install (scikit-build-core) redirects every
# kmeanslab module to the source tree, so mutmut's tests would import the original code,
# not the mutants: keep its redirect for the compiled kernels (kmeanslab._core) only.
import importlib.util
import os
import sys


class _CoreOnly:
    def __init__(self, path):
        self.path = path

    def find_spec(self, name, path=None, target=None):
        if name == "kmeanslab._core":
            return importlib.util.spec_from_file_location(name, self.path)
        return None


for _i, _f in enumerate(list(sys.meta_path)):
    if type(_f).__name__ == "ScikitBuildRedirectingFinder":
        sys.meta_path[_i] = _CoreOnly(os.path.join(_f.dir, _f.known_wheel_files["kmeanslab._core"]))
sys.path[:] = [p for p in sys.path if os.path.abspath(p) != {src!r}]
"""


def write_sitecustomize(work):
    """A folder holding the sitecustomize above (put on PYTHONPATH for mutmut's runs)."""
    folder = work / "_site"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE.format(src=str(ROOT / PKG.split("/")[0])))
    return folder


def mutmut(work, env, *args, log=None):
    cmd = [sys.executable, "-m", "mutmut", *args]
    if log is None:
        return subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True).stdout
    with open(log, "a") as fh:
        subprocess.run(cmd, cwd=work, env=env, check=False, stdout=fh, stderr=subprocess.STDOUT)


def statuses(work, env, prefix):
    """{mutant name: status} of the module's mutants, from ``mutmut results``."""
    out = {}
    for line in mutmut(work, env, "results", "--all", "true").splitlines():
        m = re.match(r"\s*(\S+): (.+)$", line)
        if m and m.group(1).startswith(prefix):
            out[m.group(1)] = m.group(2)
    return out


def run_module(key, max_children, fresh, sample, seed):
    work = ROOT / "build" / "mutate"
    if fresh and (work / "mutants").exists():
        shutil.rmtree(work / "mutants")
    write_config(work, key)
    # mutmut forks a worker per mutant from a process that has run the kernels: GNU
    # OpenMP's thread pool does not survive a fork, a single thread has none to lose.
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", OMP_NUM_THREADS="1",
               PYTHONPATH=str(write_sitecustomize(work)))
    log = work / "mutmut-run.log"
    log.write_text("")
    print(f"mutate: {key} (mutmut's progress in {log.relative_to(ROOT)})", flush=True)
    children = ["--max-children", str(max_children)] if max_children else []
    prefix = "kmeanslab." + key.removesuffix(".py").replace("/", ".") + "."
    names = []
    if sample:
        # Generate the mutants and the test statistics only (no mutant matches the name),
        # then run a seeded random sample of them.
        mutmut(work, env, "run", *children, "none-such-mutant", log=log)
        meta = work / "mutants" / PKG / (key + ".meta")
        every = sorted(json.loads(meta.read_text())["exit_code_by_key"]) if meta.is_file() else []
        if not every:
            sys.exit(f"mutate: mutmut made no mutants of {key}; see {log}")
        rng = random.Random(seed)
        names = sorted(rng.sample(every, min(sample, len(every))))
    mutmut(work, env, "run", *children, *names, log=log)
    found = statuses(work, env, prefix)
    found = {n: found[n] for n in names} if names else found
    counts = {}
    for status in found.values():
        counts[status] = counts.get(status, 0) + 1
    survivors = sorted(n for n, st in found.items() if st == "survived")
    # The diffs, kept: the next module's fresh run deletes mutants/.
    out = work / "survivors" / (key.replace("/", "_").removesuffix(".py") + ".txt")
    out.parent.mkdir(exist_ok=True)
    out.write_text("".join(mutmut(work, env, "show", name) + "\n" for name in survivors))
    return counts, survivors, out


def rate(counts):
    killed, survived = counts.get("killed", 0), counts.get("survived", 0)
    return survived / max(killed + survived, 1)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("modules", nargs="*", help="module paths (default: all with a test subset)")
    p.add_argument("--max-children", type=int, default=None, help="parallel mutants (default: CPUs)")
    p.add_argument("--keep", action="store_true", help="keep earlier results (default: a fresh run)")
    p.add_argument("--sample", type=int, default=0, metavar="N",
                   help="run a random sample of N mutants per module (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample")
    args = p.parse_args(argv)
    keys = [module_key(m) for m in args.modules] or list(TESTS)
    total = {}
    lines = []
    for key in keys:
        counts, survivors, diffs = run_module(key, args.max_children, not args.keep, args.sample, args.seed)
        for k, v in counts.items():
            total[k] = total.get(k, 0) + v
        lines.append(f"{key:24s} " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
                     + f"  survival {100 * rate(counts):.1f} %"
                     + (f"  (survivors' diffs: {diffs.relative_to(ROOT)})" if survivors else ""))
        print(lines[-1], flush=True)
    print("\n".join(["", *lines]))
    print(f"TOTAL {', '.join(f'{v} {k}' for k, v in sorted(total.items()))}; "
          f"survival rate {100 * rate(total):.1f} % (survived / (killed + survived))")


if __name__ == "__main__":
    main()
