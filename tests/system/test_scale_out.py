"""Scale-out: two gunicorn instances share one PostgreSQL database and one Redis, and nothing lives in either.

Two instances (one worker each, on two free ports) run with the same secrets, the same PostgreSQL database
(`flask speakup init` run once against it) and the same Redis for Flask-Limiter. Every step of a journey
starts on one instance and carries on on the other, as a load balancer without sticky sessions would send it:
a concern raised on A is read and answered on B; a guardian signs in on A and, with the same cookies, reads,
messages and changes the case on B; the reporter opens a follow-up session on A and carries on on B; wrong
access codes alternating between A and B share one budget, so the next try is refused (429 with Retry-After)
on whichever instance gets it.

Where it runs (a clean rule, so nothing is skipped silently):

- PostgreSQL: ``SPEAKUP_SCALE_OUT_DATABASE_URL`` when set, used as is. Otherwise, when
  ``SPEAKUP_TEST_DATABASE_URL`` is set (as ``.ci/run`` does), the same server with its own database, the
  given database's name plus ``_scale_out``, created if it is missing (the suite's own database is never
  touched). Otherwise the local server's ``speakup_scale_out`` database, created the same way.
- Redis: ``SPEAKUP_TEST_REDIS_URL``, by default ``redis://127.0.0.1:6379/7``, a logical database of its own.
- The public schema of that PostgreSQL database and that Redis database are wiped at the start.
- When ``SPEAKUP_TEST_DATABASE_URL`` or ``SPEAKUP_SCALE_OUT_DATABASE_URL`` is set, a server that does not answer
  fails the test. With neither set, the test is skipped with the reason shown in pytest's summary (``-ra``).
"""

from __future__ import annotations

import html
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from support.html import VERSION_RE
from support.servers import (
    Answer,
    Browser,
    Server,
    Staff,
    create_guardian,
    empty_server_database,
    init_installation,
    production_env,
    server_database_url,
    sign_in,
    start_gunicorn,
    unavailable,
)

from speakup.crypto import access_codes

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/7"
GUARDIAN_EMAIL = "scale-guardian@example.org"
USER_AGENT = "SpeakUpScaleOutTest/1.0"


def _unavailable(what: str, error: Exception) -> None:
    unavailable(f"this server test needs {what}: {error}")


def _fresh_redis(url: str) -> None:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
        with client:
            client.flushdb()
    except redis.RedisError as error:
        _unavailable(f"Redis at {url}", error)


@dataclass
class Instance:
    name: str
    server: Server

    @property
    def base_url(self) -> str:
        return self.server.base_url


@dataclass
class Cluster:
    a: Instance
    b: Instance
    guardian: Staff


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    database_url = server_database_url()
    redis_url = os.environ.get("SPEAKUP_TEST_REDIS_URL", DEFAULT_REDIS_URL)
    empty_server_database(database_url)
    _fresh_redis(redis_url)
    env = production_env(
        database_url, ratelimit_storage_uri=redis_url, access_code_rate_limit="3 per minute", workers="1", threads="2"
    )
    key_file = init_installation(env, tmp_path / "recovery-key.txt")
    guardian = create_guardian(env, GUARDIAN_EMAIL, "Scale Out Guardian", key_file)
    instances: list[Instance] = []
    try:
        for name in ("a", "b"):
            instances.append(Instance(name, start_gunicorn(env, tmp_path, name)))
        yield Cluster(instances[0], instances[1], guardian)
    finally:
        for instance in instances:
            instance.server.stop()


def _on(instance: Instance, browser: Browser) -> Browser:
    """The same client (and cookie jar) pointed at another instance, as a load balancer would send it."""
    browser.base_url = instance.base_url
    return browser


