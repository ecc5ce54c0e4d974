"""Packaging (issue 7): the wheel and sdist carry the data files and an installed wheel runs
from anywhere; the one-folder application built with packaging/tcplab.spec runs headless and
opens its window; the desktop entry, AppStream metainfo and MIME type validate and register;
one version everywhere.

The desktop validators and PyInstaller are skipped when missing on a developer's machine, but
under CI (``CI`` set) a missing tool is a failure: .ci/run installs them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import sysconfig
import tarfile
import time
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import tcplab  # noqa: E402
from tcplab.resources import APP_ID, SESSION_MIME_TYPE, resources_dir  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
RESOURCES = ROOT / "resources"
VERSION = tcplab.__version__
#: The icon sizes desktops ask for (hicolor), besides the scalable SVG.
ICON_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
#: Said by Qt's offscreen platform itself; not a problem of the application.
PLATFORM_NOISE = ("This plugin does not support propagateSizeHints()",)


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is not installed; CI (.ci/run) must install it")
    pytest.skip(f"{what} is not installed")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        _missing(name)
    return path


def _module(name: str) -> None:
    if importlib.util.find_spec(name) is None:
        _missing(f"the Python package {name}")


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "TCPLAB_DEBUG")}
    env["PYTHONNOUSERSITE"] = "1"
    env.update(extra)
    return env


def _run(cmd, *, cwd, env=None, timeout=300) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env or _clean_env(),
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (f"{' '.join(map(str, cmd))} exited {proc.returncode}\n"
                                  f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}")
    return proc


def _gui_keeps_running(cmd, *, cwd, home: Path, seconds: float = 4.0) -> None:
    """Start the window offscreen; after ``seconds`` it must still be running, with nothing but
    the offscreen platform's own notices on stderr."""
    env = _clean_env(QT_QPA_PLATFORM="offscreen", TCPLAB_HOME=str(home))
    proc = subprocess.Popen([str(c) for c in cmd], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        time.sleep(seconds)
        alive = proc.poll() is None
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
    assert alive, f"the window exited with {proc.returncode} within {seconds} s:\n{err[-3000:]}"
    lines = [ln for ln in err.splitlines() if ln.strip() and ln.strip() not in PLATFORM_NOISE]
    assert not any("Traceback" in ln or "Error" in ln or "error:" in ln for ln in lines), \
        "\n".join(lines[-60:])
    assert (home / "autosave").is_dir(), "the window did not get as far as its autosave folder"


def _data_files() -> set[str]:
    """Every data file of resources/, relative to it (its maintainer scripts excluded)."""
    return {p.relative_to(RESOURCES).as_posix() for p in RESOURCES.rglob("*")
            if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts}


# ================================================================== the wheel and the sdist
@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> dict[str, Path]:
    """``python -m build`` of a copy of the working tree (so that nothing is written into it):
    the sdist, then the wheel built from that sdist, with the venv's setuptools."""
    _module("build")
    base = tmp_path_factory.mktemp("dists")
    src = base / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "*.pyc", ".pytest_cache",
        ".hypothesis"))
    out = base / "out"
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", out, src], cwd=base)
    wheels, sdists = list(out.glob("*.whl")), list(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(p.name for p in out.iterdir())
    return {"wheel": wheels[0], "sdist": sdists[0]}


def test_wheel_carries_every_data_file(dists):
    with zipfile.ZipFile(dists["wheel"]) as zf:
        names = set(zf.namelist())
    carried = {n.removeprefix("tcplab_resources/") for n in names if n.startswith("tcplab_resources/")}
    assert {"scenarios/handshake.toml", "lessons/01-handshake.toml", "icons/play.svg",
            "icons/tcplab.svg", "icons/hicolor/scalable/apps/tcplab.svg"} <= carried
    assert carried == _data_files()


def test_wheel_carries_every_module(dists):
    """The packages are listed in pyproject.toml (the data package is mapped from resources/):
    a new package under tcplab/ must be added there."""
    with zipfile.ZipFile(dists["wheel"]) as zf:
        names = set(zf.namelist())
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "tcplab").rglob("*.py")
               if "__pycache__" not in p.parts}
    missing = sorted(modules - names)
    assert not missing, f"not in the wheel (add their packages to pyproject.toml): {missing}"


