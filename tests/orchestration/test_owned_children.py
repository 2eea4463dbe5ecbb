"""Child processes die with duban: Prefect's server after SIGKILL or SIGTERM, LibreOffice on timeout."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from duban.adapters.documents import PdfConversionError, convert_to_pdf, libreoffice_available
from duban.adapters.documents.pdf import soffice_path
from flows.common import SERVER_APP
from tests.conftest import ROOT, require
from tests.orchestration.helpers import live_processes

SERVER_MARK = SERVER_APP  # the owned server's command line names its app


def _alive(pid: int, mark: str) -> bool:
    entry = live_processes().get(pid)
    return entry is not None and mark in entry[1]


def _start_demo(tmp_path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DUBAN_DATA_DIR": str(tmp_path / "data"),
           "PREFECT_HOME": str(tmp_path / "prefect")}
    for name in ("DUBAN_DATABASE_URL", "PREFECT_API_URL"):
        env.pop(name, None)
    return subprocess.Popen(
        [sys.executable, "-c", "from duban.cli import main; main()", "demo", "--size", "small",
         "--plan", "seed-002", "--out", str(tmp_path / "out")],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _server_child(duban: subprocess.Popen[bytes], within_s: float = 300) -> int:
    """The pid of the Prefect server started by the duban process, once it exists."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        assert duban.poll() is None, duban.stderr.read().decode()[-2000:] if duban.stderr else ""
        for pid, (ppid, cmdline) in live_processes().items():
            if ppid == duban.pid and SERVER_MARK in cmdline:
                return pid
        time.sleep(0.2)
    raise AssertionError("the demo started no Prefect server")


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid, SERVER_MARK):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_prefect_server_dies_with_the_demo(tmp_path: Path, sig: signal.Signals) -> None:
    duban = _start_demo(tmp_path)
    server = None
    try:
        server = _server_child(duban)
        time.sleep(1)  # the server is up and the demo's flows are running on it
        started = time.monotonic()
        duban.send_signal(sig)
        duban.wait(timeout=30)
        exited_s = time.monotonic() - started
        assert _gone_within(server, 10), "the Prefect server outlived the demo"
        if sig == signal.SIGTERM:
            # A clean exit through the finally blocks, not the signal's default action.
            assert duban.returncode == 128 + signal.SIGTERM
            assert exited_s < 15
    finally:
        if duban.poll() is None:
            duban.kill()
            duban.wait()
        if server is not None and _alive(server, SERVER_MARK):
            os.kill(server, signal.SIGKILL)  # leave nothing behind even when the test fails


def test_a_libreoffice_timeout_leaves_no_soffice_behind(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    require(libreoffice_available(), "LibreOffice (soffice) is not installed")
    from docx import Document

    docx = tmp_path / "长文.docx"
    document = Document()
    document.add_paragraph("请各责任单位按时限完成整改。")
    document.save(str(docx))
    # A real LibreOffice (its soffice wrapper starting soffice.bin) given nothing to convert idles
    # until killed, so the conversion times out however fast the machine: a long document alone
    # converted within the timeout on a quiet machine, and the test proved nothing.
    real = soffice_path()
    idle = tmp_path / "soffice-idle"
    idle.write_text(f'#!/bin/sh\nexec "{real}" "$1" --headless --norestore --nologo --nodefault'
                    " --nolockcheck\n", encoding="utf-8")
    idle.chmod(0o755)
    monkeypatch.setenv("DUBAN_SOFFICE", str(idle))
    # The conversion's profile lives under tmp_path: its soffice.bin is told apart from others'.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    seen: set[int] = set()
    watching = threading.Event()
    watching.set()

    def watch() -> None:
        while watching.is_set():
            seen.update(pid for pid, (_, cmd) in live_processes().items()
                        if "soffice.bin" in cmd and str(tmp_path) in cmd)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        # Long enough for the wrapper to start soffice.bin even on a busy machine.
        with pytest.raises(PdfConversionError, match="生成PDF超时"):
            convert_to_pdf(docx, tmp_path / "pdf", timeout_s=8)
    finally:
        watching.clear()
        watcher.join()
    assert seen, "soffice.bin never started: the timeout proves nothing"
    time.sleep(0.5)
    left = [pid for pid in seen if _alive(pid, "soffice.bin")]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"soffice.bin outlived the timeout: {left}"


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_the_prefect_database_build_dies_with_its_parent(tmp_path: Path,
                                                         sig: signal.Signals) -> None:
    """The child migrating a new Prefect database template (flows.prefect_db) does not outlive
    the command that started it, and a SIGTERM leaves no partial file behind."""
    cache = tmp_path / "cache"
    parent = subprocess.Popen(
        [sys.executable, "-c",
         "from pathlib import Path\n"
         "from duban.adapters.children import exit_on_signals\n"
         "from flows import prefect_db\n"
         "with exit_on_signals():\n"
         f"    prefect_db.ensure_template(directory=Path({str(cache)!r}))\n"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    builder = None
    try:
        deadline = time.monotonic() + 120
        while builder is None and time.monotonic() < deadline:
            assert parent.poll() is None, parent.stderr.read().decode() if parent.stderr else ""
            builder = next((pid for pid, (ppid, cmdline) in live_processes().items()
                            if ppid == parent.pid and "provide_database_interface" in cmdline),
                           None)
            time.sleep(0.05)
        assert builder is not None, "no build started"
        parent.send_signal(sig)
        parent.wait(timeout=30)
        deadline = time.monotonic() + 10
        while _alive(builder, "provide_database_interface") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(builder, "provide_database_interface"), "the build outlived its parent"
        if sig == signal.SIGTERM:
            assert parent.returncode == 128 + signal.SIGTERM
            left = [p.name for p in cache.iterdir() if ".part" in p.name]
            assert not left, f"a partial template was left behind: {left}"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if builder is not None and _alive(builder, "provide_database_interface"):
            os.kill(builder, signal.SIGKILL)
