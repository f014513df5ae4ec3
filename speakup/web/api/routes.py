"""JSON API v1: the reporter's side, where the access code is the bearer token, and /stats, read with a statistics
token. No cookie is read or set."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from sqlalchemy.exc import DBAPIError

from speakup.domain import (
    browser_sessions,
    characteristics,
    checkins,
    handling,
    raising,
    reading,
    stage_two,
    submissions,
)
from speakup.domain.categories import ANONYMITY, lists_for
from speakup.domain.deadlines import changes as deadline_changes
from speakup.platform import clock
from speakup.platform.config import settings
from speakup.platform.extensions import access_code_limit, submit_limit
from speakup.platform.inputs import InvalidInput
from speakup.platform.models import Author
from speakup.platform.translation import gettext as _
from speakup.platform.translation import lazy_gettext as _l
from speakup.web import languages
from speakup.web.api.openapi import openapi_document
from speakup.web.errors import api_error, database_failed

bp = Blueprint("api", __name__, url_prefix="/api/v1")

NOT_FOUND = _l("We could not find a concern with that access code.")
CANNOT_CHECK = _l("Access codes cannot be checked just now; try again later.")
# A client that may send a concern twice (a retry after a timeout) sends the same random key each time: one concern.
IDEMPOTENCY_KEY = "Idempotency-Key"


class ApiError(Exception):
    """``message`` is for a person, in the request's language (Accept-Language); ``code`` is for the client."""

    def __init__(self, status: int, message: Any, code: str | None = None, **extra: Any):
        super().__init__(message)
        self.status, self.message, self.code, self.extra = status, str(message), code, extra


@bp.errorhandler(ApiError)
def _api_error(error: ApiError):
    response, status = api_error(error.status, error.message, error.code, **error.extra)
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"  # RFC 9110: a 401 names its scheme
    return response, status


@bp.after_request
def _no_cookies(response: Response) -> Response:
    # The API is stateless: no cookie set by a view or blueprint hook leaves with its answers. (Flask saves
    # the session after every after_request hook, so a session write would still set one: none may happen.)
    response.headers.pop("Set-Cookie", None)
    response.headers["Vary"] = "Authorization"
    return response


def _iso(value: date | datetime) -> str:
    if isinstance(value, datetime):
        return value.replace(microsecond=0).isoformat() + "Z"
    return value.isoformat()


def _json_body(allowed: tuple[str, ...]) -> dict[str, Any]:
    if not request.is_json:
        raise ApiError(415, _("Send a JSON body with Content-Type: application/json."))
    try:
        body = request.get_json(silent=True)
    except RecursionError:
        # Python's JSON decoder recurses once per nesting level: "[" * 100000 exhausts the stack.
        raise ApiError(400, _("The body is nested too deeply to read.")) from None
    if not isinstance(body, dict):
        raise ApiError(400, _("The body must be a JSON object."))
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        fields = {k: _("unknown field") for k in unknown}
        raise ApiError(422, _("Unknown fields: %(fields)s", fields=", ".join(unknown)), fields=fields)
    return body


def _reporter_case():
    header = request.headers.get("Authorization", "")
    scheme, _space, code = header.partition(" ")
    try:
        if scheme.lower() != "bearer" or not code.strip():
            raise browser_sessions.AccessCodeRefused(browser_sessions.EMPTY)
        return browser_sessions.open_with_access_code(code.strip())
    except browser_sessions.AccessCodeRefused as refused:
        if refused.reason == browser_sessions.UNAVAILABLE:
            raise ApiError(503, CANNOT_CHECK) from None
        g.access_code_failed = True
        raise ApiError(401, NOT_FOUND) from None


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())


@bp.get("/options")
def options():
    return jsonify(
        anonymity=list(ANONYMITY),
        worker_groups=list(lists_for(clock.uk_today()).worker_groups),
        guardians=[{"id": str(g.id), "name": g.name} for g in raising.excludable_guardians()],
        characteristics=[
            {"key": q.key, "question": q.label, "answers": list(q.answers)}
            for q in characteristics.questions_for(clock.uk_today())
        ],
    )


@bp.post("/concerns")
@submit_limit
def raise_concern():
    body = _json_body((*raising.CONCERN_FIELDS, "characteristics"))
    key = request.headers.get(IDEMPOTENCY_KEY)
    replayed = False
    try:
        sent = submissions.from_api(key, body) if key is not None else None
        concern = raising.check_concern(body)
        raised = raising.raise_concern(concern, sent=sent, language=languages.spoken())
        answer = {"reference": raised.reference, "access_code": raised.access_code, "status": raised.status}
        acknowledge_by = raised.acknowledge_by
    except submissions.AlreadySent as exc:
        done = exc.confirmation.answer
        # Kept for SUBMISSION_HOURS; only a pepper dropped from the fallbacks could leave it unreadable.
        if done is None:
            raise ApiError(409, _("This Idempotency-Key was used already. Use a new key."), "key_used") from None
        answer = {"reference": done.reference, "access_code": done.access_code, "status": done.status}
        acknowledge_by, replayed = done.acknowledge_by, True
    except submissions.KeyReused:
        # 409, as for any request that conflicts with what the server holds: the key is bound to another body.
        raise ApiError(
            409,
            _("This Idempotency-Key was sent before with a different body. Use a new key for a new concern."),
            "idempotency_key_reused",
        ) from None
    except InvalidInput as exc:
        raise ApiError(422, _("Some fields need attention."), fields=exc.errors) from None
    except DBAPIError as exc:
        database_failed(exc)
        raise ApiError(503, _("The service is unavailable. Nothing was stored. Try again in a few minutes.")) from None
    response = jsonify(**answer, acknowledge_by=_iso(acknowledge_by))
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response, 201


