"""deploy/nginx/speakup.conf in front of a real gunicorn, as a trust would run them.

The shipped site file is copied with only its ports, certificate paths, error-log path and upstream address
rewritten (every other directive is the file's own), wrapped in a minimal nginx.conf and served by Debian's nginx on
free loopback ports with a throwaway self-signed certificate. gunicorn runs in production mode with exactly the
settings the site file's header asks for. Over HTTPS a concern is raised through the API and the form and followed
up with its access code; HSTS is sent once and old TLS refused; plain HTTP redirects; pages are compressed; a body
over the app's own limit but under nginx's gets the app's page; the access-code rate limit counts against the real
client whatever X-Forwarded-For it sends; and neither gunicorn's JSON access log nor nginx's files hold a client
address or user agent.

Clients connect from other loopback addresses (127.0.0.2 to 127.0.0.4) so "the client behind the proxy" differs
from nginx's own address (127.0.0.1), which is all gunicorn sees of the connection.
"""

from __future__ import annotations

import functools
import gzip
import http.client
import json
import os
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from support.html import ACCESS_CODE_RE, REFERENCE_RE, SUBMISSION_RE
from support.processes import free_port, stop_process
from support.servers import (
    HTTP_TIMEOUT,
    ROOT,
    Browser,
    Server,
    create_guardian,
    init_installation,
    production_env,
    start_gunicorn,
)

from speakup.crypto import access_codes

SITE = ROOT / "deploy" / "nginx" / "speakup.conf"
SETTING_RE = re.compile(r"^#\s+(SPEAKUP_[A-Z0-9_]+)=(\S+)\s*$", re.MULTILINE)
USER_AGENT = "SpeakUpNginxTest/1.0 ua-" + secrets.token_hex(8)
ACCESS_KEYS = {"time", "level", "logger", "message", "request_id", "method", "path", "status", "duration_ms"}
STARTUP_SECONDS = 10

pytestmark = pytest.mark.slow


@dataclass
class Proxy:
    gunicorn: Server
    nginx: subprocess.Popen
    http_port: int
    https_port: int
    tls: ssl.SSLContext
    files: Path

    def send(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        source: str = "127.0.0.2",
        https: bool = True,
    ) -> tuple[http.client.HTTPResponse, bytes]:
        """One request from ``source``, the answer not followed and its body not decoded."""
        where: dict[str, Any] = {"timeout": HTTP_TIMEOUT, "source_address": (source, 0)}
        conn = (
            http.client.HTTPSConnection("127.0.0.1", self.https_port, context=self.tls, **where)
            if https
            else http.client.HTTPConnection("127.0.0.1", self.http_port, **where)
        )
        try:
            conn.request(method, path, body=body, headers={"User-Agent": USER_AGENT, **(headers or {})})
            response = conn.getresponse()
            return response, response.read()
        finally:
            conn.close()

    def browser(self, source: str = "127.0.0.2") -> Browser:
        """support.servers.Browser (cookies, forms, redirects followed) over HTTPS from ``source``."""
        browser = Browser(f"https://127.0.0.1:{self.https_port}", USER_AGENT)
        browser.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(browser.jar), _FromAddress(self.tls, source)
        )
        return browser


class _FromAddress(urllib.request.HTTPSHandler):
    def __init__(self, context: ssl.SSLContext, source: str):
        super().__init__(context=context)
        self._tls = context
        self._source = source

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        connection = functools.partial(http.client.HTTPSConnection, source_address=(self._source, 0))
        return self.do_open(connection, req, context=self._tls)


def _program(name: str, install: str) -> str:
    # Debian puts nginx in /usr/sbin, which is not on an ordinary user's PATH.
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if not found:
        pytest.fail(f"{name} is needed for tests/system/test_nginx.py: {install} (make browser installs it as root)")
    return found