def _bearer(code: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {code}"}


def _path(answer: Answer) -> str:
    """The path of the page an answer came from, after the 303 urllib followed."""
    return urlsplit(answer.url).path


def _on_case_page(answer: Answer, reference: str) -> bool:
    """Whether a form's 303 led to the case's page (by whichever address the pages link it)."""
    return bool(re.fullmatch(r"/guardian/cases/[^/]+", _path(answer))) and f"Case {reference}" in answer.text


def _version(page: Answer) -> str:
    match = VERSION_RE.search(page.text)
    assert match, f"no case version on {page.url}"
    return match.group(1)


@pytest.mark.slow
def test_two_instances_share_everything(cluster: Cluster) -> None:
    a, b = cluster.a, cluster.b
    api = Browser(a.base_url, USER_AGENT, cookies=False)

    # --- A concern raised on A is read and answered on B (JSON API) ------------------------------
    what = f"scale-out concern {uuid.uuid4().hex}"
    raised = _on(a, api).post("/api/v1/concerns", json_body={"what_happened": what, "anonymity": "anonymous"})
    assert raised.status == 201, raised.text
    reference, code = raised.json()["reference"], raised.json()["access_code"]

    read = _on(b, api).get("/api/v1/follow-up", headers=_bearer(code))
    assert read.status == 200, read.text
    assert read.json()["reference"] == reference and read.json()["status"] == "received"
    reporter_api_message = f"reporter by API on B {uuid.uuid4().hex}"
    sent = _on(b, api).post(
        "/api/v1/follow-up/messages", json_body={"body": reporter_api_message}, headers=_bearer(code)
    )
    assert sent.status == 201, sent.text

    # --- A guardian signs in on A and works the case on B with the same cookies ------------------
    guardian = Browser(a.base_url, USER_AGENT)
    queue = sign_in(_on(a, guardian), cluster.guardian)
    assert queue.status == 200 and queue.url == a.base_url + "/guardian/", queue.text

    queue_b = _on(b, guardian).get("/guardian/")
    assert queue_b.status == 200 and queue_b.url == b.base_url + "/guardian/", "B does not know A's sign-in"
    assert reference in queue_b.text
    page = _on(b, guardian).get(f"/guardian/cases/{reference}")
    assert page.status == 200, page.text
    shown = html.unescape(page.text)
    assert what in shown and reporter_api_message in shown

    guardian_message = f"guardian on B {uuid.uuid4().hex}"
    messaged = _on(b, guardian).post(
        f"/guardian/cases/{reference}/messages", form={"csrf_token": page.csrf(), "body": guardian_message}
    )
    assert messaged.status == 200 and _on_case_page(messaged, reference), messaged.status
    assert guardian_message in html.unescape(messaged.text), "the message did not show after its redirect"
    changed = _on(b, guardian).post(
        f"/guardian/cases/{reference}/status",
        form={"csrf_token": messaged.csrf(), "status": "acknowledged", "version": _version(messaged)},
    )
    assert changed.status == 200 and _on_case_page(changed, reference), changed.status
    assert re.search(r'id="case-status"[^>]*>Acknowledged<', changed.text), "the status change did not show"

    # A sees what B did, through the guardian's pages and the reporter's API.
    page_a = _on(a, guardian).get(f"/guardian/cases/{reference}")
    assert page_a.status == 200 and guardian_message in html.unescape(page_a.text)
    assert re.search(r'id="case-status"[^>]*>Acknowledged<', page_a.text)
    followed = _on(a, api).get("/api/v1/follow-up", headers=_bearer(code))
    assert followed.status == 200 and followed.json()["status"] == "acknowledged", followed.text
    assert ("guardian", guardian_message) in [(m["author"], m["body"]) for m in followed.json()["messages"]]

    # --- The reporter starts following up on A's pages and carries on on B's ---------------------
    reporter = Browser(a.base_url, USER_AGENT)
    start = _on(a, reporter).get("/follow-up")
    case_page = _on(a, reporter).post("/follow-up", form={"csrf_token": start.csrf(), "access_code": code})
    assert case_page.status == 200 and case_page.url == a.base_url + "/follow-up/case", case_page.text

    case_b = _on(b, reporter).get("/follow-up/case")
    assert case_b.status == 200 and case_b.url == b.base_url + "/follow-up/case", "B does not know A's follow-up"
    assert what in html.unescape(case_b.text) and guardian_message in html.unescape(case_b.text)
    reporter_page_message = f"reporter on B's pages {uuid.uuid4().hex}"
    replied = _on(b, reporter).post(
        "/follow-up/case/messages", form={"csrf_token": case_b.csrf(), "body": reporter_page_message}
    )
    assert replied.status == 200 and _path(replied) == "/follow-up/case", replied.status
    assert reporter_page_message in html.unescape(replied.text), "the reply did not show after its redirect"
    assert reporter_page_message in html.unescape(_on(a, guardian).get(f"/guardian/cases/{reference}").text)

    # --- Signing out on B ends the guardian's session on A too -----------------------------------
    signed_out = _on(b, guardian).post("/guardian/sign-out", form={"csrf_token": page_a.csrf()})
    assert signed_out.status == 200 and signed_out.url == b.base_url + "/guardian/sign-in", signed_out.url
    assert _on(a, guardian).get("/guardian/").url.startswith(a.base_url + "/guardian/sign-in")

    # --- Wrong access codes share one budget across the instances (last: it blocks this client) --
    wrong = access_codes.normalise_access_code(code)
    wrong = wrong[:-1] + ("A" if wrong[-1] != "A" else "B")
    for instance in (a, b, a):
        answer = _on(instance, api).get("/api/v1/follow-up", headers=_bearer(wrong))
        assert answer.status == 401, f"wrong code on {instance.name}: {answer.status} {answer.text}"
    for instance in (b, a):  # the 4th, on either instance, and the right code too: the budget is spent
        blocked = _on(instance, api).get("/api/v1/follow-up", headers=_bearer(wrong))
        assert blocked.status == 429, f"4th wrong code on {instance.name} was not blocked: {blocked.status}"
        assert int(blocked.headers.get("Retry-After", "0")) > 0, blocked.headers
    fresh = _on(b, reporter).get("/follow-up")  # a page of its own: the case page's token was sent with the reply
    blocked, page = _on(b, reporter).sent_form("/follow-up", {"csrf_token": fresh.csrf(), "access_code": wrong})
    # The form is refused with a 303 back to its page (for the shared computer) that says when to try again; the page
    # says why.
    assert blocked.status == 303 and int(blocked.headers.get("Retry-After", "0")) > 0, blocked.status
    assert page.status == 200 and "Too many tries" in page.text, page.status
    assert wrong not in blocked.text and wrong not in page.text, "the access code was echoed"
