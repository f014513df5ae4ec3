"""Following up on the HTML pages: typing mistakes named, one answer for every wrong code, no code in the cookie,
sign-out."""

from __future__ import annotations

import html
import json
import logging
import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from support.factories import gen_concern
from support.html import post_form
from support.present import found, get_row, scalar

from speakup.crypto import access_codes, sealing
from speakup.platform import clock
from speakup.platform.models import Case, ReporterSession, db

NOT_FOUND = "We could not find a concern with that access code"


def _open(client, code):
    # /follow-up redirects while a concern is open, so take the CSRF token from another form.
    return post_form(client, "/raise", "/follow-up", access_code=code)


def _refused(client, code):
    """The page a refused code leads to. The answer to the POST itself is a redirect that carries nothing typed
    (a browser keeps it in History and sends it again on Reload)."""
    response = _open(client, code)
    assert response.status_code == 303 and response.location == "/follow-up"
    assert not code.strip() or html.escape(code) not in response.get_data(as_text=True)
    return client.get(response.location)


def _one_typo(code: str) -> str:
    normalised = access_codes.normalise_access_code(code)
    swap = "A" if normalised[3] != "A" else "B"
    return normalised[:3] + swap + normalised[4:]


def test_follow_up_page_has_contract_names(client):
    page = client.get("/follow-up").get_data(as_text=True)
    assert '<label class="nhsuk-label" for="access_code">Access code</label>' in page
    assert ">Continue</button>" in page


def test_right_code_opens_the_case(client):
    raised = gen_concern(client, what_happened="The hoist on ward 9 is broken")
    response = _open(client, raised["access_code"].lower().replace("-", " "))
    assert response.status_code == 303
    page = client.get("/follow-up/case")
    text = page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    assert 'id="case-status">Received – waiting for a guardian<' in text
    assert "The hoist on ward 9 is broken" in text
    assert raised["reference"] in text
    assert '<label class="nhsuk-label nhsuk-label--m" for="body">Your message</label>' in text
    assert ">Send message</button>" in text
    assert 'Sign out<span class="nhsuk-u-visually-hidden"> of this concern</span>' in text


def _caught_swap(code: str) -> str:
    """Two neighbouring characters swapped, as people do, at the first place the check character catches it."""
    normalised = access_codes.normalise_access_code(code)
    for i in range(len(normalised) - 1):
        swapped = normalised[:i] + normalised[i + 1] + normalised[i] + normalised[i + 2 :]
        try:
            access_codes.normalise_access_code(swapped)
        except access_codes.InvalidAccessCode:
            return access_codes.format_access_code(swapped)
    raise AssertionError("no neighbour swap of this code is caught")


TYPING_MISTAKE = "This access code has a typing mistake. Check each character against the code you saved"
ENTER_CODE = "Enter your access code"


def _box(page: str) -> str:
    """What the access-code box holds, as the browser will show it."""
    return html.unescape(found(r'<input[^>]*id="access_code"[^>]*value="([^"]*)"', page))


def test_a_well_formed_code_that_opens_nothing_gets_the_one_answer_and_keeps_the_text(client):
    gen_concern(client)
    typed = access_codes.new_access_code().lower()  # well formed, check character right, opens nothing
    response = _refused(client, typed)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "We could not find a concern with that access code. Check it and try again." in page
    assert TYPING_MISTAKE not in page and ENTER_CODE not in page
    assert _box(page) == typed  # one character may be wrong: they can put it right
    assert client.get("/follow-up/case").status_code == 302


@pytest.mark.parametrize("kind", ["typo", "swap", "short", "letters", "markup"])
def test_a_typing_mistake_says_so_by_the_field_and_keeps_what_was_typed(client, caplog, kind):
    raised = gen_concern(client)
    code = raised["access_code"]
    typed = {
        "typo": _one_typo(code).lower(),
        "swap": _caught_swap(code),
        "short": code[:-5],
        "letters": "not-a-code",
        "markup": '<b>"7K3M" & co</b>',
    }[kind]
    caplog.set_level(logging.DEBUG, logger="speakup")
    response = _refused(client, typed)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert TYPING_MISTAKE in page and NOT_FOUND not in page
    # By the field (the error message is inside the field's group) and in the summary at the top.
    field = page.split("nhsuk-form-group--error")[1].split("<button")[0]
    assert TYPING_MISTAKE in field and 'aria-describedby="access_code-hint access_code-error"' in field
    assert 'class="nhsuk-error-summary"' in page and page.index("nhsuk-error-summary") < page.index(TYPING_MISTAKE)
    assert _box(page) == typed  # exactly as typed, and escaped: no markup of theirs reaches the page
    assert "<b>" not in page.split("<main")[1]
    assert "<title>Error: " in page
    assert typed not in caplog.text and access_codes.normalise_access_code(code) not in caplog.text
    assert client.get("/follow-up/case").status_code == 302


