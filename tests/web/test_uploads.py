"""Uploads: bounded by their declared length and per file, and stored and served under the
extension of what the content is (a JPEG named evil.exe downloads as evil.jpg). The real
server's streaming and memory are measured in test_serve_security.py."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from duban.services.evidence import MAX_FILE_BYTES, named_for
from duban.web.uploads import MAX_BODY_BYTES, MAX_IMPORT_BODY_BYTES, body_limit
from models import Evidence
from tests.support import JPEG
from tests.web.conftest import World

Clients = Callable[[str], tuple[TestClient, str]]
PDF = b"%PDF-1.4\n" + b"0" * 100


def test_names_follow_the_content() -> None:
    jpeg = "image/jpeg"
    assert named_for("evil.exe", jpeg) == "evil.jpg"
    assert named_for("照片", jpeg) == "照片.jpg"
    assert named_for("现场.JPEG", jpeg) == "现场.JPEG"
    assert named_for("scan.jpg", "application/pdf") == "scan.pdf"
    assert named_for("a.pdf.exe", "application/pdf") == "a.pdf.pdf"
    assert named_for("x" * 200 + ".exe", jpeg).endswith(".jpg")
    assert len(named_for("x" * 200, jpeg)) <= 120


def test_a_jpeg_named_exe_is_stored_and_served_as_jpg(world: World, client_for: Clients) -> None:
    client, csrf = client_for("off_zjj")
    pid = world.problems["hd_housing"]
    r = client.post(f"/api/problems/{pid}/evidence",
                    files=[("files", ("evil.exe", JPEG, "application/x-msdownload")),
                           ("files", ("报告.jpg", PDF, "image/jpeg"))],
                    data={"phase": "after"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    with world.db.transaction() as s:
        rows = {e.filename: (e.id, e.content_type) for e in s.scalars(select(Evidence))}
    assert rows.keys() == {"evil.jpg", "报告.pdf"}
    assert rows["evil.jpg"][1] == "image/jpeg"
    got = client.get(f"/evidence/{rows['evil.jpg'][0]}?download=1")
    assert got.status_code == 200 and got.content == JPEG
    assert got.headers["content-type"] == "image/jpeg"
    disposition = got.headers["content-disposition"]
    assert ".jpg" in disposition and ".exe" not in disposition


def test_a_body_declared_too_big_is_refused_before_it_is_read(world: World,
                                                             client_for: Clients) -> None:
    client, csrf = client_for("off_zjj")
    pid = world.problems["hd_housing"]
    assert body_limit(f"/api/problems/{pid}/evidence") == MAX_BODY_BYTES
    r = client.post(f"/api/problems/{pid}/evidence", content=b"x" * 1024, headers={
        "X-CSRF-Token": csrf, "Content-Type": "multipart/form-data; boundary=b",
        "Content-Length": str(MAX_BODY_BYTES + 1)})
    assert r.status_code == 413
    assert "上传内容超过 30 MB 的上限" in r.json()["error"]
    page = client.post(f"/problems/{pid}/move", content=b"x", headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "Content-Length": str(MAX_BODY_BYTES + 1)})
    assert page.status_code == 413 and "上传内容超过" in page.text
    with world.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Evidence)) == 0


def test_an_import_too_big_is_refused_in_its_own_words_with_a_way_back(
        world: World, client_for: Clients) -> None:
    client, csrf = client_for("county")
    assert body_limit("/imports") == MAX_IMPORT_BODY_BYTES
    headers = {"Content-Type": "multipart/form-data; boundary=b",
               "Content-Length": str(MAX_IMPORT_BODY_BYTES + 1), "X-CSRF-Token": csrf}
    page = client.post("/imports", content=b"x", headers={
        **headers, "Referer": "http://testserver/imports?campaign=1"})
    assert page.status_code == 413
    assert "导入文件超过 50 MB 的上限，已拒绝；请按乡镇或村把表格分成几个文件，分批导入" in page.text
    assert "每个文件不超过" not in page.text  # the evidence limit is not the import's
    assert 'href="/imports?campaign=1">返回上一页' in page.text
    # Another site's page, or none, gets no way back but the overview.
    for referer in ("http://elsewhere.example/imports", "//elsewhere.example/x", ""):
        other = client.post("/imports", content=b"x", headers={**headers, "Referer": referer})
        assert other.status_code == 413 and "返回上一页" not in other.text
        assert 'href="/">返回总览' in other.text


def test_a_file_over_the_limit_is_refused_with_its_size(world: World,
                                                       client_for: Clients) -> None:
    client, csrf = client_for("off_zjj")
    pid = world.problems["hd_housing"]
    big = JPEG + b"\x00" * (MAX_FILE_BYTES + 3 * 1024 * 1024)
    r = client.post(f"/api/problems/{pid}/evidence", files={"files": ("big.jpg", big)},
                    data={"phase": "after"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 400
    assert "「big.jpg」大小 13.1 MB，超过每个文件 10.0 MB 的上限" in r.json()["error"]
