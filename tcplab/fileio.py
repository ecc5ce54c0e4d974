"""Writing files so that a failure never leaves a half-written or lost file."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path
from typing import IO, Callable, TypeVar

T = TypeVar("T")


def write_atomic(path: str | Path, fill: Callable[[IO], T], *, text: bool = False) -> T:
    """Call ``fill(f)`` on a new temporary file beside ``path`` (binary, or UTF-8 text with
    ``text``), flush it to disk and rename it over ``path``; returns what ``fill`` returned.
    On any failure the temporary file is removed and ``path`` is left as it was. An existing
    file keeps its permissions; a symbolic link keeps pointing where it did."""
    path = Path(path)
    target = path.resolve() if path.is_symlink() else path
    tmp = target.parent / f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.part"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        f = os.fdopen(fd, "w", encoding="utf-8", newline="") if text else os.fdopen(fd, "wb")
        with f:
            if target.exists() and hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), stat.S_IMODE(target.stat().st_mode))
            result = fill(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return result
