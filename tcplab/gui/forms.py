"""A form of scenario fields that edits the document through one commit function.

Each row is a field of the document addressed by its key path (``("links", "r1-r2", "loss")``).
Text is read the way ``--set`` reads it (TOML values: ``0.01``, ``true``, ``"5ms"``; a bare word
is a string), so the form accepts exactly what scenario files accept. A value the document
refuses is not applied: the field turns red and the reason appears under it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from typing import Any, Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QLabel, QLineEdit,
                               QPlainTextEdit, QVBoxLayout, QWidget)


@dataclass(frozen=True)
class Field:
    """One editable value: where it lives, how it is labelled and edited."""

    path: tuple[str, ...]
    label: str
    kind: str = "text"            # text | bool | choice | multiline
    choices: tuple[str, ...] = ()
    tip: str = ""


def parse_text(text: str) -> Any:
    """``"0.01"`` -> 0.01, ``"true"`` -> True, ``"5ms"`` -> "5ms", ``""`` -> None (unset)."""
    text = text.strip()
    if not text:
        return None
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


class FieldForm(QWidget):
    """Rows of fields; ``commit(path, value)`` returns None when applied or the reason it was
    refused (``value`` None means: back to the default)."""

    def __init__(self, commit: Callable[[tuple, Any], str | None], parent=None) -> None:
        super().__init__(parent)
        self.commit = commit
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        self.form.setLabelAlignment(Qt.AlignRight | Qt.AlignVCenter)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addLayout(self.form)
        self.editors: dict[tuple, QWidget] = {}
        self.errors: dict[tuple, QLabel] = {}
        self._shown: dict[tuple, str] = {}
        self._building = False

    def clear(self) -> None:
        self._building = True
        while self.form.rowCount():
            self.form.removeRow(0)
        self.editors.clear()
        self.errors.clear()
        self._shown.clear()
        self._building = False

    def set_fields(self, fields: list[Field], values: dict[tuple, Any],
                   defaults: dict[tuple, str] | None = None) -> None:
        """Show ``fields`` with their current ``values`` (display strings, bools for checkboxes;
        missing means unset) and the ``defaults`` they fall back to when unset."""
        self.clear()
        self._building = True
        defaults = defaults or {}
        for f in fields:
            value = values.get(f.path)
            if f.kind == "bool":
                ed = QCheckBox()
                ed.setChecked(bool(value if value is not None else defaults.get(f.path) == "true"))
                ed.toggled.connect(lambda on, p=f.path: self._commit(p, bool(on)))
            elif f.kind == "choice":
                ed = QComboBox()
                ed.addItems(list(f.choices))
                current = value if value is not None else defaults.get(f.path, "")
                if current and ed.findText(str(current)) < 0:
                    ed.addItem(str(current))
                ed.setCurrentText(str(current))
                ed.activated.connect(lambda _i, p=f.path, e=ed: self._commit(p, e.currentText()))
            elif f.kind == "multiline":
                ed = QPlainTextEdit()
                ed.setPlainText("" if value is None else str(value))
                ed.setFixedHeight(70)
                ed.focusOutEvent = self._multiline_focus_out(ed, f.path, ed.focusOutEvent)
            else:
                ed = QLineEdit()
                ed.setText("" if value is None else str(value))
                if f.path in defaults:
                    ed.setPlaceholderText(f"default: {defaults[f.path]}")
                ed.editingFinished.connect(lambda p=f.path, e=ed: self._text_done(p, e))
            ed.setObjectName("field:" + ".".join(f.path))
            if f.tip:
                ed.setToolTip(f.tip)
            err = QLabel()
            err.setObjectName("error:" + ".".join(f.path))
            err.setWordWrap(True)
            err.setStyleSheet("color: #c62828;")
            err.hide()
            box = QWidget()
            lay = QVBoxLayout(box)
            lay.setContentsMargins(0, 0, 0, 0)
            lay.setSpacing(1)
            lay.addWidget(ed)
            lay.addWidget(err)
            self.form.addRow(f.label, box)
            self.editors[f.path] = ed
            self.errors[f.path] = err
            self._shown[f.path] = "" if value is None else str(value)
        self._building = False

    def _multiline_focus_out(self, ed: QPlainTextEdit, path: tuple, base):
        def handler(event):
            base(event)
            if not self._building and ed.toPlainText() != self._shown.get(path, ""):
                self._commit(path, ed.toPlainText() or None)
        return handler

    def _text_done(self, path: tuple, ed: QLineEdit) -> None:
        if self._building:
            return
        text = ed.text()
        if text == self._shown.get(path, "") and not self.errors[path].isVisible():
            return
        self._commit(path, parse_text(text))

    def _commit(self, path: tuple, value: Any) -> None:
        if self._building:
            return
        problem = self.commit(path, value)
        if path not in self.errors:        # the form was rebuilt by the change
            return
        self.show_error(path, problem)

    def show_error(self, path: tuple, problem: str | None) -> None:
        err = self.errors[path]
        ed = self.editors[path]
        if problem:
            err.setText(problem)
            err.show()
            ed.setStyleSheet("border: 1.5px solid #c62828;")
        else:
            err.hide()
            ed.setStyleSheet("")
