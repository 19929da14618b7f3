"""Atomic file writing, shared by every module that writes results or downloads."""

import secrets
from contextlib import contextmanager
from pathlib import Path


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