def _throwaway_certificate(where: Path) -> tuple[Path, Path, ssl.SSLContext]:
    cert, key = where / "localhost.pem", where / "localhost.key"
    subprocess.run(
        [_program("openssl", "apt-get install -y openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key, ssl.create_default_context(cafile=str(cert))  # verified: the test trusts this one certificate


def _settings_asked_for(site: str) -> dict[str, str]:
    settings = dict(SETTING_RE.findall(site))
    assert settings.get("SPEAKUP_PROXY_FIX_X_FOR") == "1", "the site file no longer documents its app settings"
    return settings


def _site_for_test(site: str, http_port: int, https_port: int, cert: Path, key: Path, upstream: str, log: Path) -> str:
    """The shipped file with exactly these values replaced, each where the file has it (comments untouched)."""
    rewrites = [
        (r"(\blisten\s+)80\b", rf"\g<1>127.0.0.1:{http_port}", 1),
        (r"(\blisten\s+)443\b", rf"\g<1>127.0.0.1:{https_port}", 1),
        (r"(\bssl_certificate\s+)[^;]+", rf"\g<1>{cert}", 1),
        (r"(\bssl_certificate_key\s+)[^;]+", rf"\g<1>{key}", 1),
        (r"(\bserver\s+)127\.0\.0\.1:8000\b", rf"\g<1>{upstream}", 1),
        (r"(\berror_log\s+)\S+", rf"\g<1>{log}", 2),
    ]
    lines = site.splitlines()
    for pattern, replacement, expected in rewrites:
        found = 0
        for i, line in enumerate(lines):
            code, hash_mark, comment = line.partition("#")
            code, n = re.subn(pattern, replacement, code)
            found += n
            lines[i] = code + hash_mark + comment
        assert found == expected, f"{SITE.name}: {pattern!r} found {found} times, not {expected}: update this test"
    return "\n".join(lines) + "\n"


def _nginx_conf(files: Path, site: str) -> str:
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    temp = "\n".join(f"    {kind}_temp_path {files / kind};" for kind in kinds)  # never the system's /var/lib/nginx
    # As root, nginx's workers would run as nobody, who cannot enter the test's private temporary directory.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return f"""{user}worker_processes 1;
error_log {files / "nginx-main-error.log"} notice;
events {{ worker_connections 64; }}
http {{
{temp}
{site}
}}
"""


def _wait_for_port(port: int, process: subprocess.Popen, output: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"nginx exited with {process.returncode}:\n{output.read_text(errors='replace')}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"nginx did not listen within {STARTUP_SECONDS} s:\n{output.read_text(errors='replace')}")


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    nginx = _program("nginx", "apt-get install -y nginx")
    files = tmp_path_factory.mktemp("nginx")
    cert, key, tls = _throwaway_certificate(files)
    site = SITE.read_text()
    # One worker: the limits count in its memory (several instances share Redis instead).
    env = production_env(f"sqlite:///{files / 'speakup.sqlite'}", workers="1", threads="4")
    env.update(_settings_asked_for(site))
    env["SPEAKUP_ACCESS_CODE_RATE_LIMIT"] = "3 per minute"
    assert f"server {env['SPEAKUP_BIND']};" in site, "the upstream is not the SPEAKUP_BIND the header gives"
    key_file = init_installation(env, files / "recovery-key.txt")
    create_guardian(env, "nginx-guardian@example.org", "Nginx Guardian", key_file)
    server = start_gunicorn(env, files)  # its own free port, replacing SPEAKUP_BIND
    http_port, https_port = free_port(), free_port()
    upstream = server.base_url.removeprefix("http://")
    conf = files / "nginx.conf"
    conf.write_text(
        _nginx_conf(files, _site_for_test(site, http_port, https_port, cert, key, upstream, files / "site-error.log"))
    )
    output = files / "nginx-output.log"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [nginx, "-p", str(files), "-c", str(conf), "-e", str(files / "nginx-startup.log"),
             "-g", f"daemon off; pid {files / 'nginx.pid'};"],
            stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_for_port(https_port, process, output)
        yield Proxy(server, process, http_port, https_port, tls, files)
    finally:
        stop_process(process)
        server.stop()


def test_a_concern_is_raised_and_followed_up_over_https(proxy: Proxy):
    raised, body = proxy.send(
        "POST", "/api/v1/concerns", {"Content-Type": "application/json"},
        json.dumps({"what_happened": "Raised through nginx", "anonymity": "anonymous"}).encode(),
    )  # fmt: skip
    assert raised.status == 201, body
    api_code = json.loads(body)["access_code"]
    followed, body = proxy.send("GET", "/api/v1/follow-up", {"Authorization": f"Bearer {api_code}"})
    assert followed.status == 200 and json.loads(body)["status"] == "received", body

    reporter = proxy.browser()
    form = reporter.get("/raise")
    submission = SUBMISSION_RE.search(form.text)
    assert form.status == 200 and submission, form.text
    fields = {"what_happened": "Raised on the form through nginx", "anonymity": "anonymous"}
    sent = reporter.post("/raise", form={"csrf_token": form.csrf(), "submission": submission.group(1), **fields})
    code, reference = ACCESS_CODE_RE.search(sent.text), REFERENCE_RE.search(sent.text)
    # The form's 303 leads to the confirmation; a failure shows the status and address, never the page's code.
    assert sent.status == 200 and sent.url.endswith("/raise/sent") and code and reference, f"{sent.status} {sent.url}"
    assert sent.url.startswith("https://")  # the app's redirect stayed on HTTPS

    again = proxy.browser()
    start = again.get("/follow-up")
    case = again.post("/follow-up", form={"csrf_token": start.csrf(), "access_code": code.group(1).strip()})
    assert case.status == 200 and case.url.endswith("/follow-up/case"), f"{case.status} {case.url}"
    assert 'id="case-status"' in case.text and reference.group(1).strip() in case.text
    cookie, _ = proxy.send("GET", "/raise")
    assert "Secure" in (cookie.getheader("Set-Cookie") or ""), "the session cookie must be HTTPS-only"


def test_tls_headers_and_redirect(proxy: Proxy):
    page, _ = proxy.send("GET", "/")
    assert page.status == 200
    assert page.headers.get_all("Strict-Transport-Security") == ["max-age=31536000; includeSubDomains"]
    for name in ("Content-Security-Policy", "Referrer-Policy", "X-Frame-Options", "Cache-Control", "X-Request-Id"):
        assert len(page.headers.get_all(name) or []) == 1, f"{name}: {page.headers.get_all(name)}"
    assert page.getheader("Server") == "nginx", "server_tokens off: no version"

    plain, _ = proxy.send("GET", "/follow-up?from=http", https=False)
    assert plain.status == 301 and plain.getheader("Location") == "https://127.0.0.1/follow-up?from=http"
    assert not plain.headers.get_all("Strict-Transport-Security")  # browsers ignore it over HTTP anyway

    for version, name in ((ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")):
        assert _handshake(proxy, version) == name
    # The server refuses these (its alert), not this client: it can speak them (see _handshake).
    for version in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
        with pytest.raises(ssl.SSLError, match="PROTOCOL_VERSION"):
            _handshake(proxy, version)
    with pytest.raises(ssl.SSLError, match="HANDSHAKE_FAILURE"):  # TLS 1.2 without forward secrecy or AEAD
        _handshake(proxy, ssl.TLSVersion.TLSv1_2, "AES128-SHA:AES256-GCM-SHA384:ECDHE-RSA-AES128-SHA")


def _handshake(proxy: Proxy, version: ssl.TLSVersion, ciphers: str = "ALL:@SECLEVEL=0") -> str | None:
    """The protocol agreed when the client offers only ``version`` (and ``ciphers``, at any security level, so
    the client itself would accept old protocols and suites: only the server can refuse them)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(proxy.files / "localhost.pem")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Python deprecates naming TLS 1.0 and 1.1
        context.minimum_version = context.maximum_version = version
    context.set_ciphers(ciphers)
    with (
        socket.create_connection(("127.0.0.1", proxy.https_port), timeout=HTTP_TIMEOUT) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        return tls.version()


def test_body_limits_leave_normal_refusals_to_the_app(proxy: Proxy):
    over_app_limit = b"what_happened=" + b"x" * (2 * 1024 * 1024)
    answer, _ = proxy.send("POST", "/raise", {"Content-Type": "application/x-www-form-urlencoded"}, over_app_limit)
    # The app's own refusal: a form too large goes back to its page, which says so (a 303, for the shared computer),
    # never an error page the browser would keep with the body.
    back = urlsplit(answer.getheader("Location") or "").path == "/raise"
    assert answer.status == 303 and back and answer.getheader("Content-Security-Policy"), "the app's own refusal"
    assert answer.headers.get_all("Strict-Transport-Security") == ["max-age=31536000; includeSubDomains"]

    # Far above any upload the app accepts: nginx refuses on the Content-Length alone, and still sends HSTS once.
    refused = _far_too_large(proxy)
    assert refused.status == 413 and not refused.getheader("Content-Security-Policy"), "nginx's own 413"
    assert refused.headers.get_all("Strict-Transport-Security") == ["max-age=31536000; includeSubDomains"]


def _far_too_large(proxy: Proxy) -> http.client.HTTPResponse:
    """Announces a 13 MiB upload and sends none of it. nginx would log this refusal at its "error" level."""
    conn = http.client.HTTPSConnection("127.0.0.1", proxy.https_port, context=proxy.tls, timeout=HTTP_TIMEOUT)
    try:
        conn.putrequest("POST", "/raise")
        conn.putheader("User-Agent", USER_AGENT)
        conn.putheader("Content-Type", "multipart/form-data; boundary=x")
        conn.putheader("Content-Length", str(13 * 1024 * 1024))
        conn.endheaders()
        refused = conn.getresponse()
        refused.read()
        return refused
    finally:
        conn.close()


def test_pages_are_compressed_when_asked(proxy: Proxy):
    page, body = proxy.send("GET", "/", {"Accept-Encoding": "gzip"})
    assert page.getheader("Content-Encoding") == "gzip" and "Accept-Encoding" in (page.getheader("Vary") or "")
    html = gzip.decompress(body).decode()
    assert "Raise a concern" in html
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', html)
    assert stylesheet, html
    css, _ = proxy.send("GET", stylesheet.group(1), {"Accept-Encoding": "gzip"})
    assert css.status == 200 and css.getheader("Content-Encoding") == "gzip"
    # The app's own brotli copy and its year-long cache reach the browser through the proxy unchanged.
    css, _ = proxy.send("GET", stylesheet.group(1), {"Accept-Encoding": "gzip, br"})
    assert css.getheader("Content-Encoding") == "br"
    assert css.getheader("Cache-Control") == "public, max-age=31536000, immutable"
    plain, body = proxy.send("GET", "/")
    assert plain.getheader("Content-Encoding") is None and b"Raise a concern" in body


def test_the_rate_limit_counts_against_the_client_behind_the_proxy(proxy: Proxy):
    def wrong_code(source: str, forwarded_for: str) -> int:
        headers = {"Authorization": f"Bearer {access_codes.new_access_code()}", "X-Forwarded-For": forwarded_for}
        answer, _ = proxy.send("GET", "/api/v1/follow-up", headers, source=source)
        return answer.status

    # Each guess claims to come from somewhere else; nginx replaces the header with the address it sees.
    spoofed = ["198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4, 127.0.0.3", "127.0.0.3"]
    answers = [wrong_code("127.0.0.4", address) for address in spoofed]
    assert answers == [401, 401, 401, 429, 429], answers
    # Another client behind the same proxy keeps its own budget: the limit is not keyed on nginx's address.
    assert wrong_code("127.0.0.3", "198.51.100.9") == 401


def test_logs_hold_no_address_agent_or_query(proxy: Proxy):
    query_marker = "q-" + secrets.token_hex(8)
    page, _ = proxy.send("GET", f"/?{query_marker}", {"X-Forwarded-For": "192.0.2.55"})
    pasted_code = access_codes.new_access_code()
    missing, _ = proxy.send("GET", f"/follow-up/{pasted_code}")
    assert (page.status, missing.status, _far_too_large(proxy).status) == (200, 404, 413)
    time.sleep(0.3)  # gunicorn writes its line just after the answer

    text = proxy.gunicorn.access_log.read_text()
    lines = [json.loads(line) for line in text.splitlines()]  # every line is JSON
    assert lines and all(line.keys() >= ACCESS_KEYS and line["logger"] == "gunicorn.access" for line in lines)
    home = [line for line in lines if line["request_id"] == page.getheader("X-Request-Id")]
    assert len(home) == 1 and (home[0]["method"], home[0]["path"], home[0]["status"]) == ("GET", "/", 200), home
    assert {"path": "[path not logged]", "status": 404}.items() <= lines[-1].items(), lines[-1]
    for secret in ("127.0.0.", "192.0.2.55", "198.51.100.", USER_AGENT, "SpeakUpNginxTest", query_marker, pasted_code):
        assert secret not in text, f"{secret!r} in gunicorn's access log"

    # nginx's error lines name the client and the request line: the site logs only emergencies (none here).
    nginx_files = [path for path in proxy.files.iterdir() if path.name.endswith(".log") and "gunicorn" not in path.name]
    assert {"site-error.log", "nginx-main-error.log"} <= {path.name for path in nginx_files}
    for path in nginx_files:
        content = path.read_text(errors="replace")
        assert "SpeakUpNginxTest" not in content and "client:" not in content, f"{path.name}:\n{content}"
