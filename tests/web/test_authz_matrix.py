"""Authorization matrix: every route of the app's URL map, for every method it
accepts, for every kind of caller, with the answer it must give. A route added to the app without a
row here fails ``test_every_route_is_in_the_matrix``, naming it.

Each request is classified, not matched byte for byte: the question is only whether the caller got
past authorization. POSTs carry a valid CSRF token (with its one-time nonce, a fresh one for each POST)
and no other fields, so "past authorization" is often a form sent back to its page by the domain's rules (a 303,
"ok") or a 400/409/422 ("ok-validation"), which count as allowed. A form refused before any view ran (a missing,
forged or used token) is never counted as allowed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from support.factories import Staff, gen_admin, gen_concern, gen_staff
from support.html import AuthActions, csrf_token
from support.present import get_row, present
from werkzeug.test import TestResponse

from speakup.domain import files, references
from speakup.keys import grants
from speakup.platform import attachments
from speakup.platform.models import User, db
from speakup.web import once

# Rate limits are proven elsewhere; here they must never turn an answer into a 429.
GENEROUS = "10000 per minute"


@dataclass(frozen=True)
class _Account:
    """An account as a bare recipient of a case key: its id and public key, which no roster verified."""

    id: int
    public_key: bytes


@pytest.fixture
def app_overrides() -> dict[str, object]:
    return {"SUBMIT_RATE_LIMIT": GENEROUS, "ACCESS_CODE_RATE_LIMIT": GENEROUS, "SIGN_IN_RATE_LIMIT": GENEROUS}


IGNORED_METHODS = {"HEAD", "OPTIONS"}

# --- The callers -------------------------------------------------------------------------------------------
NOBODY = "nobody"
REPORTER = "reporter"  # raised "the case": follow-up session on the HTML pages, Bearer access code on the API
OTHER_REPORTER = "other_reporter"  # raised a different case, same two ways in
GUARDIAN = "guardian"  # holds a grant (key) for the case
OUTSIDER = "outsider"  # a guardian created after the case was raised: no grant
# A guardian not on the verified roster (waiting for approval) who nevertheless holds a grant row for the case, as
# a guardian whose approval stopped verifying would: the roster, not the grant, must keep them out.
PENDING = "pending"
ADMIN = "admin"
ACTORS = (NOBODY, REPORTER, OTHER_REPORTER, GUARDIAN, OUTSIDER, PENDING, ADMIN)

# --- The answers --------------------------------------------------------------------------------------------
OK = "ok"  # 2xx, or a 3xx that is not one of the two sign-in gates below (nor a refused form)
OK_VALIDATION = "ok-validation"  # 400/409/422: authorized, the (deliberately empty) input was refused
SIGNIN = "signin"  # a redirect to /guardian/sign-in
START = "start"  # a redirect to /follow-up: the reporter's "enter your access code" page
UNAUTHORISED = "unauthorised"  # 401
FORBIDDEN = "forbidden"  # 403
NOTFOUND = "notfound"  # 404
# A form refused before any view ran (once.py: a redirect with its notice), or a generic 400 page: never allowed.
REFUSED_FORM = "refused-form"

# The generic 400 page (errors.PAGES) and the raise form's own CSRF message: a refused form, not a domain error.
REFUSED_MARKERS = (b"Something went wrong with that form", b"For your security this form timed out")


def row(*answers: str) -> dict[str, str]:
    assert len(answers) == len(ACTORS)
    return dict(zip(ACTORS, answers, strict=True))


def same(answer: str) -> dict[str, str]:
    return row(*(answer,) * len(ACTORS))


GUARDIAN_ONLY = row(SIGNIN, SIGNIN, SIGNIN, OK, OK, FORBIDDEN, FORBIDDEN)  # an approved guardian, not one case
ANY_GUARDIAN = row(SIGNIN, SIGNIN, SIGNIN, OK, OK, OK, FORBIDDEN)  # pending guardians too (waiting page, Team)
CASE_ONLY = row(SIGNIN, SIGNIN, SIGNIN, OK, FORBIDDEN, FORBIDDEN, FORBIDDEN)  # needs the key to this very case
ADMIN_ONLY = row(SIGNIN, SIGNIN, SIGNIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK)
STAFF_ONLY = row(SIGNIN, SIGNIN, SIGNIN, OK, OK, OK, OK)
PUBLIC = same(OK)
# Reporter pages: the follow-up session decides which case; staff have none, so they are sent to start.
REPORTER_SESSION_GET = row(START, OK, OK, START, START, START, START)
REPORTER_SESSION_POST = row(START, OK, OK, START, START, START, START)
# API: the access code is the only credential; a staff cookie counts for nothing.
ACCESS_CODE_API = row(UNAUTHORISED, OK, OK, UNAUTHORISED, UNAUTHORISED, UNAUTHORISED, UNAUTHORISED)

# (endpoint, method) -> actor -> expected answer. Explicit on purpose: review it when a route changes.
MATRIX: dict[tuple[str, str], dict[str, str]] = {
    # Public pages: raising a concern never needs anything.
    ("report.home", "GET"): PUBLIC,
    ("report.other_ways", "GET"): PUBLIC,
    ("about.accessibility", "GET"): PUBLIC,
    ("about.privacy", "GET"): PUBLIC,
    ("report.raise_form", "GET"): PUBLIC,
    ("report.raise_submit", "POST"): PUBLIC,
    # "Check your answers": without answers kept for this browser it leads back to the form ("ok"), raising nothing.
    ("report.check_answers", "GET"): PUBLIC,
    ("report.submit_checked", "POST"): PUBLIC,
    ("report.exit_page", "GET"): PUBLIC,  # "Exit this page": forgets kept words, leaves for EXIT_PAGE_URL
    # The confirmation belongs to the browser that sent the form: anyone else is sent back to the form ("ok").
    ("report.confirmation", "GET"): PUBLIC,
    ("report.hide_code", "GET"): PUBLIC,  # "Hide your access code?": only for a browser whose code is shown
    ("report.code_saved", "POST"): PUBLIC,
    ("report.confirmation_done", "GET"): PUBLIC,
    ("health.healthz", "GET"): PUBLIC,
    ("health.readyz", "GET"): PUBLIC,
    ("health.livez", "GET"): PUBLIC,
    # Reporter follow-up (HTML).
    ("followup.start", "GET"): PUBLIC,  # with a session it redirects on to /follow-up/case: still "ok"
    # An empty code comes back to its own page, which is the reporters' start: the same for everyone.
    ("followup.check_code", "POST"): same(START),
    ("followup.case_page", "GET"): REPORTER_SESSION_GET,
    # Without a session, each is sent to start (a reply's words kept for it, to send again once signed in).
    ("followup.reply", "POST"): REPORTER_SESSION_POST,
    ("followup.add_file", "POST"): REPORTER_SESSION_POST,
    ("followup.feedback", "POST"): REPORTER_SESSION_POST,
    ("followup.check_in", "POST"): REPORTER_SESSION_POST,
    ("followup.about_you", "POST"): REPORTER_SESSION_POST,
    # "Stay signed in" and the page's own time-out: only a follow-up session has either.
    ("followup.keep_alive", "POST"): REPORTER_SESSION_POST,
    ("followup.time_out", "POST"): REPORTER_SESSION_POST,
    ("followup.sign_out", "POST"): PUBLIC,
    ("followup.signed_out", "GET"): PUBLIC,
    # Reporter API.
    ("api.openapi", "GET"): PUBLIC,
    ("api.options", "GET"): PUBLIC,
    ("api.raise_concern", "POST"): PUBLIC,
    ("api.follow_up", "GET"): ACCESS_CODE_API,
    ("api.post_message", "POST"): ACCESS_CODE_API,
    ("api.post_feedback", "POST"): ACCESS_CODE_API,
    ("api.post_check_in", "POST"): ACCESS_CODE_API,
    ("api.post_characteristics", "POST"): ACCESS_CODE_API,
    # Statistics need a statistics token: an access code or a staff session is not one.
    ("api.stats", "GET"): same(UNAUTHORISED),
    # Staff sign-in and sign-out.
    ("guardian.sign_in", "GET"): PUBLIC,
    ("guardian.sign_in", "POST"): same(SIGNIN),  # empty credentials, whoever sends them: back to sign in
    ("guardian.sign_out", "POST"): same(SIGNIN),  # always lands on sign-in
    # "Stay signed in" and the page's own time-out (a session still going: back to the page).
    ("guardian.keep_alive", "POST"): STAFF_ONLY,
    ("guardian.time_out", "POST"): STAFF_ONLY,
    ("guardian.change_password", "GET"): STAFF_ONLY,
    ("guardian.change_password", "POST"): STAFF_ONLY,
    # Guardian pages that are not about one case.
    ("guardian.queue", "GET"): ANY_GUARDIAN,  # a pending guardian sees that they are waiting, and no case
    # Straight to a case by its reference (posted: History would keep a query): the holder is sent to it; anyone
    # else on the roster back to the queue, told that no case they can open has it (here: an empty box).
    ("guardian.find_case", "POST"): row(SIGNIN, SIGNIN, SIGNIN, OK, OK, FORBIDDEN, FORBIDDEN),
    ("team.team", "GET"): ANY_GUARDIAN,
    ("team.approve", "POST"): ANY_GUARDIAN,  # approving the case's guardian: refused by the rules, never by a 403
    ("guardian.board_page", "GET"): GUARDIAN_ONLY,
    ("guardian.reports_page", "GET"): GUARDIAN_ONLY,
    ("guardian.national_return_csv", "GET"): GUARDIAN_ONLY,
    ("guardian.ngo_return_csv", "GET"): GUARDIAN_ONLY,
    ("guardian.share_all", "GET"): GUARDIAN_ONLY,
    ("guardian.share_all", "POST"): GUARDIAN_ONLY,
    ("guardian.record_concern", "GET"): GUARDIAN_ONLY,
    ("guardian.record_concern", "POST"): GUARDIAN_ONLY,
    ("guardian.recorded", "GET"): GUARDIAN_ONLY,
    ("guardian.handed_over", "POST"): GUARDIAN_ONLY,
    ("guardian.new_access_code", "GET"): GUARDIAN_ONLY,  # a slip kept for the session that made it: none to show here
    ("guardian.new_code_handed_over", "POST"): GUARDIAN_ONLY,
    # The case: only a guardian holding its key; never an administrator.
    ("guardian.case_page", "GET"): CASE_ONLY,
    ("guardian.download_attachment", "GET"): CASE_ONLY,
    ("guardian.update_status", "POST"): CASE_ONLY,
    ("guardian.close", "POST"): CASE_ONLY,
    ("guardian.assign", "POST"): CASE_ONLY,
    ("guardian.record_referral", "POST"): CASE_ONLY,
    ("guardian.escalate", "POST"): CASE_ONLY,  # only at stage 1 of the Scottish rules: refused by the rules elsewhere
    ("guardian.extend_deadline", "POST"): CASE_ONLY,
    ("guardian.record_details", "POST"): CASE_ONLY,
    ("guardian.add_note", "POST"): CASE_ONLY,
    ("guardian.send_message", "POST"): CASE_ONLY,
    ("guardian.share", "POST"): CASE_ONLY,
    ("guardian.decide_share_request", "POST"): CASE_ONLY,
    ("guardian.give_new_access_code", "POST"): CASE_ONLY,  # no such request: refused by the rules once past the key
    # Administration: accounts only.
    ("admin.accounts", "GET"): ADMIN_ONLY,
    ("admin.invite", "GET"): ADMIN_ONLY,
    ("admin.create_account", "POST"): ADMIN_ONLY,
    # The link just made, kept for the browser that made it: any other administrator finds none to show.
    ("admin.enrolment_link", "GET"): ADMIN_ONLY,
    ("admin.disable", "POST"): ADMIN_ONLY,
    ("admin.enable", "POST"): ADMIN_ONLY,
    ("admin.reset_password", "GET"): ADMIN_ONLY,
    ("admin.reset", "POST"): ADMIN_ONLY,
    # Enrolment: the one-time link is the only credential; without it, nothing is there. Finishing without one is
    # sent back to the link's page (a redirect: "ok"), which says the link does not work (the GET's row).
    ("enrol.enrol", "GET"): same(NOTFOUND),
    ("enrol.finish", "POST"): same(OK),
    # The safety code is kept only for the browser that just finished; anyone else is sent to sign in.
    ("enrol.done", "GET"): same(SIGNIN),
}

# Query strings that make a GET valid, so "ok" means a real answer rather than a 400.
QUERY = {
    "guardian.national_return_csv": "?quarter=2026Q1&version=submission",
    "guardian.ngo_return_csv": "?quarter=2026Q1&version=submission",
    "api.stats": "?quarter=2026Q1",
}

# Sent last, in this order: each ends a session the other requests need ("I have saved my access code" and both
# sign-outs forget this browser's whole session).
LAST = ("report.code_saved", "followup.sign_out", "guardian.sign_out")

SECRET_WORDS = "Ward 7B matrix secret: the drug cupboard key is kept under the mat."
FILE_WORDS = b"Attachment matrix secret: rota screenshots from ward 7B."
OTHER_WORDS = "Another case entirely, about the car park lighting."


def routes(app: Flask) -> dict[tuple[str, str], str]:
    """(endpoint, method) -> URL rule, from the app's URL map."""
    found: dict[tuple[str, str], str] = {}
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - IGNORED_METHODS):
            found[(rule.endpoint, method)] = rule.rule
    return found


