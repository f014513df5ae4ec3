"""The accessibility statement (/accessibility) and the privacy notice (/privacy): linked from the footer of every
page, reporter's and staff's; shipped words true of this service; a trust's own words from a plain-text file,
always shown as text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from support.apps import make_app
from support.present import found

from speakup import ConfigurationError

PAGES = {"/accessibility": "Accessibility statement", "/privacy": "Privacy notice"}


def _footer(html: str) -> str:
    return found(r'<footer class="nhsuk-footer".*?</footer>', html, re.S, group=0)


def _footer_links(html: str) -> dict[str, str]:
    return {text: href for href, text in re.findall(r'<a [^>]*href="([^"]+)"[^>]*>([^<]+)</a>', _footer(html))}


@pytest.mark.parametrize("path", PAGES)
def test_each_page_answers_with_its_heading(client: FlaskClient, path: str):
    page = client.get(path)
    assert page.status_code == 200
    assert f"<h1>{PAGES[path]}</h1>" in page.get_data(as_text=True)


def test_a_reporter_page_links_both_from_its_footer(client: FlaskClient):
    for path in ("/", "/raise", "/follow-up", "/other-ways", "/privacy"):
        links = _footer_links(client.get(path).get_data(as_text=True))
        assert links == {"Accessibility statement": "/accessibility", "Privacy notice": "/privacy"}, path


def test_a_guardian_page_and_an_admin_page_link_both_from_their_footer(signed: FlaskClient, admin_client: FlaskClient):
    for browser, path in ((signed, "/guardian/"), (signed, "/guardian/team"), (admin_client, "/admin/")):
        page = browser.get(path)
        assert page.status_code == 200, path
        links = _footer_links(page.get_data(as_text=True))
        assert links == {"Accessibility statement": "/accessibility", "Privacy notice": "/privacy"}, path


def test_the_shipped_accessibility_statement_says_what_is_true_and_how_to_report_a_problem(client: FlaskClient):
    html = client.get("/accessibility").get_data(as_text=True)
    assert "WCAG) 2.2 at level AA" in html
    assert "works with JavaScript turned off" in html
    assert "Tell us about a problem" in html and "tell Your NHS trust" in html


@pytest.fixture
def app_overrides() -> dict[str, object]:
    return {"RETENTION_DAYS": 730}


def test_the_shipped_privacy_notice_says_what_is_kept_and_for_how_long(client: FlaskClient):
    html = client.get("/privacy").get_data(as_text=True)
    kept = found(r'id="privacy-kept">(.*?)</ul>', html, re.S)
    not_kept = found(r'id="privacy-not-kept">(.*?)</ul>', html, re.S)
    assert "encrypted before it is stored" in kept
    assert "Your access code is never stored" in kept
    assert "IP address" in not_kept and "user agent" in not_kept
    # The retention period is the service's own setting (RETENTION_DAYS, 730 here), not words that can go stale.
    assert re.search(r'id="privacy-retention">A concern is deleted 730 days \(2 years\) after it is closed', html)


TRUST_WORDS = """Our own statement.
It goes on over two lines.

<script>alert("x")</script> & <b>bold</b> are only words here.
"""


@pytest.mark.parametrize(
    ("setting", "path"), [("ACCESSIBILITY_STATEMENT_FILE", "/accessibility"), ("PRIVACY_NOTICE_FILE", "/privacy")]
)
def test_a_trusts_own_words_replace_the_shipped_ones_as_text(database_url: str, tmp_path: Path, setting, path):
    words = tmp_path / "words.txt"
    words.write_text(TRUST_WORDS, encoding="utf-8")
    app: Flask = make_app(database_url, **{setting: str(words)})
    html = app.test_client().get(path).get_data(as_text=True)
    main = found(r"<main.*?</main>", html, re.S, group=0)
    assert "<p>Our own statement. It goes on over two lines.</p>" in main
    assert (
        "<p>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt; are only words here.</p>"
        in main
    )
    assert "<script>alert" not in html
    assert "WCAG" not in main and "IP address" not in main  # none of the shipped words
    assert f"<h1>{PAGES[path]}</h1>" in main


def test_a_file_in_the_instance_folder_is_found_by_its_name(database_url: str, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("SPEAKUP_INSTANCE_PATH", str(tmp_path))
    (tmp_path / "privacy.txt").write_text("Ask our data protection officer.\n", encoding="utf-8")
    app = make_app(database_url, PRIVACY_NOTICE_FILE="privacy.txt")
    assert "<p>Ask our data protection officer.</p>" in app.test_client().get("/privacy").get_data(as_text=True)


@pytest.mark.parametrize("content", [None, b"", b"\xff\xfe not text"])
def test_a_missing_empty_or_unreadable_file_stops_the_service_at_start_up(database_url: str, tmp_path: Path, content):
    words = tmp_path / "words.txt"
    if content is not None:
        words.write_bytes(content)
    with pytest.raises(ConfigurationError, match="SPEAKUP_ACCESSIBILITY_STATEMENT_FILE"):
        make_app(database_url, ACCESSIBILITY_STATEMENT_FILE=str(words))
