"""Atomic file writing (shared by every module that writes results or downloads) and
Ctrl-C handling that loses no interrupt."""

import io
import json
import os
import secrets
import shutil
import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np


@contextmanager
def atomic_open(path, check=None, suffix=".tmp"):
    """Open a temporary file beside ``path`` for binary writing; on success it becomes ``path``.

    ``check(tmp_path)``, if given, runs on the closed temporary file before the rename
    and may raise to abort. On any exception (KeyboardInterrupt included) the temporary
    file is removed and ``path`` is left as it was: never half a file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The name is chosen before the file exists, so an interrupt at any moment after
    # creation lands inside the try and the file is removed.
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}{suffix}"
    try:
        with open(tmp, "xb") as fh:  # exclusive create; permissions follow the umask
            yield fh
        if check is not None:
            check(tmp)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` via a temporary file and rename: never half a file."""
    with atomic_open(path) as fh:
        fh.write(data)


def atomic_save_npy(path, array):
    buf = io.BytesIO()
    np.save(buf, np.asarray(array), allow_pickle=False)
    atomic_write_bytes(path, buf.getvalue())


def atomic_write_json(path, obj):
    atomic_write_bytes(path, (json.dumps(obj, indent=2, default=_json_default) + "\n").encode())


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def interrupted(exc):
    """Whether ``exc`` is a KeyboardInterrupt or was raised because of one: Ctrl-C that
    lands while numba loads or runs a compiled function comes out as a SystemError
    caused by the KeyboardInterrupt."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


# -- Ctrl-C -------------------------------------------------------------------------------
#
# Python turns SIGINT into a KeyboardInterrupt wherever the main thread happens to be. When
# that is a destructor, a weakref or ctypes callback, or a library's ``except Exception``
# around a compiled call, the exception is reported as "ignored" or dropped, and the work
# goes on as if Ctrl-C had not been pressed. Under :func:`interrupt_guard` the signal also
# sets a flag that :func:`checkpoint` and the guard's exit act on: an interrupt can be late
# (until the next safe point), never lost.

class _State:
    pending = False  # a SIGINT arrived under the guard and has not been acted on yet
    deferred = 0  # depth of defer_interrupts() blocks
    depth = 0  # depth of interrupt_guard() blocks that share our handler
    pauses = {}  # test hook: calls of checkpoint() per stage


def _on_sigint(signum, frame):
    _State.pending = True
    if not _State.deferred:
        raise KeyboardInterrupt


@contextmanager
def interrupt_guard():
    """Remember every Ctrl-C that arrives while the block runs, so that none is lost.

    A KeyboardInterrupt is raised as usual; if something swallows it, the next
    :func:`checkpoint`, or at the latest the end of the block, raises it again, and an
    error raised because of it is turned back into an interrupt. Acts only in the main
    thread and when SIGINT has Python's default handler (a program that installed its
    own keeps it); nested guards share the outer one.
    """
    installs = _State.depth == 0
    if installs and (threading.current_thread() is not threading.main_thread()
                     or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield
        return
    if installs:
        previous = signal.signal(signal.SIGINT, _on_sigint)
        _State.pending = False
    _State.depth += 1
    try:
        yield
        checkpoint()
    except BaseException as exc:
        # Delivered as an exception: whoever catches it has been told.
        was_pending, _State.pending = _State.pending, False
        if was_pending and not interrupted(exc):
            raise KeyboardInterrupt from exc
        raise
    finally:
        _State.depth -= 1
        if installs:
            signal.signal(signal.SIGINT, previous)
            _State.pending = False


@contextmanager
def defer_interrupts():
    """Hold Ctrl-C while the block runs (a few renames that must all happen); an interrupt
    that arrived meanwhile is raised when it ends."""
    with interrupt_guard():
        _State.deferred += 1
        try:
            yield
        finally:
            _State.deferred -= 1
        checkpoint()


def checkpoint(stage=None):
    """A safe point for Ctrl-C: raises KeyboardInterrupt if one arrived under the guard and
    was swallowed.

    ``stage`` names the point for tests: with ``KMEANSLAB_TEST_PAUSE=STAGE[:N]`` the N-th
    (default first) checkpoint of that stage writes its name to the file named by
    ``KMEANSLAB_TEST_PAUSE_FILE`` and waits (up to a minute) for a signal, so that a test
    can interrupt a process at a known point instead of at a time it guesses.
    """
    if stage is not None and os.environ.get("KMEANSLAB_TEST_PAUSE"):
        _pause_for_test(stage)
    if _State.pending and not _State.deferred:
        raise KeyboardInterrupt


def _pause_for_test(stage):
    name, _, nth = os.environ["KMEANSLAB_TEST_PAUSE"].partition(":")
    if name != stage:
        return
    _State.pauses[stage] = count = _State.pauses.get(stage, 0) + 1
    if count != int(nth or 1):
        return
    Path(os.environ["KMEANSLAB_TEST_PAUSE_FILE"]).write_text(f"{stage}:{count}\n")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.01)


@contextmanager
def staged_folder(out, last=()):
    """Write a set of files into ``out`` all or nothing.

    Yields a hidden folder inside ``out`` to write into; when the block ends normally its
    files replace those of the same names in ``out`` (Ctrl-C held for those renames; the
    names in ``last`` go last, as markers of completeness), otherwise it is removed and
    ``out`` is as it was (removed again if the block created it).
    """
    out = Path(out)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    stage = out / f".staging-{secrets.token_hex(6)}"
    try:
        stage.mkdir()
        yield stage
        files = sorted((p for p in stage.iterdir() if p.is_file()), key=lambda p: (p.name in last, p.name))
        with defer_interrupts():
            for path in files:
                path.replace(out / path.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if created and not any(out.iterdir()):
            out.rmdir()
