"""Progress of the long commands: drawn by rich on a terminal (a pty here), plain lines in a
pipe or a log; the results stay on stdout either way."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from duban.cli.progress import progress

ROOT = Path(__file__).resolve().parents[2]
DUBAN = Path(sys.executable).with_name("duban")
PLAN = ROOT / "plans/seed-003-shaoyun-2022.yaml"
NOW = "2022-05-10T09:00"


def test_plain_lines_without_a_terminal() -> None:
    out = io.StringIO()
    with progress(out) as shown:
        assert not shown.drawn
        shown.step("生成日报")
        count = shown.count("写入问题")
        for done in range(0, 101, 10):
            count(done, 100)
    lines = out.getvalue().splitlines()
    assert lines == ["生成日报…", "写入问题：0/100（0%）", "写入问题：30/100（30%）",
                     "写入问题：50/100（50%）", "写入问题：80/100（80%）",
                     "写入问题：100/100（100%）"]
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()


def _env(tmp: Path) -> dict[str, str]:
    environment = {**os.environ, "DUBAN_DATA_DIR": str(tmp / "data"), "TERM": "xterm-256color",
                   "COLUMNS": "100", "DUBAN_NOW": NOW}
    for name in ("DUBAN_DATABASE_URL", "NO_COLOR", "CI", "FORCE_COLOR"):
        environment.pop(name, None)
    return environment


def _launched(tmp: Path) -> dict[str, str]:
    environment = _env(tmp)
    launched = subprocess.run([str(DUBAN), "campaign", "launch", str(PLAN)], cwd=tmp,
                              env=environment, capture_output=True, text=True, timeout=300,
                              check=False)
    assert launched.returncode == 0, launched.stderr
    return environment


def _in_a_pty(args: list[str], cwd: Path, environment: dict[str, str]) -> tuple[int, str]:
    """Run a command with its stdout and stderr on a pseudo-terminal; (exit code, output)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(args, cwd=cwd, env=environment, stdin=subprocess.DEVNULL,
                            stdout=follower, stderr=follower, close_fds=True)
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 1.0)
            if ready:
                try:
                    data = os.read(leader, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(leader)
    return code, b"".join(chunks).decode("utf-8", "replace")


def test_a_long_command_draws_on_a_terminal_and_writes_lines_in_a_pipe(tmp_path: Path) -> None:
    environment = _launched(tmp_path)
    code, drawn = _in_a_pty([str(DUBAN), "report", "ledger", "--out", "台账.xlsx"], tmp_path,
                            environment)
    assert code == 0, drawn
    assert "\x1b[" in drawn  # rich drew it in place (cursor and colour codes)
    assert "导出整改台账" in drawn and "已生成：台账.xlsx" in drawn
    assert "导出整改台账…" not in drawn  # not the plain line

    piped = subprocess.run([str(DUBAN), "report", "ledger", "--out", "台账2.xlsx"],
                           cwd=tmp_path, env=environment, capture_output=True, text=True,
                           timeout=300, check=False)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == "已生成：台账2.xlsx\n"
    assert piped.stderr == "导出整改台账…\n"
    assert "\x1b" not in piped.stderr + piped.stdout and "\r" not in piped.stderr


def test_the_terminal_bar_counts(tmp_path: Path) -> None:
    script = ("from duban.cli.progress import progress\n"
              "with progress() as shown:\n"
              "    shown.step('比对')\n"
              "    count = shown.count('写入问题')\n"
              "    for done in range(0, 41, 8):\n"
              "        count(done, 40)\n"
              "    shown.echo('完成：40')\n")
    code, drawn = _in_a_pty([sys.executable, "-c", script], tmp_path, _env(tmp_path))
    assert code == 0, drawn
    assert "\x1b[" in drawn and "40/40" in drawn and "完成：40" in drawn
    assert "写入问题：" not in drawn  # the plain lines are for pipes
