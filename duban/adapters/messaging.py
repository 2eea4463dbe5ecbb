"""Sending one message: e-mail over SMTP, or a DingTalk / WeCom robot webhook.

Each sender raises `DeliveryError` with a short Chinese reason on failure; the outbox records
it and retries later. Nothing here touches the database.
"""

from __future__ import annotations

import os
import smtplib
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx

from duban.domain.errors import DubanError


class DeliveryError(DubanError):
    """A message could not be delivered this time."""


@dataclass(frozen=True)
class SmtpSettings:
    """Where e-mail goes: $DUBAN_SMTP_HOST, _PORT, _FROM, optional _USER/_PASSWORD/_STARTTLS."""

    host: str = "localhost"
    port: int = 25
    sender: str = "duban@localhost"
    user: str = ""
    password: str = ""
    starttls: bool = False
    timeout: float = 20.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> SmtpSettings | None:
        """Settings from the environment; None (mail channel off) without DUBAN_SMTP_HOST."""
        e = dict(os.environ) if env is None else env
        host = e.get("DUBAN_SMTP_HOST", "").strip()
        if not host:
            return None
        return cls(
            host=host,
            port=int(e.get("DUBAN_SMTP_PORT", "25")),
            sender=e.get("DUBAN_SMTP_FROM", "duban@localhost"),
            user=e.get("DUBAN_SMTP_USER", ""),
            password=e.get("DUBAN_SMTP_PASSWORD", ""),
            starttls=e.get("DUBAN_SMTP_STARTTLS", "").lower() in {"1", "true", "yes"},
        )


# MIME types of the files reports attach; anything else goes as a plain byte stream.
_ATTACHMENT_TYPES = {
    ".docx": ("application", "vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ".xlsx": ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ".pdf": ("application", "pdf"),
}


# A file to attach: its path, or its path and the name the recipient sees (a stored
# document's own name is its checksum).
Attachment = Path | tuple[Path, str]


def send_email(settings: SmtpSettings, to: str, subject: str, body: str,
               message_id: str | None = None, attachments: Sequence[Attachment] = ()) -> None:
    """Send a plain-text UTF-8 e-mail, with files attached (a report's .docx, a notice's)."""
    msg = EmailMessage()
    msg["From"] = settings.sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = message_id or make_msgid(domain="duban")
    msg.set_content(body, charset="utf-8")
    for item in attachments:
        path, name = (Path(item[0]), item[1]) if isinstance(item, tuple) else (Path(item),
                                                                               Path(item).name)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DeliveryError(f"附件读取失败：{name}（{exc.strerror or exc}）") from exc
        main, sub = _ATTACHMENT_TYPES.get(Path(name).suffix.lower(),
                                          ("application", "octet-stream"))
        msg.add_attachment(data, maintype=main, subtype=sub, filename=name)
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
            if settings.starttls:
                smtp.starttls()
            if settings.user:
                smtp.login(settings.user, settings.password)
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"邮件发送失败（{settings.host}:{settings.port}）：{exc}") from exc


def webhook_flavour(url: str) -> str:
    """wecom for 企业微信 robots, dingtalk otherwise (DingTalk's format is the common one)."""
    host = urlparse(url).hostname or ""
    return "wecom" if "weixin.qq.com" in host or "wecom" in url else "dingtalk"


def webhook_payload(url: str, subject: str, body: str) -> dict[str, Any]:
    """The robot's markdown message for this URL's flavour."""
    text = f"### {subject}\n\n" + "\n\n".join(line for line in body.splitlines() if line.strip())
    if webhook_flavour(url) == "wecom":
        return {"msgtype": "markdown", "markdown": {"content": text}}
    return {"msgtype": "markdown", "markdown": {"title": subject, "text": text}}


def send_webhook(url: str, subject: str, body: str, timeout: float = 10.0,
                 client: httpx.Client | None = None) -> None:
    """POST the message to a robot; an HTTP error or a non-zero errcode is a failure."""
    payload = webhook_payload(url, subject, body)
    try:
        if client is None:
            with httpx.Client(timeout=timeout) as own:
                response = own.post(url, json=payload)
        else:
            response = client.post(url, json=payload)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"机器人消息发送失败：{type(exc).__name__}: {exc}") from exc
    if response.status_code >= 300:
        raise DeliveryError(f"机器人消息发送失败：HTTP {response.status_code} {response.text[:200]}")
    try:
        answer = response.json()
    except ValueError:
        return  # a plain 200 from a generic receiver counts as delivered
    if isinstance(answer, dict) and answer.get("errcode", 0) not in (0, "0"):
        raise DeliveryError(
            f"机器人拒收：errcode={answer.get('errcode')} {answer.get('errmsg', '')}"
        )
