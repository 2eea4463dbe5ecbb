"""Names, never codes: files a person receives and what the CLI prints name units and people."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from click.testing import CliRunner

from duban.cli import cli
from duban.services.notices.issuing import issue_notices
from tests.web.conftest import World

Clients = Any
CODES = ("zjj", "jyj", "ggb", "huaidian", "liuzhuangdian", "county", "off_zjj")
WINDOWS_FORBIDDEN = set('/\\:*?"<>|')


pytestmark = pytest.mark.usefixtures("data_dir")


def _run(world: World, *args: str) -> str:
    result = CliRunner().invoke(cli, obj=world.db, args=["--now", "2022-09-27T10:00", *args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def _no_codes(text: str) -> None:
    for code in CODES:
        assert not re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])", text), (code, text)


def test_demo_output_names_each_notice_by_its_number_and_units_name(world: World,
                                                                   tmp_path: Path) -> None:
    from duban.simulation import collect_outputs

    world.db.run(issue_notices, world.clock, world.campaign_id, issued_by="county",
                 batch_key="names")
    files = collect_outputs(world.db, world.clock, world.campaign_id, tmp_path / "out")
    notices = sorted(p.name for label, p in files if label == "督办通知书")
    assert "县住建局" in "".join(notices) and "县教育局" in "".join(notices)
    assert any("槐店回族镇" in n for n in notices)  # towns get their own notice (seed 002)
    for name in notices:
        assert re.fullmatch(r"沈.+〔2022〕\d+号-[^-]+\.docx", name), name
        assert not WINDOWS_FORBIDDEN & set(name)
        _no_codes(name.removesuffix(".docx"))
    assert len(set(notices)) == len(notices)


def test_demo_output_copies_the_daily_and_closing_reports(world: World, tmp_path: Path) -> None:
    from duban.services.closing import closing_dir
    from duban.services.stages import reports_dir
    from duban.simulation import collect_outputs

    for folder, name in ((reports_dir(world.campaign_id), "日报-2022-09-27.docx"),
                         (closing_dir(world.campaign_id), "总结报告.docx")):
        folder.mkdir(parents=True)
        (folder / name).write_bytes(name.encode())
    out = tmp_path / "out"
    files = collect_outputs(world.db, world.clock, world.campaign_id, out)
    copied = [(label, p) for label, p in files if label in ("日报", "总结报告")]
    assert copied == [("日报", out / "reports" / "日报-2022-09-27.docx"),
                      ("总结报告", out / "closing" / "总结报告.docx")]
    assert [p.read_bytes().decode() for _, p in copied] == [p.name for _, p in copied]


def test_a_notice_downloads_under_its_number_and_units_name(world: World,
                                                            client_for: Clients) -> None:
    issued = world.db.run(issue_notices, world.clock, world.campaign_id, issued_by="county",
                          batch_key="dl")
    nid = next(n.id for n in issued if n.office_code == "zjj")
    number = next(n.number for n in issued if n.id == nid)
    client, _ = client_for("off_zjj")
    for url in (f"/notices/{nid}/file", f"/api/notices/{nid}/file"):
        r = client.get(url)
        assert r.status_code == 200
        name = unquote(r.headers["content-disposition"].split("UTF-8''")[1])
        assert name == f"{number}-县住建局.docx"


def test_a_long_notices_list_downloads_as_a_spreadsheet_under_the_units_name(
        world: World, client_for: Clients, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from openpyxl import load_workbook

    monkeypatch.setenv("DUBAN_NOTICE_INLINE_LIMIT", "1")
    issued = world.db.run(issue_notices, world.clock, world.campaign_id, issued_by="county",
                          batch_key="dl-list")
    notice = next(n for n in issued if n.office_code == "zjj")
    client, _ = client_for("off_zjj")
    for url in (f"/notices/{notice.id}/list", f"/api/notices/{notice.id}/list"):
        r = client.get(url)
        assert r.status_code == 200
        assert r.headers["content-type"] == (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        name = unquote(r.headers["content-disposition"].split("UTF-8''")[1])
        assert name == f"{notice.number}-县住建局-督办问题清单.xlsx"
        rows = list(load_workbook(io.BytesIO(r.content)).active.iter_rows(values_only=True))
        assert len(rows) > 2  # the header and every problem of the notice
        _no_codes(" ".join(str(v) for row in rows for v in row if v is not None))


def test_cli_notice_list_and_download_name_units_and_signers(world: World,
                                                            tmp_path: Path) -> None:
    from duban.services.notices.receipts import acknowledge_notice

    issued = world.db.run(issue_notices, world.clock, world.campaign_id, issued_by="county",
                          batch_key="cli")
    zjj = next(n for n in issued if n.office_code == "zjj")
    world.db.run(acknowledge_notice, world.clock, zjj.id, "off_zjj")
    out = _run(world, "notice", "list", str(world.campaign_id))
    assert "县住建局" in out and "住建局刘科长（县住建局）" in out
    _no_codes(out)
    target = tmp_path / "dl"
    target.mkdir()
    _run(world, "notice", "download", str(zjj.id), str(target))
    assert [p.name for p in target.iterdir()] == [f"{zjj.number}-县住建局.docx"]


def test_cli_problem_list_and_show_print_names(world: World) -> None:
    listed = _run(world, "problem", "list", "--campaign", str(world.campaign_id))
    assert "槐店回族镇" in listed and "县住建局" in listed and "住房安全" in listed
    _no_codes(listed)
    code = world.problem("hd_housing").code
    shown = _run(world, "problem", "show", code, "--campaign", str(world.campaign_id))
    assert "槐店回族镇" in shown and "县住建局" in shown and "入户排查" in shown
    _no_codes(shown.replace(code, ""))


def test_campaign_show_names_who_closed_it(world: World) -> None:
    from duban.services.closing import close_campaign

    world.db.run(close_campaign, world.clock, world.campaign_id, "county", note="提前完成")
    out = _run(world, "campaign", "show", str(world.campaign_id))
    assert "由王主任（县级办公室）总结关闭" in out
    assert "王主任（县级办公室）" in out.split("办理人")[1]
    assert "investigate" not in out and "rectify" not in out
    _no_codes(out)


def test_pages_name_who_signed_and_read(world: World, client_for: Clients) -> None:
    from duban.services.notices.receipts import acknowledge_notice

    issued = world.db.run(issue_notices, world.clock, world.campaign_id, issued_by="county",
                          batch_key="pages")
    zjj = next(n for n in issued if n.office_code == "zjj")
    world.db.run(acknowledge_notice, world.clock, zjj.id, "off_zjj")
    county, _ = client_for("county")
    page = county.get(f"/notices?campaign={world.campaign_id}").text
    assert "住建局刘科长（县住建局）" in page and ">off_zjj<" not in page


def test_a_closed_campaign_says_so_and_ranks_its_last_month(world: World,
                                                           client_for: Clients) -> None:
    import datetime as dt

    from duban.domain.clock import CHINA_TZ
    from duban.services.closing import close_campaign

    world.clock.set(dt.datetime(2023, 1, 3, 9, 0, tzinfo=CHINA_TZ))
    world.db.run(close_campaign, world.clock, world.campaign_id, "county", note="到期")
    world.clock.set(dt.datetime(2023, 3, 8, 9, 0, tzinfo=CHINA_TZ))
    town, _ = client_for("town_hd")
    home = town.get(f"/?campaign={world.campaign_id}").text
    assert "已总结" in home and "2023年1月3日" in home
    ranking = town.get(f"/ranking?campaign={world.campaign_id}").text
    # The plan ends 12/31: its last month, not a preview of March 2023.
    assert "2022年12月乡镇月考评排名" in ranking and "2023年3月乡镇" not in ranking


def test_cli_users_and_substitutes_name_units(world: World) -> None:
    users = _run(world, "user", "list")
    assert "县住建局" in users and "槐店回族镇" in users and "全县" in users
    added = _run(world, "substitute", "add", "zjj", "off_jyj", "--from", "2022-09-27",
                 "--to", "2022-09-30", "--reason", "外出学习", "--as", "county")
    assert "代理 县住建局" in added
    listed = _run(world, "substitute", "list")
    assert "县住建局" in listed and "王主任（县级办公室）" in listed


def test_an_empty_notice_list_says_where_notices_go(world: World, client_for: Clients) -> None:
    village, _ = client_for("vil_hd1")
    page = village.get(f"/notices?campaign={world.campaign_id}").text
    assert "暂无通知书" in page and "本村的问题及其整改时限见问题台账" in page
    office, _ = client_for("off_zjj")
    assert "下发督办通知书后在此签收" in office.get(f"/notices?campaign={world.campaign_id}").text


def test_reports_on_disk_are_named_by_the_campaign_not_its_id(world: World,
                                                              tmp_path: Path) -> None:
    import datetime as dt

    from duban.services.closing import write_closing_report
    from duban.services.reports.daily import write_daily_report
    from duban.services.scoring.documents import write_ranking
    from duban.services.views.common import campaign_row

    plan = world.db.run(lambda uow: campaign_row(uow.session, world.campaign_id).name)
    day = dt.date(2022, 9, 27)
    daily = world.db.run(write_daily_report, world.clock, world.campaign_id, day, tmp_path)
    ranking = world.db.run(write_ranking, world.clock, world.campaign_id, "2022-09", tmp_path)
    closing, _ = world.db.run(write_closing_report, world.clock, world.campaign_id, day, "测试")
    assert sorted(p.name for p in (*daily, *ranking, *closing)) == sorted([
        f"{plan}-日报-2022年9月27日.docx", f"{plan}-日报-2022年9月27日.xlsx",
        f"{plan}-月考评-2022年9月（预览）.docx", f"{plan}-月考评-2022年9月（预览）.xlsx",
        f"{plan}-总结报告-2022年9月27日.docx", f"{plan}-总结报告-2022年9月27日.xlsx"])


def test_the_ledger_export_is_named_by_the_campaign(world: World, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from duban.services.views.common import campaign_row

    monkeypatch.chdir(tmp_path)
    plan = world.db.run(lambda uow: campaign_row(uow.session, world.campaign_id).name)
    output = _run(world, "report", "ledger", "--campaign", str(world.campaign_id))
    written = tmp_path / "out" / "reports" / f"{plan}-整改台账-2022年9月27日.xlsx"
    assert written.exists(), output
    assert written.name in output


def test_cli_problem_list_as_a_user_lists_that_users_scope(world: World) -> None:
    import json

    for username, names in world.visible.items():
        listed = json.loads(_run(world, "problem", "list", "--campaign", str(world.campaign_id),
                                 "--as", username, "--json"))
        codes = {world.problem(n).code for n in names}
        assert listed["total"] == len(codes), username
        assert {i["code"] for i in listed["items"]} == codes, username
    everything = json.loads(_run(world, "problem", "list", "--json"))
    assert everything["total"] == len(world.problems)
    refused = CliRunner().invoke(cli, obj=world.db, args=["problem", "list", "--as", "nobody"])
    assert refused.exit_code != 0 and str(refused.exception) == "用户不存在：nobody"