@pytest.mark.parametrize("typed", ["", "   ", " - \u2013 "])
def test_an_empty_box_asks_for_the_code(client, typed):
    response = _refused(client, typed)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert ENTER_CODE in page and NOT_FOUND not in page and TYPING_MISTAKE not in page


@pytest.mark.parametrize(
    "separator", ["\u2013", "\u2014", "\u2212", "\u00a0", "\u202f", "\u2009", " \u2013 ", "\u2011", ""]
)
def test_dashes_spaces_and_lower_case_from_other_keyboards_open_the_case(client, separator):
    raised = gen_concern(client)
    typed = raised["access_code"].replace("-", separator)
    assert _open(client, typed).status_code == 303
    assert _open(client, typed.lower()).status_code == 303
    assert 'id="case-status"' in client.get("/follow-up/case").get_data(as_text=True)


def test_the_cookie_never_holds_the_access_code(app, client):
    raised = gen_concern(client)
    _open(client, raised["access_code"])
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    session_data = app.session_interface.get_signing_serializer(app).loads(cookie.value)
    decoded = json.dumps(session_data)
    normalised = access_codes.normalise_access_code(raised["access_code"])
    assert normalised not in decoded and raised["access_code"] not in decoded
    assert normalised not in cookie.value
    assert set(session_data) >= {"reporter_session", "reporter_key"}
    # The server half alone opens nothing: the case key is sealed under the cookie's key.
    with app.app_context():
        row = get_row(ReporterSession, session_data["reporter_session"])
        with pytest.raises(sealing.DecryptionError):
            sealing.open_sealed(
                sealing.new_session_key(), row.case_key_ct, b"speakup-v1|reporter-session|" + row.id.encode()
            )


def test_reply_appears_and_empty_reply_is_refused(client):
    raised = gen_concern(client)
    _open(client, raised["access_code"])
    response = post_form(client, "/follow-up/case", "/follow-up/case/messages", body="More detail: it happened twice")
    assert response.status_code == 303
    page = client.get("/follow-up/case").get_data(as_text=True)
    assert "More detail: it happened twice" in page
    response = post_form(client, "/follow-up/case", "/follow-up/case/messages", body="   ")
    assert response.status_code == 303 and response.location == "/follow-up/case#messages"
    assert "Write a message before sending it" in client.get(response.location).get_data(as_text=True)


def test_reply_moves_a_case_waiting_for_the_reporter_back_to_work(app, client):
    raised = gen_concern(client)
    with app.app_context():
        case = scalar(select(Case).where(Case.reference == raised["reference"]))
        case.status = "awaiting_reporter"
        db.session.commit()
    _open(client, raised["access_code"])
    assert 'id="case-status">Waiting for your reply<' in client.get("/follow-up/case").get_data(as_text=True)
    post_form(client, "/follow-up/case", "/follow-up/case/messages", body="Here is my answer")
    assert 'id="case-status">Being looked into<' in client.get("/follow-up/case").get_data(as_text=True)


def test_sign_out_forgets_the_concern(app, client):
    raised = gen_concern(client)
    _open(client, raised["access_code"])
    response = post_form(client, "/follow-up/case", "/follow-up/sign-out")
    assert response.status_code == 303
    assert "You have signed out of your concern" in client.get(response.location).get_data(as_text=True)
    assert client.get("/follow-up/case").status_code == 302
    with app.app_context():
        assert db.session.scalars(select(ReporterSession)).all() == []


def test_idle_session_expires_and_keeps_the_unsent_reply(app, client):
    raised = gen_concern(client)
    _open(client, raised["access_code"])
    token_page = client.get("/follow-up/case").get_data(as_text=True)
    with app.app_context():
        row = db.session.scalars(select(ReporterSession)).one()
        row.last_seen_at = clock.utcnow() - timedelta(minutes=16)
        db.session.commit()
    from support.html import CSRF_RE

    token = found(CSRF_RE, token_page)
    response = client.post("/follow-up/case/messages", data={"csrf_token": token, "body": "Unsent words"})
    assert response.status_code == 303 and "Unsent words" not in response.get_data(as_text=True)
    page = client.get(response.location).get_data(as_text=True)
    assert "You were signed out" in page and "Unsent words" in page
    # Kept only until the person goes to another page.
    client.get("/")
    assert "Unsent words" not in client.get("/follow-up").get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(ReporterSession)).all() == []


@pytest.fixture
def app_overrides(request):
    return getattr(request, "param", {})


@pytest.mark.parametrize("app_overrides", [{"ACCESS_CODE_RATE_LIMIT": "3 per minute"}], indirect=True)
def test_guessing_codes_is_rate_limited(client):
    raised = gen_concern(client)
    # A right code does not count against the limit.
    for _ in range(3):
        assert _open(client, raised["access_code"]).location == "/follow-up/case"
    for _ in range(3):
        assert _open(client, access_codes.new_access_code()).location == "/follow-up"
    typed = access_codes.new_access_code()
    response = _open(client, typed)
    # Never a page answering the POST (the browser would keep the code with it, review finding F1): back to the
    # form, which says so, keeping nothing typed.
    assert response.status_code == 303 and response.location == "/follow-up"
    assert int(response.headers["Retry-After"]) > 0
    page = client.get(response.location, follow_redirects=True).get_data(as_text=True)
    assert "Too many tries" in page and typed not in page


