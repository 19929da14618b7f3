"""Atomic file writing, shared by every module that writes results or downloads."""

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_open(path, check=None, suffix=".tmp"):
    """Open a temporary file beside ``path`` for binary writing; on success it becomes ``path``.

    ``check(tmp_path)``, if given, runs on the closed temporary file before the rename
    and may raise to abort. On any exception (KeyboardInterrupt included) the temporary
    file is removed and ``path`` is left as it was: never half a file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
        if check is not None:
            check(Path(tmp))
        # mkstemp creates the file private; results are meant to be read like any new file.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