def test_wheel_metadata_version_is_the_package_version(dists):
    assert dists["wheel"].name.startswith(f"tcplab-{VERSION}-")
    with zipfile.ZipFile(dists["wheel"]) as zf:
        meta = zf.read(f"tcplab-{VERSION}.dist-info/METADATA").decode()
        entry_points = zf.read(f"tcplab-{VERSION}.dist-info/entry_points.txt").decode()
    assert re.search(r"^Version: (\S+)$", meta, re.M).group(1) == VERSION
    assert re.search(r"^tcplab = tcplab\.cli:main$", entry_points, re.M)


def test_sdist_carries_resources_and_packaging(dists):
    top = f"tcplab-{VERSION}"
    with tarfile.open(dists["sdist"]) as tf:
        names = {n.removeprefix(f"{top}/") for n in tf.getnames()}
    assert {"pyproject.toml", "README.md", "resources/icons/render_png.py",
            f"packaging/{APP_ID}.desktop", f"packaging/{APP_ID}.metainfo.xml",
            f"packaging/{APP_ID}.mime.xml", "packaging/tcplab.spec",
            "packaging/install-desktop.sh"} <= names
    assert {f"resources/{f}" for f in _data_files()} <= names


@pytest.fixture(scope="module")
def installed(dists, tmp_path_factory) -> dict[str, Path]:
    """The wheel installed by pip into a new venv. Its dependencies are not downloaded: the
    venv sees the project venv's site-packages through a .pth file, which adds them as plain
    folders (the editable tcplab there is not activated: .pth files are read only in site
    folders), so tcplab itself can only come from the wheel."""
    base = tmp_path_factory.mktemp("installed")
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=base)
    python = venv / "bin" / "python"
    site = Path(subprocess.check_output(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True).strip())
    (site / "zz_project_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
          "--no-cache-dir", "-q", dists["wheel"]], cwd=base)
    elsewhere = base / "elsewhere"
    elsewhere.mkdir()
    return {"venv": venv, "python": python, "tcplab": venv / "bin" / "tcplab", "cwd": elsewhere}


def test_installed_wheel_finds_its_files_outside_the_checkout(installed):
    probe = ("import json, tcplab, tcplab.resources as r, tcplab.lessons as l, tcplab.scenario as s;"
             "print(json.dumps([tcplab.__file__, str(r.resources_dir()), len(l.builtin_lessons()),"
             "sorted(s.builtin_scenarios())]))")
    out = _run([installed["python"], "-c", probe], cwd=installed["cwd"]).stdout
    module, data, lessons, scenarios = json.loads(out)
    venv = installed["venv"].resolve()
    assert Path(module).resolve().is_relative_to(venv), module
    assert Path(data).resolve().is_relative_to(venv) and Path(data).name == "tcplab_resources", data
    assert lessons == len(list((RESOURCES / "lessons").glob("*.toml"))) > 0
    assert scenarios == sorted(p.stem for p in (RESOURCES / "scenarios").glob("*.toml"))


def test_installed_wheel_commands(installed):
    exe, cwd = installed["tcplab"], installed["cwd"]
    assert _run([exe, "--version"], cwd=cwd).stdout.strip() == f"tcplab {VERSION}"
    listing = _run([exe, "run", "--list"], cwd=cwd).stdout
    assert re.search(r"^handshake\s", listing, re.M) and re.search(r"^bulk\s", listing, re.M)
    summary = json.loads(_run([exe, "run", "handshake", "--summary"], cwd=cwd).stdout)
    assert summary["scenario"] == "handshake" and summary["connections"]


def test_installed_wheel_opens_the_window(installed, tmp_path):
    _gui_keeps_running([installed["tcplab"]], cwd=installed["cwd"], home=tmp_path / "home")


