"""Addresses that leave the request: a link in an email, an enrolment link an administrator passes on, the
follow-up address printed for a reporter. They are built from PUBLIC_BASE_URL, never from the request's Host
header, which whoever sent the request chose (a link in an email must not point wherever an attacker likes)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import current_app

NOT_HTTPS_ERROR = (
    "PUBLIC_BASE_URL is not an https:// address with a host (the setting's default, when it is not set, is the "
    "development one, http://127.0.0.1:5000): enrolment links and emails would point at nobody's service, or go over "
    "plain http; set SPEAKUP_PUBLIC_BASE_URL to the service's https:// address"
)


BEHIND_PROXY_ERROR = (
    "SPEAKUP_PUBLIC_BASE_URL must be set behind a proxy: the service's public https:// address, which enrolment "
    "links and guardian emails are built from"
)


def development_address_behind_proxy(config: Mapping[str, Any]) -> bool:
    """Behind a reverse proxy (SPEAKUP_PROXY_FIX_X_FOR set) the service is certainly not reached at a loopback
    address, as the development default is: every enrolment link and guardian email would point at 127.0.0.1, so
    production refuses it (speakup/settings.py). Without a proxy (one machine on trial, the interface's own checks)
    the default starts, with NOT_HTTPS_ERROR, since the interface does not name this setting."""
    if int(config.get("PROXY_FIX_X_FOR") or 0) <= 0:
        return False
    host = urlsplit(str(config.get("PUBLIC_BASE_URL") or "")).hostname or ""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return not host


def is_https() -> bool:
    """Whether links leaving the service go to an https:// address, as every production one must."""
    address = urlsplit(str(current_app.config.get("PUBLIC_BASE_URL") or ""))
    return address.scheme == "https" and bool(address.hostname)


def public_url(path: str, **query: str) -> str:
    """``path`` (starting with "/") on the service's public address, with ``query`` as its query string."""
    url = str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/") + path
    return f"{url}?{urlencode(query)}" if query else url
