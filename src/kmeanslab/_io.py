"""Atomic file writing (shared by every module that writes results or downloads) and
interrupt detection."""

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
