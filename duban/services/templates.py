"""A campaign's own document templates, which override the shipped ones of the same name.

They live in the data directory (templates/campaign-<id>/), copied there when installed, so a
campaign keeps rendering the same way even if the folder they came from changes or goes away.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from duban.domain.errors import DubanError
from duban.services.database import data_dir

# The documents a campaign may override, by the file name the renderers look for.
KNOWN_TEMPLATES = {
    "notice.docx": "督办通知书",
    "reminder.docx": "催办通知",
    "bulletin.docx": "通报",
    "daily_report.docx": "日报",
    "closing_report.docx": "总结报告",
    "ranking.docx": "月考评",
}


class TemplateFolderError(DubanError):
    """A template folder that cannot be installed."""


def template_dir_for(campaign_id: int) -> Path | None:
    """The campaign's own template folder, if it installed one."""
    folder = data_dir() / "templates" / f"campaign-{campaign_id}"
    return folder if folder.is_dir() and any(folder.glob("*.docx")) else None


def install_templates(campaign_id: int, source: Path) -> list[str]:
    """Copy a folder's .docx templates in as the campaign's overrides; returns their names.

    Only known template names are accepted and each must be a Word file; on any problem
    nothing is installed and every problem is named.
    """
    if not source.is_dir():
        raise TemplateFolderError(f"模板目录不存在：{source}")
    files = sorted(p for p in source.iterdir() if p.is_file() and not p.name.startswith("."))
    problems = []
    chosen = []
    for path in files:
        if path.name not in KNOWN_TEMPLATES:
            known = "、".join(f"{n}（{label}）" for n, label in KNOWN_TEMPLATES.items())
            problems.append(f"{path.name}：不是可替换的模板文件名，可替换的有：{known}")
        elif not zipfile.is_zipfile(path):
            problems.append(f"{path.name}：不是有效的 Word（.docx）文件")
        else:
            chosen.append(path)
    if problems:
        raise TemplateFolderError("模板目录有误，未安装任何模板：\n" + "\n".join(problems))
    if not chosen:
        raise TemplateFolderError(f"模板目录中没有可替换的模板：{source}")
    target = data_dir() / "templates" / f"campaign-{campaign_id}"
    staging = target.with_name(target.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for path in chosen:
        shutil.copyfile(path, staging / path.name)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return [p.name for p in chosen]


def remove_templates(campaign_id: int) -> bool:
    """Go back to the shipped templates; returns whether there was anything to remove."""
    target = data_dir() / "templates" / f"campaign-{campaign_id}"
    if not target.exists():
        return False
    shutil.rmtree(target)
    return True
