"""Start the lab window: ``tcplab`` (the default lesson) or ``tcplab FILE``."""

from __future__ import annotations

import sys
from pathlib import Path

from tcplab import __version__
from tcplab.resources import APP_ID


def main(path: str | None = None, builtin: str | None = None, argv: list[str] | None = None) -> int:
    """Open the window on ``path`` (a scenario file), on the built-in scenario ``builtin``, or on
    the default lesson, and run the Qt event loop."""
    from PySide6.QtWidgets import QApplication, QMessageBox

    from tcplab.gui import icons
    from tcplab.gui.mainwindow import LabWindow
    from tcplab.scenario.document import ScenarioDocument
    from tcplab.scenario.spec import ScenarioError

    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("tcplab")
    app.setOrganizationName("tcplab")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName(APP_ID)        # matches packaging/<APP_ID>.desktop
    app.setWindowIcon(icons.app_icon())
    doc = None
    error = None
    session = path is not None and str(path).endswith(".tcplab")
    if path is not None and not session:
        try:
            doc = ScenarioDocument.from_file(Path(path), partial=True)
        except (ScenarioError, OSError) as e:
            error = str(e)
    elif builtin is not None:
        doc = ScenarioDocument.from_builtin(builtin)
    window = LabWindow(doc)
    window.show()
    if session:
        window.open_session(path)
    elif error:
        QMessageBox.warning(window, "Cannot open", f"{error}\n\nThe default lesson is open instead.")
    elif path is None and builtin is None:
        window.offer_restore()
    return app.exec()