# --- The seeded world -----------------------------------------------------------------------------------------


@dataclass
class World:
    guardian: Staff
    outsider: Staff
    pending: Staff
    admin: Staff
    reference: str
    access_code: str
    other_reference: str
    other_access_code: str
    attachment_uid: str
    url_values: dict[str, object] = field(default_factory=dict)


def seed(app: Flask) -> World:
    """A guardian and an administrator, the case (with a file), another case, then a guardian with no grant."""
    guardian = gen_staff(app)
    admin = gen_admin(app)
    pending = gen_staff(app, email="pending@example.org", name="Pat Pending", approved=False)
    raiser = app.test_client()
    case = gen_concern(raiser, what_happened=SECRET_WORDS)
    other = gen_concern(raiser, what_happened=OTHER_WORDS)
    with app.app_context():
        opened, case_key = grants.open_with_access_code(case["access_code"], app.config["TOKEN_PEPPER_BYTES"])
        uid = files.store_clean(opened, case_key, attachments.check_file("rota.txt", FILE_WORDS, "text/plain")).uid
        account = get_row(User, pending.id)
        bare = _Account(account.id, present(account.public_key, "Pat's key"))
        grants.grant_case_key(opened, case_key, bare)  # a grant, but not on the roster
        db.session.commit()
    outsider = gen_staff(app, email="outsider@example.org", name="Olly Outsider")  # joined after: no grant
    world = World(
        guardian=guardian,
        outsider=outsider,
        pending=pending,
        admin=admin,
        reference=case["reference"],
        access_code=case["access_code"],
        other_reference=other["reference"],
        other_access_code=other["access_code"],
        attachment_uid=uid,
    )
    # Parameters are those of "the case" and of the guardian holding it (the administrator's target).
    with app.app_context():
        case_id = present(references.case_by_reference(world.reference), "case").id
    world.url_values = {
        "address": case_id,  # a case's pages are at its id (History keeps addresses, never a reference)
        "uid": uid,
        "user_id": guardian.id,
        "decision": "cancel",
    }
    return world


