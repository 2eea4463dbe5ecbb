"""File names a person receives: Chinese words, safe on Windows, unique."""

from __future__ import annotations

from pathlib import Path

import pytest

from duban.domain.filenames import document_file_name, safe_part

WINDOWS_FORBIDDEN = set('/\\:*?"<>|')


def test_a_notice_is_named_by_its_number_and_unit() -> None:
    assert document_file_name("沈督〔2022〕3号", "县住建局", suffix=".docx") == \
        "沈督〔2022〕3号-县住建局.docx"


def test_an_empty_part_leaves_no_dangling_dash() -> None:
    assert document_file_name("沈督〔2022〕9号", "", suffix=".docx") == "沈督〔2022〕9号.docx"
    assert document_file_name("", "", suffix=".docx") == "文件.docx"


@pytest.mark.parametrize("raw", ['县住建局/规划局', 'a\\b:c*d?e"f<g>h|i', "CON", " 。. ", "x\ty\n"])
def test_names_are_safe_on_windows(raw: str) -> None:
    name = document_file_name("沈督〔2022〕3号", raw, suffix=".docx")
    assert not WINDOWS_FORBIDDEN & set(name)
    assert not any(ord(c) < 32 for c in name)
    assert not name.removesuffix(".docx").endswith((" ", "."))


def test_forbidden_characters_become_their_full_width_forms() -> None:
    assert safe_part("县住建局/规划局") == "县住建局／规划局"
    assert safe_part("问题：A|B") == "问题：A｜B"
    assert document_file_name("CON", suffix=".docx") == "CON文件.docx"


def test_a_taken_name_gets_a_number() -> None:
    taken = {"沈督〔2022〕3号-县住建局.docx", "沈督〔2022〕3号-县住建局（2）.docx"}
    assert document_file_name("沈督〔2022〕3号", "县住建局", suffix=".docx", taken=taken) == \
        "沈督〔2022〕3号-县住建局（3）.docx"


def test_long_names_are_cut_before_the_suffix() -> None:
    name = document_file_name("沈督〔2022〕3号", "很长的单位名称" * 40, suffix=".docx")
    assert name.endswith(".docx") and len(name) <= 130
    assert name.startswith("沈督〔2022〕3号-很长的单位名称") and name.endswith("….docx")
    assert len(name.encode("utf-8")) <= 255


@pytest.mark.parametrize("plan_name", ["某县" + "巩固拓展脱贫攻坚成果同乡村振兴有效衔接" * 6, "x" * 300])
def test_a_long_plan_name_gives_way_and_the_file_can_be_written(tmp_path: Path,
                                                                plan_name: str) -> None:
    """Linux allows 255 bytes a name: 120 Chinese characters (360 bytes) could not be written.
    The plan's name is cut (ending in …); the kind and the date stay whole."""
    from duban.domain.filenames import report_file_stem

    stem = report_file_stem(plan_name, "总结报告", "2023年1月3日")
    assert stem.endswith("…-总结报告-2023年1月3日") and stem.startswith(plan_name[:10])
    taken = {f"{stem}.docx"}
    name = document_file_name(plan_name, "总结报告", "2023年1月3日", suffix=".docx", taken=taken)
    assert name == f"{stem}（2）.docx" and len(name.encode("utf-8")) <= 255
    (tmp_path / name).write_bytes(b"")  # the filesystem takes it
