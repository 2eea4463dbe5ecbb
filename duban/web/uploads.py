"""Bounded request bodies: refused by their declared length before a byte is read, and cut
off while streaming once they pass the limit, so a huge upload costs neither memory nor time.

`bounded_receive` is the `receive` the app gets (from `frame.RequestFrame`, duban's one ASGI
layer around the app). A request whose Content-Length is over its path's limit is refused
when the app first asks for the body (the sign-in and CSRF checks have run, no body byte has
been read); one sent without a length (chunked) is counted chunk by chunk and refused at the
first chunk past the limit. The refusal is an HTTP 413 raised inside the app, so it is
answered like every other error (JSON for the API, a page for a person), and
the server closes the connection without reading the rest. Starlette spools file parts over
1 MB to disk, and `read_upload` reads no more of a file than its limit and one byte: memory
stays flat whatever is sent.
"""

from __future__ import annotations

from fastapi import UploadFile
from starlette.exceptions import HTTPException
from starlette.types import Message, Receive, Scope

from duban.services.evidence import MAX_FILE_BYTES, Phase, UploadedFile

MIB = 1024 * 1024
# A request's body: the files of one submission (a few phone photos and scans) and its form
# fields. More files go up in further requests (the API's evidence upload takes any number).
MAX_BODY_BYTES = 30 * MIB
# An import file and its form fields.
MAX_IMPORT_FILE_BYTES = 50 * MIB
MAX_IMPORT_BODY_BYTES = MAX_IMPORT_FILE_BYTES + MIB


def body_limit(path: str) -> int:
    """The most bytes a request body to this path may carry."""
    return MAX_IMPORT_BODY_BYTES if path == "/imports" else MAX_BODY_BYTES


def _too_large(path: str, limit: int) -> HTTPException:
    if path == "/imports":
        return HTTPException(413, detail=f"导入文件超过 {MAX_IMPORT_FILE_BYTES // MIB} MB 的上限，"
                                         "已拒绝；请按乡镇或村把表格分成几个文件，分批导入")
    return HTTPException(413, detail=f"上传内容超过 {limit // MIB} MB 的上限，已拒绝；"
                                     f"每个文件不超过 {MAX_FILE_BYTES // MIB} MB，文件较多时请分批上传")


def bounded_receive(scope: Scope, receive: Receive) -> Receive:
    """The request's `receive`, refusing a body over the path's limit (HTTP 413): by its
    declared length before a byte is read, else at the first chunk past the limit.
    `frame.RequestFrame` hands it to the app in place of the server's."""
    limit = body_limit(scope["path"])
    declared = _content_length(scope)
    received = 0

    async def bounded() -> Message:
        nonlocal received
        if declared is not None and declared > limit:
            raise _too_large(scope["path"], limit)  # before reading a byte of it
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise _too_large(scope["path"], limit)
        return message

    return bounded


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def read_upload(f: UploadFile, phase: Phase = "after") -> UploadedFile:
    """A file part as the evidence checks take it: at most the per-file limit and one byte
    read into memory, its whole size known (Starlette counted it while spooling)."""
    content = await f.read(MAX_FILE_BYTES + 1)
    return UploadedFile(filename=f.filename or "", content=content, phase=phase,
                        size=f.size if f.size is not None else len(content))