# ==================================================================== one version everywhere
def test_cli_and_about_dialog_show_the_same_version(qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from tcplab.gui.mainwindow import LabWindow

    cli = subprocess.run([sys.executable, "-m", "tcplab.cli", "--version"], capture_output=True,
                         text=True, cwd=tmp_path, timeout=60)
    assert cli.returncode == 0
    cli_version = re.fullmatch(r"tcplab (\S+)\n", cli.stdout).group(1)

    monkeypatch.setenv("TCPLAB_HOME", str(tmp_path / "home"))
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "about", staticmethod(lambda parent, title, text: shown.append(text)))
    window = LabWindow()
    qtbot.addWidget(window)
    try:
        window.actions_by_key["about"].trigger()
    finally:
        window.controller.pause()
    assert len(shown) == 1
    about_version = re.search(r"tcplab (\S+?)<", shown[0]).group(1)
    assert cli_version == about_version == VERSION


def test_metainfo_release_is_the_package_version():
    root = ET.parse(PACKAGING / f"{APP_ID}.metainfo.xml").getroot()
    newest = root.find("releases/release")
    assert newest.get("version") == VERSION, "add a <release> for the new version to the metainfo"


# ============================================================= desktop entry, metainfo, MIME
def test_app_id_is_the_same_everywhere():
    desktop = (PACKAGING / f"{APP_ID}.desktop").read_text()
    entry = dict(line.split("=", 1) for line in desktop.splitlines() if "=" in line)
    assert entry["Icon"] == APP_ID and entry["Exec"] == "tcplab %f"
    assert entry["MimeType"].split(";")[:1] == [SESSION_MIME_TYPE]
    meta = ET.parse(PACKAGING / f"{APP_ID}.metainfo.xml").getroot()
    assert meta.findtext("id") == APP_ID
    assert meta.findtext("launchable") == f"{APP_ID}.desktop"
    assert meta.findtext("icon") == APP_ID
    assert meta.findtext("provides/binary") == "tcplab"
    assert meta.findtext("provides/mediatype") == SESSION_MIME_TYPE
    assert meta.find("content_rating") is not None
    ns = {"m": "http://www.freedesktop.org/standards/shared-mime-info"}
    mime = ET.parse(PACKAGING / f"{APP_ID}.mime.xml").getroot()
    types = mime.findall("m:mime-type", ns)
    assert [t.get("type") for t in types] == [SESSION_MIME_TYPE]
    assert types[0].find("m:glob", ns).get("pattern") == "*.tcplab"
    assert types[0].find("m:icon", ns).get("name") == APP_ID


def test_desktop_file_validates():
    tool = _tool("desktop-file-validate")
    proc = subprocess.run([tool, PACKAGING / f"{APP_ID}.desktop"], capture_output=True, text=True)
    assert proc.returncode == 0 and not proc.stdout.strip() and not proc.stderr.strip(), \
        proc.stdout + proc.stderr


