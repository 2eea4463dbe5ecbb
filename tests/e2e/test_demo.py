"""`duban demo` end to end: each seed's whole campaign in simulated time, to its close (总结)."""

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

# The seed run by default (make demo's own); the others are slow-marked. Seed 000's campaign
# is run by tests/e2e/test_wheel.py from the installed wheel, with every check below
# (check_demo): one whole campaign fewer in the slow suite.
SEEDS = [
    pytest.param("seed-002", "沈丘县", id="seed-002"),
    pytest.param("seed-001", "云阳", id="seed-001", marks=pytest.mark.slow),
    pytest.param("seed-003", "少云", id="seed-003", marks=pytest.mark.slow),
    pytest.param("seed-004", "抓整改", id="seed-004", marks=pytest.mark.slow),
]


def figure(out: str, label: str) -> int:
    """The count printed beside a label in one of the summary's tables."""
    found = re.search(rf"^{re.escape(label)}\s+(\d+)", out, re.MULTILINE)
    assert found, f"{label} missing from the summary:\n{out}"
    return int(found.group(1))


def run_demo(tmp_path: Path, plan: str) -> tuple[str, dict[str, str]]:
    """`duban demo` of the checkout in tmp_path; its summary and environment."""
    env = {**os.environ, "DUBAN_DATA_DIR": str(tmp_path / "data"),
           "PREFECT_HOME": str(tmp_path / "prefect"),
           "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300"}
    env.pop("DUBAN_DATABASE_URL", None)
    result = subprocess.run([str(DUBAN), "demo", "--size", "small", "--plan", plan, "--out", "out"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=2400,
                            check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "演示完成" in result.stdout and "Traceback" not in result.stderr
    return result.stdout, env


# A whole campaign takes 6–12 minutes on a quiet 2-core machine; pytest-timeout's default
# (600 s) would cut a loaded run short, while run_demo's own limit (2400 s) still stops a hang.
@pytest.mark.timeout(2500)
@pytest.mark.parametrize(("plan", "place"), SEEDS)
def test_demo_runs_a_seed_campaign_to_its_close(tmp_path: Path, plan: str, place: str) -> None:
    out, env = run_demo(tmp_path, plan)
    check_demo(out, tmp_path, env, plan, place, DUBAN)


def check_demo(out: str, cwd: Path, env: dict[str, str], plan: str, place: str,
               duban: Path) -> None:
    """What a demo run to its close leaves: its summary `out`, its files in cwd/out, and the
    default database (read by `duban` run in cwd with env) holding the campaign, closed."""
    files = cwd / "out"
    # Closed (总结), with its closing report written.
    assert "状态：已总结" in out, out
    assert re.search(r"^行动已总结（\d{4}-\d\d-\d\d，", out, re.MULTILINE), out
    assert list((files / "closing").glob("*-总结报告-*年*月*日.docx"))  # named, not numbered
    # Notices to the lead offices, the towns or co-offices, and rolling notices for the items
    # reported late (补报).
    assert figure(out, "督办通知书（合计）") > 0
    assert figure(out, "其中主送乡镇") + figure(out, "其中只列配合整改问题（协办单位单独下发）") \
        + figure(out, "抄送协办单位（份次）") > 0
    assert "已导入补报的问题台账" in out
    assert figure(out, "滚动下发的督办通知书") > 0
    # Reports delivered.
    assert figure(out, "日报已送达（站内信、邮件、机器人）") > 0
    # The ladder's documents, written to out/reminders and out/bulletins.
    reminders = sorted((files / "reminders").glob("*.docx"))
    bulletins = sorted((files / "bulletins").glob("*.docx"))
    assert figure(out, "催办通知（逾期未改，按办室）") == len(reminders) > 0
    assert figure(out, "通报（逾期未改，全县）") == len(bulletins) > 0
    assert "催办" in "\n".join(p.text for p in Document(str(reminders[0])).paragraphs)
    assert "通报" in "\n".join(p.text for p in Document(str(bulletins[0])).paragraphs)
    # A failed spot check reopened a closed item (seed 002's 督导组 check 不定期, ad hoc).
    assert figure(out, "抽查不合格重新打开的销号问题（个）") > 0
    if plan in ("seed-001", "seed-002"):
        assert figure(out, "其中不定期抽查（项）") > 0
    # Recurring duties (every seed but 000 sets some): the units did some and missed others.
    if plan != "seed-000":
        assert re.search(r"常态化工作：已到期 \d+ 项，按时完成 [1-9]\d*，逾期完成 \d+，逾期未完成 [1-9]",
                         out), out
    notices = sorted((files / "notices").glob("*.docx"))
    text = "\n".join(p.text for p in Document(str(notices[0])).paragraphs)
    assert "督办通知书" in text
    ledger = load_workbook(files / "整改台账.xlsx", read_only=True)
    # The streaming writer writes no <dimension>, so read-only max_row is None: count rows.
    assert ledger.active is not None
    assert sum(1 for _ in ledger.active.iter_rows(values_only=True)) > 1
    # duban serve opens the demo's data: the default database holds the campaign, closed.
    listed = subprocess.run([str(duban), "campaign", "list"], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert place in listed.stdout and "已总结" in listed.stdout

