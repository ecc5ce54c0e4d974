"""Autosave: every edit is written at once, so a crash or a kill loses nothing.

Each running window owns one pair of files in the autosave folder, named after its process id:
``<pid>-<n>.toml`` (the document as a scenario file, possibly mid-edit and not yet runnable) and
``<pid>-<n>.json`` (where it came from, its title, when it was written). A clean close deletes
them. At start, pairs whose process is gone are offered for restore.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from tcplab.fileio import write_atomic

_counter = itertools.count(1)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Orphan:
    """Unsaved work left by a process that ended without closing its window."""

    toml: Path
    meta_path: Path
    origin: str | None
    title: str
    saved_at: float

    def text(self) -> str:
        return self.toml.read_text(encoding="utf-8")

    def discard(self) -> None:
        for p in (self.toml, self.meta_path):
            p.unlink(missing_ok=True)


class Autosaver:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        stem = f"{os.getpid()}-{next(_counter)}"
        self.toml = directory / f"{stem}.toml"
        self.meta = directory / f"{stem}.json"

    def write(self, toml_text: str, origin: str | None, title: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        write_atomic(self.toml, lambda f: f.write(toml_text), text=True)
        meta = json.dumps({"pid": os.getpid(), "origin": origin, "title": title,
                           "saved_at": time.time()})
        write_atomic(self.meta, lambda f: f.write(meta), text=True)

    def discard(self) -> None:
        for p in (self.toml, self.meta):
            p.unlink(missing_ok=True)

    @staticmethod
    def orphans(directory: Path) -> list[Orphan]:
        """Autosaves of processes that are gone, newest first. Unreadable pairs are skipped."""
        out = []
        if not directory.is_dir():
            return out
        for meta_path in directory.glob("*.json"):
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
                pid = int(meta["pid"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
            toml = meta_path.with_suffix(".toml")
            if _alive(pid) or not toml.is_file():
                continue
            out.append(Orphan(toml, meta_path, meta.get("origin"), str(meta.get("title", "")),
                              float(meta.get("saved_at", 0.0))))
        out.sort(key=lambda o: o.saved_at, reverse=True)
        return out
