"""Addresses that leave the request: a link in an email, an enrolment link an administrator passes on, the
follow-up address printed for a reporter. They are built from PUBLIC_BASE_URL, never from the request's Host
header, which whoever sent the request chose (a link in an email must not point wherever an attacker likes)."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import current_app

NOT_HTTPS_ERROR = (
    "PUBLIC_BASE_URL is not an https:// address (unset, it is the development one): enrolment links and emails "
    "would point at nobody's service, or over plain http; set SPEAKUP_PUBLIC_BASE_URL to the service's address"
)


def is_https() -> bool:
    """Whether links leaving the service go to an https:// address, as every production one must."""
    return str(current_app.config.get("PUBLIC_BASE_URL") or "").startswith("https://")


def public_url(path: str, **query: str) -> str:
    """``path`` (starting with "/") on the service's public address, with ``query`` as its query string."""
    url = str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/") + path
    return f"{url}?{urlencode(query)}" if query else url
