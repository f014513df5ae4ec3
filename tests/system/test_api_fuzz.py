"""Schemathesis fuzzes every operation of JSON API v1, in process, against the document the app serves.

The schema is the one the service publishes: Schemathesis loads it from ``GET /api/v1/openapi.json`` of a
WSGI app at collection (one item per operation and database), and each test first checks that its own app,
the one fuzzed, serves exactly that document. (``schemathesis.pytest.from_fixture`` would load it from the
fixture app directly, but in schemathesis 4.32.5 it sets ``Function._nodeid``, which pytest 9.2 no longer
has; the plugin's collection-time path works.) Requests go to the app in process, no server.

Every built-in check runs on every answer; among them: no 5xx (``not_a_server_error``), each status
listed for its operation (``status_code_conformance``), the declared media type
(``content_type_conformance``), the body valid against the response schema
(``response_schema_conformance``), and more: a wrong or missing credential refused (``ignored_auth``),
schema-invalid input refused and schema-valid input accepted (so the request schemas say exactly what
the server takes), unsupported methods answered 405 with an Allow header.

Going deep, not only 401s: before fuzzing, a real case is raised, a guardian messages the reporter
and puts it in "awaiting your reply", a second case is closed (so feedback is open), and a statistics
token is made. A ``flatmap_case`` hook then gives a share of the generated requests a valid access code
(or the valid statistics token), so the fuzzer also reaches the 200/201/409/422 answers behind the
access code. Everything else it generates itself (random and missing tokens, malformed bodies).

Settings for this module only: the submission and wrong-access-code rate limits are raised far above
their defaults, because with the real limits (20 concerns an hour, 10 wrong codes a minute) nearly
every generated request after the first few would be a 429 and the fuzzer would learn nothing.
The limiter itself stays on, and CSRF, the 1 MiB body limit and everything else keep their real
settings. The 429 answer is checked against the document in tests/api/test_api_rate_limits.py.

Deterministic and bounded: a fixed seed, derandomized Hypothesis, no example database, and a fixed
number of examples per operation (the whole file takes about 20 s on SQLite). Each run also checks it
reached the answers behind a valid credential (``REACHED``), so it cannot quietly decay into 401s.

Nothing secret is printed on failure: the Authorization header and the request fields that carry access
codes or what someone wrote are masked, and an answer's body is cut to its first character (Schemathesis
does not mask answers, and a 201 from /concerns holds an access code). Reproduce locally to see more.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict
from support.apps import TEST_CONFIG
from support.factories import gen_concern, gen_staff
from support.html import AuthActions, guardian_message, walk_to

from speakup import create_app
from speakup.platform.models import db
from speakup.reporting import stats_tokens

OPENAPI_PATH = "/api/v1/openapi.json"
SEED = 20260601
MAX_EXAMPLES = 60
UNLIMITED = "100000 per minute"
# Never printed on failure: they carry access codes, tokens or what someone wrote.
MASKED_KEYS = ("access_code", "what_happened", "body", "name", "contact", "where", "when", "messages")
# Operations whose bearer credential the hook may replace with a valid one, and with which.
ACCESS_CODE_PATHS = ("/follow-up", "/follow-up/messages", "/follow-up/feedback")
STATS_PATH = "/stats"
# Answers each operation must have given during its run, so a change that stops the valid credentials from
# reaching the server (and leaves the fuzzer knocking on the door) fails loudly instead of passing quietly.
REACHED = {
    "/openapi.json": {200, 405},
    "/options": {200, 405},
    "/concerns": {201, 400, 415, 422, 405},
    "/follow-up": {200, 401, 405},
    "/follow-up/messages": {201, 401, 422, 405},
    "/follow-up/feedback": {201, 401, 409, 422, 405},
    "/stats": {200, 401, 409, 422, 405},
}


@pytest.fixture
def app_overrides() -> dict[str, object]:
    return {"SUBMIT_RATE_LIMIT": UNLIMITED, "ACCESS_CODE_RATE_LIMIT": UNLIMITED}


@dataclass
class Seeded:
    open_code: str  # a case awaiting the reporter's reply, with a guardian message
    closed_code: str  # a closed case: feedback is open, once
    stats_token: str
    guardian_id: str

    def credentials(self) -> set[str]:
        return {f"Bearer {c}" for c in (self.open_code, self.closed_code, self.stats_token)}


@pytest.fixture
def seeded(app: Flask) -> Seeded:
    guardian = gen_staff(app)  # before the concerns, so the guardian holds their keys
    client = app.test_client()
    open_case = gen_concern(client, what_happened="Fuzz seed: an open case.")
    closed_case = gen_concern(client, what_happened="Fuzz seed: a closed case.")
    assert AuthActions(client).sign_in(guardian).status_code == 303
    guardian_message(client, open_case["reference"], "Fuzz seed: a guardian's question.")
    walk_to(client, open_case["reference"], "acknowledged", "in_progress", "awaiting_reporter")
    walk_to(client, closed_case["reference"], "closed")
    with app.app_context():
        _row, token = stats_tokens.create_stats_token("fuzz", app.config["TOKEN_PEPPER_BYTES"])
        db.session.commit()
    return Seeded(open_case["access_code"], closed_case["access_code"], token, str(guardian.id))


def fuzz_config() -> schemathesis.Config:
    keys = schemathesis.Config().output.sanitization.keys_to_sanitize
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
            "output": {
                "sanitization": {"keys-to-sanitize": [*keys, *MASKED_KEYS]},
                # Schemathesis prints a failing answer's body and does not sanitise it; it may hold an
                # access code (201 from /concerns) or messages, so only its first character is shown.
                "truncation": {"max-payload-size": 1},
            },
        }
    )


class Credentials:
    """The valid credentials of the running test, read by the hook below when it draws a case.

    The schema (and so the hook) is built once, at collection; the app and its seeded case are made per
    test, so the hook looks the current ones up here rather than closing over them."""

    current: ClassVar[Seeded | None] = None
    answers: ClassVar[Counter[tuple[str, str, int]]] = Counter()


# Loaded at collection from an app that is never given a database: serving the document needs none.
# Each test then checks its own app serves exactly this document before fuzzing it.
_document_app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
# Schemathesis leaves out the operation that served the document unless a filter names it; this one is
# part of the API (and of docs/interface.md), so every operation is selected.
schema = schemathesis.openapi.from_wsgi(OPENAPI_PATH, _document_app, config=fuzz_config()).include(path_regex=".*")


@schema.hook("flatmap_case")
def _real_values(context: schemathesis.HookContext, case: schemathesis.Case) -> st.SearchStrategy:
    # Drawn by Hypothesis, so which cases get a valid credential is part of the seeded, replayable input.
    path = case.operation.path
    if path == "/concerns":
        return st.just(_real_guardian_id(case))
    if path in ACCESS_CODE_PATHS:
        kinds = ["generated", "open", "closed"]
    elif path == STATS_PATH:
        kinds = ["generated", "stats"]
    else:
        return st.just(case)

    def with_credential(kind: str) -> schemathesis.Case:
        seeded = Credentials.current
        if kind != "generated" and seeded is not None:
            credential = {"open": seeded.open_code, "closed": seeded.closed_code, "stats": seeded.stats_token}[kind]
            headers = CaseInsensitiveDict(case.headers)
            headers["Authorization"] = f"Bearer {credential}"
            case.headers = headers
        return case

    return st.sampled_from(kinds).map(with_credential)


def _real_guardian_id(case: schemathesis.Case) -> schemathesis.Case:
    """A schema-valid concern names a guardian to keep out by an id from /options. The fuzzer cannot know
    one, so a valid case gets a real id (a made-up one is rightly refused, and stays in invalid cases)."""
    seeded = Credentials.current
    positive = case.meta is not None and not case.meta.generation.mode.is_negative
    if positive and seeded is not None and isinstance(case.body, dict) and case.body.get("exclude_guardian"):
        case.body = {**case.body, "exclude_guardian": seeded.guardian_id}
    return case


@schema.hook("after_call")
def _count(context: schemathesis.HookContext, case: schemathesis.Case, response: schemathesis.Response) -> None:
    Credentials.answers[(case.method.upper(), case.operation.path, response.status_code)] += 1


@pytest.fixture
def fuzz_app(request: pytest.FixtureRequest, app: Flask, seeded: Seeded) -> Iterator[Flask]:
    assert app.test_client().get(OPENAPI_PATH).get_json() == schema.raw_schema
    Credentials.current, Credentials.answers = seeded, Counter()
    failed_before = request.session.testsfailed
    yield app
    Credentials.current = None
    if request.session.testsfailed != failed_before:
        return  # a failing run stops early; its own failure is the report, not the answers it did not reach
    # Not only 401s and 422s: each operation's answers behind a valid credential were reached too.
    for path, wanted in REACHED.items():
        seen = {status for (_method, answered, status) in Credentials.answers if answered == path}
        if seen:
            assert seen >= wanted, f"the fuzzer never got {sorted(wanted - seen)} from {path}"


@schema.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # one app per operation, on purpose
def test_api_conforms_to_its_openapi_document(case: schemathesis.Case, fuzz_app: Flask) -> None:
    seeded = Credentials.current
    assert seeded is not None
    sent = case.headers.get("Authorization") if case.headers is not None else None
    # Passed explicitly, a valid credential counts as a real one: the "ignored auth" check then probes the same
    # request without it and with a wrong one, and expects 401 for both.
    explicit = {"Authorization": sent} if sent in seeded.credentials() else None
    case.call_and_validate(app=fuzz_app, headers=explicit)
