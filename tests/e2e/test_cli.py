"""The `duban` command as a user runs it: Chinese help, Chinese errors, no tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DUBAN = Path(sys.executable).with_name("duban")


def run(*args: str, tmp: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "DUBAN_DATA_DIR": str(tmp / "data"), **(env or {})}
    environment.pop("DUBAN_DATABASE_URL", None)
    return subprocess.run([str(DUBAN), *args], cwd=tmp, env=environment, capture_output=True,
                          text=True, timeout=300, check=False)


def test_help_is_in_chinese(tmp_path: Path) -> None:
    out = run("--help", tmp=tmp_path).stdout
    assert "用法：" in out and "命令" in out and "选项" in out
    for command in ("init", "plan", "campaign", "problem", "audit", "import", "template"):
        assert f"  {command} " in out


def test_ten_mistakes_are_all_listed_and_nothing_written(tmp_path: Path) -> None:
    bad = ROOT / "tests/data/plans/ten-mistakes.yaml"
    result = run("campaign", "launch", str(bad), tmp=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("错误：")
    assert result.stderr.count("\n  - ") + result.stderr.count("\n") >= 10
    listed = run("campaign", "list", tmp=tmp_path)
    assert "暂无行动" in listed.stdout


def test_launch_list_show_move_and_audit(tmp_path: Path) -> None:
    plan = ROOT / "plans/seed-003-shaoyun-2022.yaml"
    now = {"DUBAN_NOW": "2022-05-10T09:00"}
    assert run("init", tmp=tmp_path).returncode == 0
    launched = run("campaign", "launch", str(plan), tmp=tmp_path, env=now)
    assert launched.returncode == 0, launched.stderr
    assert "行动已启动：编号 1" in launched.stdout
    assert "少云" in run("campaign", "list", tmp=tmp_path).stdout
    assert "走访排查" in run("campaign", "show", "1", tmp=tmp_path, env=now).stdout
    illegal = run("problem", "move", "W000001", "close", "--as", "county", tmp=tmp_path)
    assert illegal.returncode == 1 and "问题不存在" in illegal.stderr
    assert "Traceback" not in illegal.stderr
    unknown = run("campaign", "templates", "9", "--reset", tmp=tmp_path)
    assert unknown.returncode == 1 and "行动不存在：编号 9" in unknown.stderr
    reset = run("campaign", "templates", "1", "--reset", tmp=tmp_path)
    assert reset.returncode == 0 and "本行动没有自带模板" in reset.stdout, reset.stderr


def test_unknown_command_is_refused_in_chinese(tmp_path: Path) -> None:
    result = run("campagn", tmp=tmp_path)
    assert result.returncode == 2 and "没有这个命令" in result.stderr


@pytest.mark.parametrize("kind", ["households", "visits", "problems"])
def test_template_export(tmp_path: Path, kind: str) -> None:
    out = tmp_path / f"{kind}.xlsx"
    result = run("template", "export", kind, "--out", str(out), tmp=tmp_path)
    assert result.returncode == 0, result.stderr
    assert out.exists() and out.stat().st_size > 1000
