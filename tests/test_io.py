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


def test_staged_folder_is_all_or_nothing(tmp_path):
    from kmeanslab._io import staged_folder

    out = tmp_path / "out"
    with staged_folder(out, last=("done.json",)) as stage:
        (stage / "a.npy").write_bytes(b"a")
        (stage / "done.json").write_bytes(b"{}")
        assert not (out / "a.npy").exists()  # nothing in place before the block ends
    assert sorted(p.name for p in out.iterdir()) == ["a.npy", "done.json"]
    for exc in (RuntimeError, KeyboardInterrupt):
        with pytest.raises(exc):
            with staged_folder(out) as stage:
                (stage / "a.npy").write_bytes(b"new")
                raise exc
        assert sorted(p.name for p in out.iterdir()) == ["a.npy", "done.json"]
        assert (out / "a.npy").read_bytes() == b"a"
    with pytest.raises(RuntimeError):  # a folder the block created is removed again
        with staged_folder(tmp_path / "new") as stage:
            raise RuntimeError
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_deferred_ctrl_c_is_raised_when_the_block_ends():
    import signal

    from kmeanslab._io import defer_interrupts

    done = []
    with pytest.raises(KeyboardInterrupt):
        with defer_interrupts():
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):  # give the handler many chances to run
                sum(range(100))
            done.append(True)
    assert done == [True]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_guard_leaves_a_programs_own_sigint_handler_alone():
    import signal

    from kmeanslab._io import checkpoint, interrupt_guard

    seen = []
    previous = signal.signal(signal.SIGINT, lambda *_: seen.append("mine"))
    try:
        with interrupt_guard():
            assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):
                sum(range(100))
            checkpoint()  # the program handled it: nothing pending here
        assert seen == ["mine"]
    finally:
        signal.signal(signal.SIGINT, previous)
