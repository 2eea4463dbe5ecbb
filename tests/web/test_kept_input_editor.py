"""The plan editor keeps what was typed when a save is refused (issue 14).

A field that cannot be read (422) draws the section again with every field as typed; a save
refused as stale (409, someone saved meanwhile) shows their version with this user's own
changes laid over it, so neither's work is lost; nothing is saved by either refusal.
"""

from __future__ import annotations

import re

from tests.web.test_plan_editor import SEEDS, Clients, forms_of, start


def _section_form(page: str, key: str) -> dict[str, str]:
    """The fields of the section's own form (the page's campaign picker posts to the URL too)."""
    return next(dict(fields) for action, fields in forms_of(page).forms
                if action.endswith(f"/sections/{key}") and "expect_version" in dict(fields))


def _value(page: str, name: str) -> str:
    match = re.search(rf'<input type="text" name="{re.escape(name)}" value="([^"]*)"', page)
    assert match, name
    return match.group(1)


def test_an_unreadable_field_keeps_every_typed_field(client_for: Clients) -> None:
    client, csrf = client_for("county")
    url = start(client, csrf, origin="seed", seed=SEEDS[0])
    fields = dict(forms_of(client.get(f"{url}?section=deadlines").text)
                  .form("/sections/deadlines"))
    others = sorted(k for k in fields if re.fullmatch(r"f\d+\.\w+", k)
                    and k != "f0.default_working_days")
    typed = {k: f"已改{i}" for i, k in enumerate(others[:1])}
    bad = dict(fields, **{"f0.default_working_days": "十天"}, **typed)
    r = client.post(f"{url}/sections/deadlines", data=bad, follow_redirects=False)
    assert r.status_code == 422 and "“十天”不是整数" in r.text
    kept = _section_form(r.text, "deadlines")
    assert kept["f0.default_working_days"] == "十天"
    for name, text in typed.items():
        assert kept[name] == text, name
    assert kept["expect_version"] == "1"
    assert "已改" not in client.get(f"{url}/plan.yaml").text  # nothing saved


def test_a_stale_save_keeps_this_users_changes_over_the_saved_version(
        client_for: Clients) -> None:
    client, csrf = client_for("county")
    url = start(client, csrf, origin="seed", seed=SEEDS[0])
    fields = dict(forms_of(client.get(f"{url}?section=basics").text).form("/sections/basics"))
    first = dict(fields, **{"f1.contact": "乡党政办 王五 023-77000000"})
    assert client.post(f"{url}/sections/basics", data=first,
                       follow_redirects=False).status_code == 303
    stale = dict(fields, **{"f0.name": "全乡问题清零行动（第二稿）"})
    r = client.post(f"{url}/sections/basics", data=stale, follow_redirects=False)
    assert r.status_code == 409 and "您的修改已保留" in r.text
    assert _value(r.text, "f0.name") == "全乡问题清零行动（第二稿）"  # this user's change
    assert _value(r.text, "f1.contact") == "乡党政办 王五 023-77000000"  # the other's, kept
    kept = _section_form(r.text, "basics")
    assert kept["expect_version"] == "2"
    assert "第二稿" not in client.get(f"{url}/plan.yaml").text
    # Sent again as shown: both changes saved.
    assert client.post(f"{url}/sections/basics", data=kept,
                       follow_redirects=False).status_code == 303
    saved = client.get(f"{url}/plan.yaml").text
    assert "第二稿" in saved and "王五" in saved


def test_a_refused_upload_names_its_file_and_starts_no_draft(client_for: Clients) -> None:
    client, csrf = client_for("county")
    page = client.get("/plans/drafts").text
    assert re.search(r'<span class="req">\*</span></span><input type="file" name="plan"[^>]*'
                     r'\brequired\b', page)
    drafts = set(re.findall(r'href="/plans/drafts/(\d+)"', page))
    r = client.post("/plans/drafts", data={"csrf_token": csrf, "origin": "upload"},
                    files={"plan": ("县方案（修改稿）.yaml", b"stages: [\n")},
                    follow_redirects=False)
    assert r.status_code == 422
    assert "未能新建草稿" in r.text and "请重新选择：县方案（修改稿）.yaml" in r.text
    assert set(re.findall(r'href="/plans/drafts/(\d+)"', r.text)) == drafts


def test_a_refused_save_keeps_the_rows_ticked_for_deletion(client_for: Clients) -> None:
    client, csrf = client_for("county")
    url = start(client, csrf, origin="seed", seed=SEEDS[0])
    fields = dict(forms_of(client.get(f"{url}?section=deadlines").text)
                  .form("/sections/deadlines"))
    table = next(k.split(".")[0] for k, v in fields.items()
                 if k.endswith(".rows") and int(v) > 0)
    ticked = f"{table}.0._delete"
    assert ticked not in fields  # shown unticked
    bad = dict(fields, **{"f0.default_working_days": "十天", ticked: "1"})
    r = client.post(f"{url}/sections/deadlines", data=bad, follow_redirects=False)
    assert r.status_code == 422 and "“十天”不是整数" in r.text
    kept = _section_form(r.text, "deadlines")
    assert kept.get(ticked) == "1"  # still ticked: the next save deletes the row
    assert sum(k.endswith("._delete") for k in kept) == 1  # and no other row
