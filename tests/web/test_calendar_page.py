"""The county office's holiday page: paste the notice, see the year, save the year file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from duban.adapters.calendar import read_year_file
from duban.services.calendars import working_calendar
from tests.web.conftest import World

NOTICES = Path(__file__).resolve().parents[1] / "data" / "notices"


@pytest.fixture
def calendar_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "calendars"
    folder.mkdir()
    monkeypatch.setenv("DUBAN_CALENDAR_DIR", str(folder))
    working_calendar.cache_clear()
    yield folder
    working_calendar.cache_clear()


def test_paste_preview_and_save(client_for: Callable[[str], tuple[TestClient, str]],
                                calendar_dir: Path, world: World) -> None:
    from sqlalchemy import func, select

    from duban.services.views.kept import keep_copy
    from models.tables import kept_count

    client, csrf = client_for("county")
    with world.db.transaction() as s:  # a count the web's processes share, of the old calendar
        keep_copy(s, f"cube:{world.campaign_id}:2026-02-13:1", b"counts")
    page = client.get("/calendar?year=2024")
    assert page.status_code == 200 and "2024年月历" in page.text and "全年工作日 251 天" in page.text
    text = (NOTICES / "2026.txt").read_text(encoding="utf-8")
    preview = client.post("/calendar", data={"csrf_token": csrf, "notice_text": text})
    assert preview.status_code == 200, preview.text[:300]
    assert "国务院办公厅关于2026年部分节假日安排的通知（国办发明电〔2025〕7号）" in preview.text
    assert "春节：2月15日（星期日）至2月23日（星期一）放假，共9天" in preview.text
    assert 'title="2026-02-14 调休上班"' in preview.text
    assert not (calendar_dir / "2026.yaml").exists()  # a preview writes nothing
    saved = client.post("/calendar/save", data={"csrf_token": csrf, "notice_text": text},
                        follow_redirects=False)
    assert saved.status_code == 303
    schedule = read_year_file(calendar_dir / "2026.yaml")
    assert len(schedule.holidays) == 33 and len(schedule.workdays) == 6
    with world.db.transaction() as s:  # deadlines' bands follow the calendar: dropped
        assert s.scalar(select(func.count()).select_from(kept_count)) == 0
    after = client.get(saved.headers["location"])
    assert "已导入2026年节假日安排" in after.text


def test_a_wrong_weekday_is_shown_with_its_sentence(
        client_for: Callable[[str], tuple[TestClient, str]], calendar_dir: Path) -> None:
    client, csrf = client_for("county")
    text = (NOTICES / "2025.txt").read_text(encoding="utf-8").replace(
        "4月27日（周日）上班", "4月27日（周六）上班")
    for path in ("/calendar", "/calendar/save"):
        r = client.post(path, data={"csrf_token": csrf, "notice_text": text},
                        follow_redirects=False)
        assert r.status_code == 422
        assert "2025年4月27日是星期日，通知写的是星期六" in r.text
        assert "原句：4月27日（周六）上班" in r.text
    assert list(calendar_dir.iterdir()) == []
