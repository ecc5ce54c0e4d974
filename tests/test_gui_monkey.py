"""A monkey test: 2,000 random UI actions on the lab window, with no exception and no Qt warning."""

from __future__ import annotations

import random

import pytest

from guikit import QtMessages

from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtWidgets import (QApplication, QCheckBox, QComboBox, QFileDialog,  # noqa: E402
                               QInputDialog, QLineEdit, QMessageBox)

from tcplab.gui.controller import SPEEDS  # noqa: E402
from tcplab.gui.mainwindow import LabWindow  # noqa: E402

TEXTS = ["0", "0.1", "1.5", "-1", "5ms", '"5ms"', "10Mbps", "abc", "", "true", "99999999999",
         "1e9", "r9", "x y", "[1, 2]", "{a=1}", '"', "0.5", "3", "reno", "cubic"]
SKIP = {"quit", "open", "save", "save_as", "fullscreen", "about", "presenter"}  # presenter: its own test


@pytest.mark.slow
def test_two_thousand_random_actions(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("TCPLAB_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.Discard))
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda *a, **k: QMessageBox.Ok))
    monkeypatch.setattr(QMessageBox, "about", staticmethod(lambda *a, **k: None))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: ("", "")))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: ("", "")))
    rng = random.Random(20261129)
    monkeypatch.setattr(QInputDialog, "getText",
                        staticmethod(lambda *a, **k: (rng.choice(["n1", "bad name", "", "h_2"]), True)))
    with QtMessages() as qt:
        w = LabWindow()
        qtbot.addWidget(w)
        w.resize(1280, 800)
        w.show()
        qtbot.waitExposed(w)
        actions = [k for k in w.actions_by_key if k not in SKIP]
        builtins = [a.text() for a in w.builtin_menu.actions()]
        vp = w.view.viewport()
        done = {"menu": 0, "action": 0, "click": 0, "drag": 0, "field": 0, "knob": 0, "cursor": 0}
        for step in range(2000):
            r = rng.random()
            if r < 0.25:
                key = rng.choice(actions)
                a = w.actions_by_key[key]
                if a.isEnabled():
                    a.trigger()
                done["action"] += 1
            elif r < 0.40:
                w.set_mode(rng.choice(["select", "host", "router", "link", "select"]))
                p = QPoint(rng.randrange(vp.width()), rng.randrange(vp.height()))
                qtbot.mouseClick(vp, Qt.LeftButton, pos=p)
                done["click"] += 1
            elif r < 0.50:
                names = list(w.scene.nodes)
                if names:
                    src = w.view.mapFromScene(w.scene.nodes[rng.choice(names)].pos())
                    dst = (w.view.mapFromScene(w.scene.nodes[rng.choice(names)].pos())
                           if rng.random() < 0.7 else
                           QPoint(rng.randrange(vp.width()), rng.randrange(vp.height())))
                    qtbot.mousePress(vp, Qt.LeftButton, pos=src)
                    qtbot.mouseMove(vp, dst)
                    qtbot.mouseRelease(vp, Qt.LeftButton, pos=dst)
                done["drag"] += 1
            elif r < 0.68:
                elements = [("node", n) for n in w.scene.nodes] + [("link", n) for n in w.scene.links]
                if elements and rng.random() < 0.7:
                    w.scene.select(rng.sample(elements, k=min(len(elements), rng.choice([1, 1, 2]))))
                else:
                    w.scene.clearSelection()
                panel = rng.choice([w.properties, w.connections])
                forms = [panel.form] + ([panel.tcp_form] if panel.tcp_box.isVisible() else [])
                form = rng.choice(forms)
                if form.editors:
                    path = rng.choice(list(form.editors))
                    ed = form.editors[path]
                    if isinstance(ed, QLineEdit):
                        ed.setText(rng.choice(TEXTS))
                        ed.editingFinished.emit()
                    elif isinstance(ed, QCheckBox):
                        ed.setChecked(not ed.isChecked())
                    elif isinstance(ed, QComboBox) and ed.count():
                        ed.setCurrentIndex(rng.randrange(ed.count()))
                        ed.activated.emit(ed.currentIndex())
                done["field"] += 1
            elif r < 0.80:
                k = w.knobs
                if k.link.count():
                    k.link.setCurrentIndex(rng.randrange(k.link.count()))
                    k.direction.setCurrentIndex(rng.randrange(k.direction.count()))
                    name = rng.choice(list(k.spins))
                    spin = k.spins[name]
                    spin.setValue(rng.uniform(spin.minimum(), min(spin.maximum(), 200)))
                    if rng.random() < 0.2:
                        k.drop_button.click()
                done["knob"] += 1
            elif r < 0.86:
                choice = rng.random()
                if choice < 0.4 and w.scene.packets:
                    uid = rng.choice(list(w.scene.packets))
                    w.scene.perform_menu(("packet", uid, rng.choice(["drop", "duplicate", "delay"])))
                elif choice < 0.6 and w.scene.links:
                    w.scene.perform_menu(("link", rng.choice(list(w.scene.links)),
                                          rng.choice(["drop_next", "delete"])))
                elif choice < 0.8 and w.scene.nodes:
                    w.scene.perform_menu(("node", rng.choice(list(w.scene.nodes)),
                                          rng.choice(["rename", "delete"])))
                else:
                    w.scene.perform_menu(("add", rng.choice(["host", "router"]),
                                          QPointF(rng.uniform(-200, 800), rng.uniform(-200, 600))))
                done["menu"] += 1
            elif r < 0.90:
                if rng.random() < 0.7:
                    w.timeline.slider.setValue(rng.randrange(w.timeline.slider.maximum() + 1))
                else:
                    w.timeline.live_button.click()
                if w.scene.packets and rng.random() < 0.5:
                    w.scene.packetSelected.emit(rng.choice(list(w.scene.packets)))
                done["cursor"] += 1
            elif r < 0.93:
                w.speed_slider.setValue(rng.randrange(len(SPEEDS)))
                if w.controller.speed is None and rng.random() < 0.8:
                    w.speed_slider.setValue(3)
            elif r < 0.97:
                if rng.random() < 0.1:
                    w.open_builtin(rng.choice(builtins))
                elif rng.random() < 0.5:
                    w.add_app(rng.choice(["bulk", "request", "echo", "typing"]))
                elif w.connections.current():
                    w.remove_app(w.connections.current())
            else:
                w.undo.undo() if rng.random() < 0.6 else w.undo.redo()
            QApplication.processEvents()
            if w.controller.playing and rng.random() < 0.3:
                qtbot.wait(5)
        w.controller.pause()
    assert not qt.messages, qt.messages[:5]
    assert all(v > 50 for v in done.values()), done