@dataclass
class Caller:
    client: FlaskClient
    bearer: str | None  # access code sent on /api/ requests
    token: str | None = None  # a token to send with every POST; None: a fresh one for each, as a browser has


def caller_for(app: Flask, world: World, actor: str) -> Caller:
    client = app.test_client()
    bearer = None
    if actor in (REPORTER, OTHER_REPORTER):
        code = world.access_code if actor == REPORTER else world.other_access_code
        page = client.post("/follow-up", data={"csrf_token": csrf_token(client, "/follow-up"), "access_code": code})
        assert page.status_code == 303 and page.headers["Location"].endswith("/follow-up/case"), page.status_code
        bearer = code
    elif actor in (GUARDIAN, OUTSIDER, PENDING, ADMIN):
        staff = {GUARDIAN: world.guardian, OUTSIDER: world.outsider, PENDING: world.pending, ADMIN: world.admin}[actor]
        assert AuthActions(client).sign_in(staff).status_code == 303
    return Caller(client, bearer)


def refused(client: FlaskClient) -> bool:
    """Whether the last answer was once.py's refusal of a form (its notice waits in the session), which is then
    dropped so that it cannot be mistaken for the next answer's."""
    with client.session_transaction() as session:
        flashes = session.pop("_flashes", [])
    return any(category == once.REFUSED_CATEGORY for category, _message in flashes)