def test_metainfo_validates():
    tool = _tool("appstreamcli")
    proc = subprocess.run([tool, "validate", "--no-net", PACKAGING / f"{APP_ID}.metainfo.xml"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", path
    return struct.unpack(">II", head[16:24])


@pytest.mark.parametrize("size", ICON_SIZES)
def test_app_icon_in_every_desktop_size(size):
    png = resources_dir() / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "tcplab.png"
    assert png.is_file(), f"missing {png}: run resources/icons/render_png.py"
    assert _png_size(png) == (size, size)


def test_install_desktop_registers_the_session_type(tmp_path):
    """install-desktop.sh into a scratch data folder: the entry validates, the MIME database
    knows *.tcplab and which application opens it (what a double-click asks), and --uninstall
    takes everything away again."""
    update_mime = _tool("update-mime-database")
    _tool("update-desktop-database")
    validate = _tool("desktop-file-validate")
    prefix = tmp_path / "share dir"
    exe = "/opt/tcp lab/tcplab"
    _run(["sh", PACKAGING / "install-desktop.sh", "--prefix", prefix, "--exec", exe], cwd=tmp_path)
    desktop = prefix / "applications" / f"{APP_ID}.desktop"
    text = desktop.read_text()
    assert f'Exec="{exe}" %f' in text.splitlines() and f"TryExec={exe}" in text.splitlines()
    assert subprocess.run([validate, desktop], capture_output=True).returncode == 0
    assert (prefix / "metainfo" / f"{APP_ID}.metainfo.xml").is_file()
    for size in ICON_SIZES:
        assert (prefix / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png").is_file()
    assert (prefix / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg").is_file()
    assert update_mime  # the database was built by the script:
    assert "*.tcplab" in (prefix / "mime" / "globs2").read_text()
    cache = (prefix / "applications" / "mimeinfo.cache").read_text()
    assert f"{SESSION_MIME_TYPE}={APP_ID}.desktop;" in cache.splitlines()

    probe = ("from PySide6.QtCore import QCoreApplication, QMimeDatabase\n"
             "app = QCoreApplication([])\n"
             "t = QMimeDatabase().mimeTypeForFile('/nowhere/run.tcplab', QMimeDatabase.MatchExtension)\n"
             "print(t.name(), t.iconName(), ','.join(t.parentMimeTypes()))\n")
    out = _run([sys.executable, "-c", probe], cwd=tmp_path,
               env=_clean_env(XDG_DATA_HOME=str(prefix))).stdout.split()
    assert out == [SESSION_MIME_TYPE, APP_ID, "application/zip"]

    _run(["sh", PACKAGING / "install-desktop.sh", "--prefix", prefix, "--uninstall"], cwd=tmp_path)
    left = [p for p in prefix.rglob(f"{APP_ID}*") if p.is_file()]
    assert not left, left
    assert "*.tcplab" not in (prefix / "mime" / "globs2").read_text()


# ================================================================ the one-folder application
@pytest.mark.slow
def test_pyinstaller_one_folder_app(tmp_path):
    _module("PyInstaller")
    dist, work = tmp_path / "dist", tmp_path / "build"
    _run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
          "--distpath", dist, "--workpath", work, PACKAGING / "tcplab.spec"],
         cwd=tmp_path, timeout=900)
    app = dist / "tcplab"
    exe = app / "tcplab"
    assert exe.is_file() and os.access(exe, os.X_OK)
    for name in (f"share/{APP_ID}.desktop", f"share/{APP_ID}.metainfo.xml",
                 f"share/{APP_ID}.mime.xml", "install-desktop.sh"):
        assert (app / name).is_file(), name
    bundled = {p.relative_to(app / "_internal" / "tcplab_resources").as_posix()
               for p in (app / "_internal" / "tcplab_resources").rglob("*") if p.is_file()}
    assert bundled == _data_files()
    assert list((app / "_internal" / "imageio_ffmpeg" / "binaries").glob("ffmpeg*")), \
        "imageio-ffmpeg's ffmpeg is not in the bundle"

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert _run([exe, "--version"], cwd=elsewhere).stdout.strip() == f"tcplab {VERSION}"
    summary = json.loads(_run([exe, "run", "handshake", "--summary"], cwd=elsewhere).stdout)
    assert summary["scenario"] == "handshake" and summary["connections"]
    session = elsewhere / "loss.tcplab"
    _run([exe, "run", "loss", "--record", session, "--summary"], cwd=elsewhere)
    _gui_keeps_running([exe], cwd=elsewhere, home=tmp_path / "home")
    # what a double-click on a session file runs
    _gui_keeps_running([exe, session], cwd=elsewhere, home=tmp_path / "home2")
    # the bundle's own desktop installer points the menu entry at this executable
    prefix = tmp_path / "share"
    _run(["sh", app / "install-desktop.sh", "--prefix", prefix], cwd=elsewhere)
    text = (prefix / "applications" / f"{APP_ID}.desktop").read_text()
    assert f"Exec={exe} %f" in text.splitlines()
