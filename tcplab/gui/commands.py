"""Undoable edits of the scenario document.

Every edit is a snapshot pair: the document before and after. Scenario documents are small (a
few kilobytes), so snapshots are cheap and undo can never drift from what was done.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtGui import QUndoCommand


class DocCommand(QUndoCommand):
    """Set the document to ``after`` (redo) or ``before`` (undo), then tell the window which
    snapshot it went from and to (so it can tell a layout change from a scenario change)."""

    def __init__(self, doc, before: dict, after: dict, text: str,
                 on_change: Callable[[dict, dict], None]) -> None:
        super().__init__(text)
        self.doc = doc
        self.before = before
        self.after = after
        self.on_change = on_change

    def redo(self) -> None:
        self.doc.restore(self.after)
        self.on_change(self.before, self.after)

    def undo(self) -> None:
        self.doc.restore(self.before)
        self.on_change(self.after, self.before)