def classify(response: TestResponse, client: FlaskClient) -> str:
    status = response.status_code
    if refused(client):
        return REFUSED_FORM
    if status in (301, 302, 303, 307, 308):
        path = urlsplit(response.headers.get("Location", "")).path
        if path == "/guardian/sign-in":
            return SIGNIN
        if path == "/follow-up":
            return START
        return OK
    if 200 <= status < 300:
        return OK
    if status == 400 and any(marker in response.get_data() for marker in REFUSED_MARKERS):
        return REFUSED_FORM
    if status in (400, 409, 422):
        return OK_VALIDATION
    return {401: UNAUTHORISED, 403: FORBIDDEN, 404: NOTFOUND}.get(status, f"status {status}")


def acceptable(expected: str, method: str) -> set[str]:
    # A POST with no fields is stopped by validation once it is past authorization: that is allowed.
    return {OK, OK_VALIDATION} if expected == OK and method == "POST" else {expected}


def send(app: Flask, caller: Caller, endpoint: str, method: str, url_values: dict[str, object]) -> TestResponse:
    adapter = app.url_map.bind("localhost")
    rule = next(r for r in app.url_map.iter_rules(endpoint) if method in (r.methods or ()))
    query = QUERY.get(endpoint, "").format(**url_values)
    url = adapter.build(endpoint, {k: url_values[k] for k in rule.arguments}, method=method) + query
    headers = {"Authorization": f"Bearer {caller.bearer}"} if caller.bearer and url.startswith("/api/") else {}
    if method == "GET":
        return caller.client.get(url, headers=headers)
    if url.startswith("/api/"):
        return caller.client.post(url, json={}, headers=headers)
    token = caller.token or csrf_token(caller.client, "/raise")
    return caller.client.open(url, method=method, data={"csrf_token": token}, headers=headers)


