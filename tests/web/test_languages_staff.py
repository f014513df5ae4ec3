"""The administrator's pages, enrolment, the API and guardian emails in another language (issue 28), under a test
catalogue for a language the service does not ship (Esperanto), as tests/web/test_languages.py does."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask_babel import force_locale
from support.apps import make_app
from support.catalogues import directories_with, install_catalogue
from support.factories import TOTP_SECRET_RE, enrolment_path, signed_in_admin
from support.html import post_form

from speakup.domain import staff
from speakup.keys import roster_log
from speakup.ops import notify
from speakup.platform import clock

pytestmark = pytest.mark.fresh_app

ESPERANTO = {
    "Set up your account": "Agordu vian konton",
    "Your password must be at least %(min_length)d characters": "Via pasvorto havu almenaŭ %(min_length)d signojn",
    "Staff accounts": "Kunlaborantaj kontoj",
    "Some fields need attention.": "Kelkaj kampoj bezonas atenton.",
    "A new concern has been raised": "Nova zorgo estis levita",
    "A new concern is waiting for you in Speak Up.": "Nova zorgo atendas vin en Speak Up.",
    "Sign in to Speak Up: %(url)s": "Ensalutu al Speak Up: %(url)s",
    "%(name)s was reset and must be approved again": "%(name)s estis restarigita kaj devas esti aprobita denove",
}
ADDRESS = "https://speakup.example.nhs.uk"


def _settings(folder: Path, code: str = "eo", **more: object) -> dict[str, object]:
    install_catalogue(folder, code, ESPERANTO)
    return {"LANGUAGES": ["en", code], "BABEL_TRANSLATION_DIRECTORIES": directories_with(folder),
            "PUBLIC_BASE_URL": ADDRESS, **more}  # fmt: skip


@pytest.fixture
def app_overrides(tmp_path: Path) -> dict[str, object]:
    return _settings(tmp_path / "translations")


def _chosen(client, path: str) -> str:
    """The page at ``path`` after choosing Esperanto with the chooser's link."""
    joined = "&" if "?" in path else "?"
    chosen = client.get(f"{path}{joined}language=eo")
    assert chosen.status_code == 303
    return client.get(chosen.headers["Location"]).get_data(as_text=True)


def test_the_enrolment_page_and_a_password_rule_are_in_the_language_chosen(app: Flask) -> None:
    admin_client, _admin = signed_in_admin(app)
    made = post_form(admin_client, "/admin/invite", name="Nia New", email="nia@example.org", role="guardian")
    path = enrolment_path(admin_client.get(made.headers["Location"]).get_data(as_text=True))
    client = app.test_client()
    page = _chosen(client, path)
    assert "<h1>Agordu vian konton</h1>" in page
    secret = TOTP_SECRET_RE.search(page)
    assert secret, "no security-code secret on the page"
    token = path.partition("token=")[2]
    sent = post_form(client, path, "/enrol", token=token, password="too short", confirm="too short",
                     totp_secret=secret.group(1), security_code="")  # fmt: skip
    again = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert "Via pasvorto havu almenaŭ 12 signojn" in again
    assert "Your password must be at least" not in again


def test_the_accounts_page_is_in_the_language_chosen(app: Flask) -> None:
    admin_client, _admin = signed_in_admin(app)
    assert "<h1>Staff accounts</h1>" in admin_client.get("/admin/").get_data(as_text=True)
    assert "<h1>Kunlaborantaj kontoj</h1>" in _chosen(admin_client, "/admin/")


def test_a_change_of_guardians_is_said_in_one_sentence_with_the_name_in_it(app: Flask) -> None:
    change = staff.RosterChange(clock.utcnow(), "Nia New", staff.ROSTER_CHANGES[roster_log.RESET])
    with app.test_request_context("/"):
        assert change.sentence == "Nia New was reset and must be approved again"
        with force_locale("eo"):
            assert change.sentence == "Nia New estis restarigita kaj devas esti aprobita denove"


def test_an_api_error_is_in_the_language_the_request_accepts(app: Flask) -> None:
    client = app.test_client()
    asked = client.post("/api/v1/concerns", json={}, headers={"Accept-Language": "eo, en;q=0.5"})
    assert asked.status_code == 422
    assert asked.get_json()["error"]["message"] == "Kelkaj kampoj bezonas atenton."
    assert asked.get_json()["error"]["code"] != "Kelkaj kampoj bezonas atenton."  # codes are for the client
    plain = client.post("/api/v1/concerns", json={})
    assert plain.get_json()["error"]["message"] == "Some fields need attention."


def test_the_command_line_answers_its_operator_in_english(database_url: str, tmp_path: Path) -> None:
    app = make_app(database_url, **_settings(tmp_path / "translations", DEFAULT_LANGUAGE="eo"))
    args = ["speakup", "create-user", "--email", "g@example.org", "--name", "Gita", "--role", "guardian"]
    refused = app.test_cli_runner().invoke(args=args, input="short\n")
    assert refused.exit_code != 0
    assert "Your password must be at least 12 characters" in refused.output, refused.output


# --- Guardian emails: the default language first, then English -------------------------------------------------

SIGN_IN = f"{ADDRESS}/guardian/"


def test_an_email_is_in_the_default_language_then_english(database_url: str, tmp_path: Path) -> None:
    app = make_app(database_url, **_settings(tmp_path / "translations", DEFAULT_LANGUAGE="eo"))
    with app.app_context():  # as the mail worker sends it: outside any request
        subject, body = notify.message(notify.Kind.NEW_CONCERN, None) or ("", "")
    assert subject == "Nova zorgo estis levita / A new concern has been raised"
    assert body == (
        f"Nova zorgo atendas vin en Speak Up.\n\nEnsalutu al Speak Up: {SIGN_IN}\n"
        f"\n---\n\n"
        f"A new concern is waiting for you in Speak Up.\n\nSign in to Speak Up: {SIGN_IN}\n"
    )


def test_a_subject_not_yet_translated_is_written_once(database_url: str, tmp_path: Path) -> None:
    app = make_app(database_url, **_settings(tmp_path / "translations", DEFAULT_LANGUAGE="eo"))
    with app.app_context():
        subject, _body = notify.message(notify.Kind.DEADLINE_DUE, 1) or ("", "")
    assert subject == "A case deadline is coming up"


def test_an_english_service_that_offers_welsh_writes_english_then_welsh(database_url: str, tmp_path: Path) -> None:
    app = make_app(database_url, **_settings(tmp_path / "translations", code="cy"))
    with app.app_context():
        subject, body = notify.message(notify.Kind.NEW_CONCERN, None) or ("", "")
        languages = notify.email_languages()
    assert languages == ["en", "cy"]
    assert subject == "A new concern has been raised / Nova zorgo estis levita"
    assert body.index("A new concern is waiting") < body.index("Nova zorgo atendas") < body.index("Ensalutu")


def test_an_english_service_writes_english_only(database_url: str, tmp_path: Path) -> None:
    app = make_app(database_url, **_settings(tmp_path / "translations"))
    with app.app_context():
        assert notify.email_languages() == ["en"]
        assert notify.message(notify.Kind.DEADLINE_DUE, 2) == (
            "2 case deadlines are coming up",
            f"2 case deadlines in Speak Up are coming up.\n\nSign in to Speak Up: {SIGN_IN}\n",
        )
