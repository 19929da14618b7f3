"""Where data live: the folders searched, the one downloads go to, and the errors that
say so.

Searched in order (each folder holding ``<set>/<file>``):

1. ``data_home`` when the caller passes one;
2. ``$KMEANSLAB_DATA`` (treated as read-only: nothing is ever written there);
3. the user cache, ``$XDG_CACHE_HOME/kmeanslab`` or ``~/.cache/kmeanslab``.

A download goes into ``data_home`` when given (and writable), else into the user cache.
"""

from __future__ import annotations

import os
from pathlib import Path


class DataError(ValueError):
    """A data file is truncated, corrupted or not in the expected format."""


class DataNotFoundError(FileNotFoundError):
    """Data is neither present locally nor could be downloaded."""


def user_cache() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "kmeanslab"


def get_data_home(data_home=None) -> Path:
    """Return the primary data folder: ``data_home``, ``$KMEANSLAB_DATA`` or the user cache."""
    if data_home is not None:
        return Path(data_home).expanduser()
    env = os.environ.get("KMEANSLAB_DATA")
    return Path(env).expanduser() if env else user_cache()


def candidate_homes(data_home=None) -> list[Path]:
    """Return the folders searched for data, in order, without duplicates."""
    homes = [Path(data_home).expanduser()] if data_home is not None else []
    env = os.environ.get("KMEANSLAB_DATA")
    if env:
        homes.append(Path(env).expanduser())
    homes.append(user_cache())
    return list(dict.fromkeys(homes))


def download_dir(data_home, subdir: str) -> Path:
    """First writable of data_home/subdir (if given) and the user cache's subdir."""
    tried = []
    for home in ([Path(data_home).expanduser()] if data_home is not None else []) + [user_cache()]:
        folder = home / subdir
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            tried.append(f"{folder} ({exc.strerror or exc})")
            continue
        if os.access(folder, os.W_OK | os.X_OK):
            return folder
        tried.append(f"{folder} (not writable)")
    raise DataNotFoundError(
        "no writable folder to download into; tried: " + "; ".join(tried)
        + ". Pass a writable data_home, or point KMEANSLAB_DATA at a folder that already "
        f"holds {subdir}/ with the data files."
    )