def ordered(keys: set[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    yield from sorted((k for k in keys if k[0] not in LAST), key=lambda k: (k[0], k[1]))
    for endpoint in LAST:
        yield from sorted(k for k in keys if k[0] == endpoint)


# --- The tests ----------------------------------------------------------------------------------------------


def test_every_route_is_in_the_matrix(app):
    found = set(routes(app))
    missing = sorted(found - set(MATRIX))
    stale = sorted(set(MATRIX) - found)
    assert not missing, f"routes with no row in the authorization matrix (add one): {missing}"
    assert not stale, f"matrix rows for routes the app no longer has (remove them): {stale}"
    for key, answers in MATRIX.items():
        assert set(answers) == set(ACTORS), f"{key}: every actor needs an expected answer"


def test_the_matrix_keeps_case_content_from_admins_and_guardians_without_a_grant(app):
    """Not just today's rows: any route under /guardian/cases/ must be closed to both, whatever it is."""
    for (endpoint, method), rule in routes(app).items():
        if rule.startswith("/guardian/cases/"):
            answers = MATRIX[(endpoint, method)]
            assert answers[ADMIN] == FORBIDDEN, f"{endpoint} {method}: an administrator must get 403"
            assert answers[OUTSIDER] == FORBIDDEN, f"{endpoint} {method}: a guardian without a grant must get 403"
            assert answers[PENDING] == FORBIDDEN, f"{endpoint} {method}: a guardian off the roster must get 403"
            assert answers[NOBODY] == answers[REPORTER] == answers[OTHER_REPORTER] == SIGNIN, endpoint


@pytest.mark.parametrize("actor", ACTORS)
def test_authorization_matrix(app, actor):
    world = seed(app)
    caller = caller_for(app, world, actor)
    keys = set(routes(app))
    assert keys == set(MATRIX), "see test_every_route_is_in_the_matrix"

    wrong = []
    for endpoint, method in ordered(keys):
        response = send(app, caller, endpoint, method, world.url_values)
        got, expected = classify(response, caller.client), MATRIX[(endpoint, method)][actor]
        if got not in acceptable(expected, method):
            wrong.append(f"{method} {endpoint}: expected {expected}, got {got} ({response.status_code})")
        body = response.get_data()
        if actor not in (GUARDIAN, REPORTER):
            # Nobody else ever sees a word of the case or its file, on any page or in any error.
            assert SECRET_WORDS.encode() not in body, f"{actor} saw the case's words on {method} {endpoint}"
            assert FILE_WORDS not in body, f"{actor} saw the case's file on {method} {endpoint}"
        # (A redirect may echo the URL it was sent to, which names the reference: that tells them nothing.)
        if actor == OTHER_REPORTER and not 300 <= response.status_code < 400:
            assert world.reference.encode() not in body, f"{actor} saw the case's reference on {method} {endpoint}"
    assert not wrong, f"{actor}:\n" + "\n".join(wrong)


def test_a_reporter_sees_only_their_own_case(app):
    world = seed(app)
    mine, theirs = caller_for(app, world, REPORTER), caller_for(app, world, OTHER_REPORTER)
    mine_page = send(app, mine, "followup.case_page", "GET", world.url_values).get_data(as_text=True)
    their_page = send(app, theirs, "followup.case_page", "GET", world.url_values).get_data(as_text=True)
    assert world.reference in mine_page and SECRET_WORDS in mine_page
    assert world.other_reference in their_page and OTHER_WORDS in their_page
    assert world.reference not in their_page and SECRET_WORDS not in their_page

    mine_api = send(app, mine, "api.follow_up", "GET", world.url_values).get_json()
    their_api = send(app, theirs, "api.follow_up", "GET", world.url_values).get_json()
    assert mine_api["reference"] == world.reference
    assert their_api["reference"] == world.other_reference  # their case, never this one


def test_the_guardian_with_a_grant_really_reads_the_case_and_its_file(app):
    world = seed(app)
    caller = caller_for(app, world, GUARDIAN)
    page = send(app, caller, "guardian.case_page", "GET", world.url_values)
    assert page.status_code == 200 and SECRET_WORDS in page.get_data(as_text=True)
    download = send(app, caller, "guardian.download_attachment", "GET", world.url_values)
    assert download.status_code == 200 and download.get_data() == FILE_WORDS


def test_a_post_without_its_csrf_token_is_not_counted_as_allowed(app):
    """The classifier must tell a refused form from a domain error, or a broken token would pass as "ok"."""
    world = seed(app)
    caller = caller_for(app, world, GUARDIAN)
    caller.token = "not-a-token"
    for endpoint in ("guardian.add_note", "report.raise_submit", "guardian.share_all", "admin.create_account"):
        assert classify(send(app, caller, endpoint, "POST", world.url_values), caller.client) == REFUSED_FORM, endpoint
