"""Receiving a file upload on an HTML form: a larger body for this request only, kept in memory.

Views that take a file check their form themselves (the app-wide check would read the body under the 1 MiB limit
before the view could raise it) and call ``accept_upload()`` first, which raises the limit for this one request,
keeps every uploaded part in memory instead of werkzeug's temporary files (spooled to disk above 500 KB), and only
then checks the form's CSRF token and nonce (speakup/web/once.py).
"""

from __future__ import annotations

import io
from typing import IO

from flask import current_app, request
from werkzeug.wrappers import Response

from speakup.platform.attachments import FIELD
from speakup.web import once

MULTIPART_OVERHEAD = 1024 * 1024  # room for the form's other fields beside the file


def _in_memory(
    total_content_length: int | None,
    content_type: str | None,
    filename: str | None = None,
    content_length: int | None = None,
) -> IO[bytes]:
    # Never a temporary file: a plaintext upload must not touch the disk. The body is capped below.
    return io.BytesIO()


def accept_upload(claim: bool = True) -> Response | None:
    """Call before anything reads ``request.form`` or ``request.files``. None when the form may be acted on,
    otherwise the answer (``once.check_form``)."""
    if request.mimetype == "multipart/form-data":
        # Only a body that can carry a file gets the larger limit; each text field in it stays
        # under MAX_FORM_MEMORY_SIZE. Anything else keeps MAX_CONTENT_LENGTH.
        request.max_content_length = int(current_app.config["ATTACHMENT_MAX_BYTES"]) + MULTIPART_OVERHEAD
    # werkzeug's documented hook for where file parts go; set on this request only.
    request._get_file_stream = _in_memory  # type: ignore[method-assign]
    return once.check_form(claim)


def uploaded_file() -> tuple[str, bytes, str] | None:
    """The chosen file's name, bytes and declared type, or None when no file was chosen."""
    storage = request.files.get(FIELD)
    if storage is None:
        return None
    data = storage.read()
    if not storage.filename and not data:
        return None  # the empty part a browser sends when no file was chosen
    return storage.filename or "", data, storage.mimetype or ""
