"""Light and dark themes: the Qt palette and the colours the canvas and views draw with.

Colours for segment kinds are chosen to stay distinguishable for the common colour-vision
deficiencies (blue/orange/purple/grey rather than red versus green alone), and every kind also
has its own shape on the canvas, so colour is never the only cue.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication


@dataclass(frozen=True)
class Theme:
    name: str
    window: str
    base: str
    text: str
    muted: str
    canvas: str
    grid: str
    link: str
    link_selected: str
    label_bg: str          # #AARRGGBB, as QColor reads eight hex digits
    icon_stroke: str
    # segment kinds
    syn: str = "#2e7d32"
    synack: str = "#00897b"
    data: str = "#1565c0"
    ack: str = "#757575"
    fin: str = "#6a1b9a"
    rst: str = "#c62828"
    retx: str = "#ef6c00"
    drop: str = "#d32f2f"
    queue: str = "#f9a825"
    error: str = "#c62828"

    def color(self, name: str) -> QColor:
        return QColor(getattr(self, name))


LIGHT = Theme("light", window="#f5f6f7", base="#ffffff", text="#1f2933", muted="#607080",
              canvas="#fbfcfd", grid="#eef1f4", link="#78909c", link_selected="#1e88e5",
              label_bg="#e6ffffff", icon_stroke="#37474f")
DARK = Theme("dark", window="#1e2429", base="#263238", text="#eceff1", muted="#9fb0bd",
             canvas="#1b2227", grid="#242d33", link="#90a4ae", link_selected="#64b5f6",
             label_bg="#e6263238", icon_stroke="#eceff1", syn="#66bb6a", synack="#4db6ac",
             data="#64b5f6", ack="#bdbdbd", fin="#ce93d8", rst="#ef5350", retx="#ffa726",
             drop="#ff5252", queue="#ffd54f", error="#ff8a80")
THEMES = {"light": LIGHT, "dark": DARK}


def palette(theme: Theme) -> QPalette:
    """The Qt palette of ``theme`` (for the application, or one widget tree: an export stage
    wears a theme without changing the window's)."""
    pal = QPalette()
    c = QColor
    pal.setColor(QPalette.Window, c(theme.window))
    pal.setColor(QPalette.WindowText, c(theme.text))
    pal.setColor(QPalette.Base, c(theme.base))
    pal.setColor(QPalette.AlternateBase, c(theme.grid))
    pal.setColor(QPalette.Text, c(theme.text))
    pal.setColor(QPalette.Button, c(theme.window))
    pal.setColor(QPalette.ButtonText, c(theme.text))
    pal.setColor(QPalette.ToolTipBase, c(theme.base))
    pal.setColor(QPalette.ToolTipText, c(theme.text))
    pal.setColor(QPalette.PlaceholderText, c(theme.muted))
    pal.setColor(QPalette.Highlight, c(theme.link_selected))
    pal.setColor(QPalette.HighlightedText, c("#ffffff"))
    pal.setColor(QPalette.Link, c(theme.link_selected))
    for role in (QPalette.WindowText, QPalette.Text, QPalette.ButtonText):
        pal.setColor(QPalette.Disabled, role, c(theme.muted))
    return pal


def apply_theme(app: QApplication, theme: Theme) -> None:
    """Fusion style with a palette built from ``theme`` (the same look on every desktop)."""
    app.setStyle("Fusion")
    app.setPalette(palette(theme))
