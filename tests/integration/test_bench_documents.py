"""The issuing benchmark issues the notices its floor fills, and no others."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_the_issuing_benchs_campaign_issues_one_notice_a_office_of_its_rows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """bench.documents_suite's campaign: `offices` notices of `each` problems, each problem's
    co-office 县住建局 (copied on its lead's notice, as the floor's rows name it); no town's
    notice of every problem with its list as a spreadsheet, which the floor never filled."""
    from bench.documents_suite import _campaign_with_offices
    from duban.services.notices.issuing import issue_notices

    monkeypatch.setenv("DUBAN_DATA_DIR", str(tmp_path / "data"))
    db, clock, campaign = _campaign_with_offices(f"sqlite:///{tmp_path}/b.db", 3, 4)
    try:
        issued = db.run(issue_notices, clock, campaign, issued_by="bench", batch_key="b")
    finally:
        db.dispose()
    assert sorted(n.office_code for n in issued) == ["bench-000", "bench-001", "bench-002"]
    assert all(len(n.problem_ids) == 4 for n in issued)
    assert not list((tmp_path / "data").rglob("*.xlsx"))