@pytest.mark.parametrize("app_overrides", [{"ACCESS_CODE_RATE_LIMIT": "3 per minute"}], indirect=True)
def test_typing_mistakes_and_empty_boxes_count_against_the_limit_like_wrong_codes(client):
    """Saying "typing mistake" must not become a way round the limit: every refusal spends one try."""
    raised = gen_concern(client)
    assert _open(client, _one_typo(raised["access_code"])).location == "/follow-up"
    assert _open(client, "").location == "/follow-up"
    assert _open(client, access_codes.new_access_code()).location == "/follow-up"
    for typed in (_one_typo(raised["access_code"]), "", raised["access_code"]):
        refused = _open(client, typed)
        assert refused.status_code == 303 and "Retry-After" in refused.headers  # limited, not checked


def test_wrong_codes_cost_the_same_work_as_right_ones(app, client, monkeypatch):
    """Same answer *and* same effort: the same queries (the case, and what the cached roster rests on: the guardian
    rows and the log's head, for the codes it names), one key derivation and one unseal, found or not."""
    from sqlalchemy import event

    from speakup.keys import grants

    raised = gen_concern(client)
    counts: dict[str, int] = {}

    def counting(name, real):
        def wrapper(*args, **kwargs):
            counts[name] = counts.get(name, 0) + 1
            return real(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(access_codes, "access_code_key", counting("derive", access_codes.access_code_key))
    monkeypatch.setattr(sealing, "open_sealed", counting("unseal", sealing.open_sealed))
    monkeypatch.setattr(access_codes, "access_code_lookup_id", counting("hmac", access_codes.access_code_lookup_id))

    def work_for(code: str) -> dict[str, int]:
        counts.clear()
        with app.app_context():
            engine = db.engine

            def count_query(*_args):
                counts["queries"] = counts.get("queries", 0) + 1

            event.listen(engine, "before_cursor_execute", count_query)
            try:
                grants.open_with_access_code(code, app.config["TOKEN_PEPPER_BYTES"])
            except grants.AccessCodeNotFound:
                pass
            finally:
                event.remove(engine, "before_cursor_execute", count_query)
                db.session.rollback()
        return dict(counts)

    right = work_for(raised["access_code"])
    assert right == {"hmac": 1, "queries": 3, "derive": 1, "unseal": 1}
    for wrong in (access_codes.new_access_code(), "not-a-code", _one_typo(raised["access_code"]), ""):
        assert work_for(wrong) == right


LOOKS_LIKE_REFERENCE = "That looks like your case reference. Your access code is the longer code"


@pytest.mark.parametrize("typed", ["{reference}", "{lower}", "SU {spaced}", "su-abcd1234"])
def test_a_case_reference_in_the_box_is_told_apart_by_the_field_and_not_kept(client, caplog, typed):
    """Issue 26, point 3: a reference typed instead of the code. Known from the text alone (a reference starts with
    SU, and no access code has a U), so saying so reveals nothing; nothing is looked up by it."""
    reference = gen_concern(client)["reference"]
    typed = typed.format(reference=reference, lower=reference.lower(), spaced=reference[3:7] + " " + reference[7:])
    caplog.set_level(logging.DEBUG, logger="speakup")
    page = _refused(client, typed).get_data(as_text=True)
    field = page.split("nhsuk-form-group--error")[1].split("<button")[0]
    assert LOOKS_LIKE_REFERENCE in field and "you were given when you raised" in field
    assert TYPING_MISTAKE not in page and NOT_FOUND not in page
    assert _box(page) == ""  # nothing in it to put right: the box is left empty, and nothing of it is kept
    assert reference not in caplog.text and typed not in caplog.text
    assert client.get("/follow-up/case").status_code == 302


def test_a_wrong_code_still_gets_the_usual_answer_not_the_reference_one(client):
    gen_concern(client)
    page = _refused(client, access_codes.new_access_code()).get_data(as_text=True)
    assert NOT_FOUND in page and LOOKS_LIKE_REFERENCE not in page
    page = _refused(client, "7K3M-9QXA").get_data(as_text=True)  # the start of a code: a typing mistake
    assert TYPING_MISTAKE in page and LOOKS_LIKE_REFERENCE not in page


def test_the_page_says_what_to_do_with_a_lost_code(client):
    page = client.get("/follow-up").get_data(as_text=True)
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())
    assert "Lost your access code? Contact a guardian with your case reference" in text
    assert 'href="/other-ways#talk-to-a-guardian"' in page
    assert 'id="talk-to-a-guardian"' in client.get("/other-ways").get_data(as_text=True)
