"""`duban demo` end to end: a whole campaign in simulated time, files written, all closed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from docx import Document
from openpyxl import load_workbook

DUBAN = Path(sys.executable).with_name("duban")


@pytest.mark.slow
def test_demo_runs_a_whole_campaign(tmp_path: Path) -> None:
    env = {**os.environ, "DUBAN_DATA_DIR": str(tmp_path / "data"),
           "PREFECT_HOME": str(tmp_path / "prefect")}
    env.pop("DUBAN_DATABASE_URL", None)
    result = subprocess.run([str(DUBAN), "demo", "--size", "small", "--out", "out"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "已销号" in out and "演示完成" in out and "Traceback" not in result.stderr
    for stage in ("排查阶段", "集中整改阶段", "提升阶段"):
        assert stage in out
    # Seed 002's 帮扶责任人每周五走访: the simulated towns did some and missed others.
    assert re.search(r"常态化工作：已到期 \d+ 项，按时完成 [1-9]\d*，逾期完成 \d+，逾期未完成 [1-9]", out), out
    notices = sorted((tmp_path / "out" / "notices").glob("*.docx"))
    assert notices, "the rectify stage issues supervision notices"
    text = "\n".join(p.text for p in Document(str(notices[0])).paragraphs)
    assert "督办通知书" in text and "〔2022〕" in text
    numbers = sorted(int(p.name.split("〔2022〕")[1].split("号")[0]) for p in notices)
    assert numbers == list(range(1, len(numbers) + 1)), "文号 have no gaps"
    assert list((tmp_path / "out" / "reports").glob("日报-*.docx"))
    ledger = load_workbook(tmp_path / "out" / "整改台账.xlsx", read_only=True)
    assert ledger.active is not None and ledger.active.max_row > 1
    # duban serve opens the demo's data: the default database holds the campaign.
    listed = subprocess.run([str(DUBAN), "campaign", "list"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert "沈丘县" in listed.stdout