@bp.get("/follow-up")
@access_code_limit
def follow_up():
    case, case_key = _reporter_case()
    view = reading.reporter_view(case, case_key)
    return jsonify(
        reference=view.reference,
        status=view.status,
        status_label=view.status_label,
        created_at=_iso(view.created_at),
        acknowledge_by=_iso(view.acknowledge_by),
        feedback_by=_iso(view.feedback_by),
        messages=[{"author": m.author, "body": m.body, "created_at": _iso(m.created_at)} for m in view.messages],
        feedback_requested=view.feedback_requested,
        check_in_requested=checkins.check_in_requested(case, clock.uk_today()),
        characteristics_asked=not characteristics.answered(case),
        extensions=[
            {"created_at": _iso(e.created_at), "to_date": _iso(e.to_date), "reason": e.reason}
            for e in deadline_changes.extensions_of(case, case_key)
        ],
        signposting=_signposting(stage_two.signposting(case)),
    )


def _signposting(signposting: stage_two.Signposting | None) -> dict[str, str] | None:
    if signposting is None:
        return None
    return {"body": signposting.body, "web": signposting.web, "refer_by": signposting.refer_by.isoformat()}


@bp.post("/follow-up/messages")
@access_code_limit
def post_message():
    case, case_key = _reporter_case()
    body = _json_body(("body",))
    try:
        message = handling.post_message(case, case_key, Author.REPORTER, body.get("body"))
    except InvalidInput as exc:
        raise ApiError(422, _("Some fields need attention."), fields=exc.errors) from None
    except handling.CaseChanged:
        raise ApiError(409, _("The case changed at the same moment. Send your message again.")) from None
    return jsonify(created_at=_iso(message.created_at)), 201


@bp.post("/follow-up/feedback")
@access_code_limit
def post_feedback():
    case, _case_key = _reporter_case()
    body = _json_body(("speak_up_again", "detriment"))
    try:
        handling.record_feedback(case, body.get("speak_up_again"), body.get("detriment"))
    except InvalidInput as exc:
        raise ApiError(422, _("Some fields need attention."), fields=exc.errors) from None
    except (handling.FeedbackNotOpen, handling.CaseChanged) as exc:
        raise ApiError(409, str(exc) or _("The case changed at the same moment. Try again.")) from None
    return jsonify(recorded=True), 201


@bp.post("/follow-up/check-in")
@access_code_limit
def post_check_in():
    case, _case_key = _reporter_case()
    body = _json_body(("detriment",))
    try:
        checkins.record_check_in(case, body.get("detriment"), clock.uk_today())
    except InvalidInput as exc:
        raise ApiError(422, _("Some fields need attention."), fields=exc.errors) from None
    except (checkins.CheckInNotDue, handling.CaseChanged) as exc:
        raise ApiError(409, str(exc) or _("The case changed at the same moment. Try again.")) from None
    return jsonify(recorded=True), 201


@bp.post("/follow-up/characteristics")
@access_code_limit
def post_characteristics():
    case, _case_key = _reporter_case()
    today = clock.uk_today()
    body = _json_body(tuple(q.key for q in characteristics.questions_for(today)))
    try:
        characteristics.give_for_case(case, characteristics.check_answers(body, today))
    except InvalidInput as exc:
        raise ApiError(422, _("Some fields need attention."), fields=exc.errors) from None
    except characteristics.AlreadyGiven as exc:
        raise ApiError(409, str(exc)) from None
    return jsonify(recorded=True), 201


# --- Statistics (a trust's dashboard), read with a statistics token, never an access code ----------

STATS_TOKEN_REFUSED = _l("A valid statistics token is needed (Authorization: Bearer <token>).")


@bp.get("/stats")
def stats():
    from speakup.domain import quarters
    from speakup.reporting import national_return, stats_tokens

    scheme, _space, token = request.headers.get("Authorization", "").partition(" ")
    peppers = settings().token_peppers
    try:
        found = stats_tokens.find_stats_token(token.strip(), peppers) if scheme.lower() == "bearer" else None
    except stats_tokens.TokensUnverifiable:
        raise ApiError(503, "Statistics tokens cannot be checked just now; try again later.") from None
    if found is None:
        raise ApiError(401, STATS_TOKEN_REFUSED)
    try:
        quarter = quarters.parse_quarter(request.args.get("quarter"))
    except quarters.BadQuarter as exc:
        raise ApiError(422, str(exc), fields={"quarter": str(exc)}) from None
    try:
        return jsonify(national_return.export_for_stats_token(quarter))
    except national_return.QuarterNotEnded:
        raise ApiError(409, _("That quarter has not ended yet: its counts are given once it has.")) from None
