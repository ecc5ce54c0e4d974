"""The engine never needs Qt: a scenario runs, end to end, with PySide6 made unimportable."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BLOCK_QT = r"""
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("PySide6", "pyqtgraph", "shiboken6"):
            raise ImportError(f"{name} is blocked in this test")
        return None
sys.meta_path.insert(0, _Block())
from tcplab.cli import main
code = main(["run", "loss", "--summary"])
assert not any(m.split(".")[0] in ("PySide6", "pyqtgraph") for m in sys.modules), "Qt was imported"
sys.exit(code)
"""


def test_headless_run_without_qt():
    proc = subprocess.run([sys.executable, "-c", BLOCK_QT], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert '"final_state"' in proc.stdout


def test_no_engine_module_imports_qt():
    engine = [p for p in (ROOT / "tcplab").rglob("*.py") if "gui" not in p.parts]
    offenders = []
    for path in engine:
        for line in path.read_text().splitlines():
            s = line.strip()
            if s.startswith(("import PySide6", "from PySide6", "import pyqtgraph", "from pyqtgraph")):
                offenders.append(f"{path.relative_to(ROOT)}: {s}")
    assert offenders == []


def test_record_and_export_without_qt(tmp_path):
    script = BLOCK_QT.replace(
        'code = main(["run", "loss", "--summary"])',
        f'code = main(["run", "loss", "--record", r"{tmp_path}/s.tcplab"]) or '
        f'main(["export", r"{tmp_path}/s.tcplab", "--csv", r"{tmp_path}/e.csv", '
        f'"--pcap", r"{tmp_path}/c.pcapng"])')
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "e.csv").stat().st_size > 0 and (tmp_path / "c.pcapng").stat().st_size > 0
