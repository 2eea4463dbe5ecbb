"""`--json` on every list and show command: one JSON document on stdout, stable keys (codes
allowed); a campaign number that names no campaign is an error, not an empty list."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from duban.cli import cli
from duban.domain.clock import FixedClock
from duban.domain.errors import DubanError
from duban.domain.lifecycle import Role
from duban.services.actors import add_user
from duban.services.database import Database
from tests.integration.test_reviews import JPEG, one_problem

pytestmark = pytest.mark.usefixtures("data_dir")

NOW = "2022-09-26T10:00"

# The keys of each command's JSON document (a dict), or of each item when it prints a list.
PROBLEM_ITEM = {"id", "campaign_id", "code", "status", "category", "source", "town_code",
                "village_code", "lead_office", "deadline", "description"}
SHAPES: dict[str, set[str]] = {
    "campaign list": {"id", "name", "document_number", "start", "end", "status", "problems"},
    "campaign show": {"id", "name", "issuer", "document_number", "stages", "towns", "villages",
                      "offices", "households", "problems_by_status", "overdue", "unrouted",
                      "status", "status_label", "closed_at", "closed_by", "events"},
    "problem list": {"total", "items"},
    "problem show": {"code", "campaign_id", "status", "source", "category", "town", "village",
                     "household_id", "description", "found_by", "found_on", "lead_office",
                     "co_offices", "deadline", "deadline_basis", "unrouted_reason",
                     "rectified_by", "review_passed_by", "version", "events"},
    "problem moves": {"code", "campaign_id", "status", "version", "actor", "actions"},
    "audit show": {"code", "campaign_id", "events"},
    "evidence list": {"sha256", "filename", "content_type", "size", "phase", "uploaded_by",
                      "uploaded_at", "round"},
    "spotcheck list": {"id", "day", "group", "kind", "problem_code", "town", "village",
                       "result", "checked_by", "note"},
    "substitute list": {"id", "username", "name", "office_code", "starts_on", "ends_on",
                        "reason", "granted_by"},
    "outbox list": {"counts", "items"},
    "notice list": set(),
    "duty list": set(),
    "milestone list": {"code", "campaign_id", "milestones"},
    "user list": {"username", "name", "role", "office_code", "town_code", "village_code",
                  "email", "active", "has_password", "extra_roles", "campaigns"},
    "coverage": {"villages", "towns"},
    "review reopen-rate": {"campaign_id", "total", "by_town", "by_office"},
    "report penalties": {"campaign_id", "day", "accrues", "lines", "totals"},
    "calendar show": {"year", "holidays", "workdays", "working_days"},
}


def _run(db: Database, *args: str) -> Any:
    result = CliRunner().invoke(cli, ["--now", NOW, *args], obj=db, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _keys(document: Any) -> set[str]:
    """The keys of a dict, or those every item of a list has."""
    if isinstance(document, dict):
        return set(document)
    assert isinstance(document, list)
    return set.intersection(*(set(item) for item in document)) if document else set()


def test_every_list_and_show_command_prints_json(db: Database, clock: FixedClock,
                                                 tmp_path: Path) -> None:
    cid, _, code = one_problem(db, clock)
    c = str(cid)
    photo = tmp_path / "整改后.jpg"
    photo.write_bytes(JPEG)
    _run(db, "problem", "submit", code, "--as", "zjj1", "--note", "已整改", "--file", str(photo),
         "--campaign", c)
    _run(db, "review", "pass", code, "--as", "ducha", "--campaign", c)
    _run(db, "review", "close-all", "--campaign", c, "--as", "county")
    _run(db, "spotcheck", "draw", "--campaign", c)
    db.run(add_user, clock, username="mzj1", name="民政局赵六", role=Role.OFFICE, office="mzj")
    _run(db, "substitute", "add", "zjj", "mzj1", "--from", "2022-09-26", "--to", "2022-09-30",
         "--reason", "出差", "--as", "county")
    commands = {
        "campaign list": ["campaign", "list"], "campaign show": ["campaign", "show", c],
        "problem list": ["problem", "list", "--campaign", c],
        "problem show": ["problem", "show", code, "--campaign", c],
        "problem moves": ["problem", "moves", code, "--as", "county", "--campaign", c],
        "audit show": ["audit", "show", code, "--campaign", c],
        "evidence list": ["evidence", "list", code, "--campaign", c],
        "spotcheck list": ["spotcheck", "list", "--campaign", c],
        "substitute list": ["substitute", "list"], "outbox list": ["outbox", "list"],
        "notice list": ["notice", "list", c], "duty list": ["duty", "list", "--campaign", c],
        "milestone list": ["milestone", "list", code, "--campaign", c],
        "user list": ["user", "list"], "coverage": ["coverage", "--campaign", c],
        "review reopen-rate": ["review", "reopen-rate", "--campaign", c],
        "report penalties": ["report", "penalties", "--campaign", c],
        "calendar show": ["calendar", "show", "2022"],
    }
    assert set(commands) == set(SHAPES)
    docs = {name: json.loads(_run(db, *args, "--json")) for name, args in commands.items()}
    for name, document in docs.items():
        assert SHAPES[name] <= _keys(document), (name, SHAPES[name] - _keys(document))

    # Codes, as stored, where a script asks for them.
    assert docs["problem list"]["total"] == 1
    assert set(docs["problem list"]["items"][0]) >= PROBLEM_ITEM
    assert docs["problem show"]["lead_office"] == "zjj"
    assert docs["problem moves"]["actions"] == [{"action": "reopen",
                                                "default_deadline": "2022-10-08"}]
    assert [e["action"] for e in docs["audit show"]["events"]][-4:] == [
        "submit", "upload_evidence", "pass_review", "close"]
    assert {"at", "actor", "actor_role", "from_status", "to_status", "note"} <= set(
        docs["audit show"]["events"][0])
    assert docs["evidence list"][0]["uploaded_by"] == "zjj1"
    assert docs["spotcheck list"][0]["problem_code"] == code
    assert docs["substitute list"][0]["office_code"] == "zjj"
    assert {u["username"]: u["role"] for u in docs["user list"]} == {
        "zjj1": "office", "mzj1": "office", "county": "county", "ducha": "supervisor"}
    assert docs["review reopen-rate"]["total"]["closed"] == 1
    assert docs["campaign show"]["stages"][1]["current"] is True
    assert {"town_code", "village_code", "households", "visited"} <= set(
        docs["coverage"]["villages"][0])


@pytest.mark.parametrize("args", [
    ["problem", "list", "--campaign", "999"], ["campaign", "show", "999"],
    ["notice", "list", "999"], ["spotcheck", "list", "--campaign", "999"],
    ["coverage", "--campaign", "999"], ["duty", "list", "--campaign", "999"],
    ["review", "reopen-rate", "--campaign", "999"], ["outbox", "list", "--campaign", "999"],
    ["report", "penalties", "--campaign", "999"],
])
def test_an_unknown_campaign_is_an_error(db: Database, clock: FixedClock,
                                         args: list[str]) -> None:
    one_problem(db, clock)
    for json_out in ([], ["--json"]):
        result = CliRunner().invoke(cli, ["--now", NOW, *args, *json_out], obj=db)
        assert isinstance(result.exception, DubanError), result.output
        assert result.exception.message == "行动不存在：编号 999"
        assert result.output == ""
