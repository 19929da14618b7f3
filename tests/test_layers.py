"""The house of ../shared/DESIGN.md, checked by import-linter on the installed package: a
layer imports only the layers below it (imports inside functions included)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _lint(*args):
    exe = Path(sys.executable).with_name("lint-imports")
    exe = str(exe) if exe.exists() else shutil.which("lint-imports")
    if exe is None:
        pytest.fail("lint-imports not installed (pip install -e '.[test]')")
    return subprocess.run([exe, *args], cwd=ROOT, capture_output=True, text=True)


def test_every_layer_imports_only_the_layers_below_it():
    proc = _lint()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def test_the_check_sees_a_broken_house(tmp_path):
    """The same tool on an upside-down house reports it broken: the check can fail."""
    upside_down = tmp_path / "upside_down.toml"
    upside_down.write_text('[tool.importlinter]\nroot_package = "kmeanslab"\n\n'
                           '[[tool.importlinter.contracts]]\nname = "upside down"\ntype = "layers"\n'
                           'layers = ["kmeanslab.cluster", "kmeanslab.cli"]\n')
    proc = _lint("--config", str(upside_down))
    assert proc.returncode == 1 and "BROKEN" in proc.stdout
