import os
import stat

import pytest

from kmeanslab._io import atomic_open


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_failure_halfway_keeps_the_old_file_and_leaves_no_temporary(tmp_path, exc):
    path = tmp_path / "result.json"
    path.write_bytes(b"old")
    with pytest.raises(exc):
        with atomic_open(path) as fh:
            fh.write(b"new but only half")
            raise exc
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]


def test_check_can_refuse_the_file(tmp_path):
    path = tmp_path / "download.gz"

    def refuse(tmp):
        assert tmp.read_bytes() == b"corrupt"
        raise ValueError("checksum mismatch")

    with pytest.raises(ValueError, match="checksum"):
        with atomic_open(path, check=refuse, suffix=".part") as fh:
            fh.write(b"corrupt")
    assert list(tmp_path.iterdir()) == []


def test_success_replaces_and_permissions_follow_the_umask(tmp_path):
    path = tmp_path / "sub" / "out.bin"
    old = os.umask(0o022)
    try:
        with atomic_open(path) as fh:
            fh.write(b"new")
    finally:
        os.umask(old)
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in path.parent.iterdir()] == ["out.bin"]
