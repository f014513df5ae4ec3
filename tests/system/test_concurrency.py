"""Concurrency on PostgreSQL, through gunicorn, as a busy morning would bring it.

One production-mode gunicorn (four workers, two threads each) on its own PostgreSQL database (the suite's
database name plus ``_concurrency``, chosen and created by the rule in tests/test_scale_out.py):

- 200 concurrent submissions end with 200 cases, each with a grant for every guardian and the recovery key, each
  read back by its reporter (API, with its own access code) and by a guardian (case page), words intact.
- 50 messages sent at once to one case (five reporters' clients on the API and five guardian tabs, five messages
  each, one after another, each from the page the last one's redirect led to) are all there, once each, in one
  order that the guardian's page and the reporter's API agree on and that keeps each sender's own order; the case
  waiting for the reporter moves back to work once.
- Ten status changes sent at once from two guardians' tabs, each form from a page of its own (a form's token is
  good for one send), all made from the same version of the case: one wins, and the nine others are sent back to
  the case page with the conflict by the form ("This case changed while you were working on it"), and the case
  holds exactly one new event.

Every form is answered with a 303 (for the shared computer), which urllib follows as a browser does: what a form did
is read on the page it led to, each tab with cookies of its own so each reads its own notice or kept form.
"""

from __future__ import annotations

import html
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import psycopg
import pytest
from support.html import VERSION_RE
from support.present import found, present
from support.servers import (
    Answer,
    Browser,
    Staff,
    create_guardian,
    empty_server_database,
    init_installation,
    production_env,
    server_database_url,
    sign_in,
    start_gunicorn,
)

USER_AGENT = "SpeakUpConcurrencyTest/1.0"
CONFLICT = "This case changed while you were working on it"
GUARDIANS = ("first-guardian@example.org", "second-guardian@example.org")


@dataclass
class Service:
    base_url: str
    database_url: str
    guardians: tuple[Staff, ...]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    tmp = tmp_path_factory.mktemp("concurrency")
    database_url = server_database_url("_concurrency")
    empty_server_database(database_url)
    env = production_env(
        database_url,
        # One client address sends everything here; the limits are tested elsewhere.
        submit_rate_limit="10000 per minute",
        access_code_rate_limit="10000 per minute",
        workers="4",
        threads="2",
    )
    key_file = init_installation(env, tmp / "recovery-key.txt")
    staff = tuple(create_guardian(env, email, f"Guardian {n}", key_file) for n, email in enumerate(GUARDIANS))
    server = start_gunicorn(env, tmp)
    try:
        yield Service(server.base_url, database_url, staff)
    finally:
        server.stop()


def _sign_in(service: Service, staff: Staff) -> Browser:
    browser = Browser(service.base_url, USER_AGENT)
    queue = sign_in(browser, staff)
    assert queue.status == 200 and queue.url.endswith("/guardian/"), f"sign-in failed: {queue.status}"
    return browser


@pytest.fixture(scope="module")
def guardians(service: Service) -> tuple[Browser, Browser]:
    """Both guardians, signed in once for the module (a TOTP code is refused the second time in its step)."""
    first, second = (_sign_in(service, staff) for staff in service.guardians)
    return first, second


def _raise(service: Service, what: str) -> dict:
    raised = Browser(service.base_url, USER_AGENT, cookies=False).post(
        "/api/v1/concerns", json_body={"what_happened": what, "anonymity": "anonymous"}
    )
    assert raised.status == 201, f"raise answered {raised.status}"
    return raised.json()


def _bearer(code: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {code}"}


T = TypeVar("T")


def _at_once(count: int, work: Callable[[int], T]) -> list[T]:
    """Runs ``work(0..count-1)`` on ``count`` threads released together by a barrier."""
    barrier = threading.Barrier(count)

    def started(index: int):
        barrier.wait()
        return work(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(started, range(count)))


def _scalar(service: Service, query: str, *params: object) -> Any:
    with psycopg.connect(service.database_url) as conn:
        return present(conn.execute(query, params).fetchone(), "a row")[0]


def _case_id(service: Service, reference: str) -> int:
    return int(_scalar(service, "SELECT id FROM cases WHERE reference = %s", reference))


def _reporter_message(service: Service, code: str, body: str) -> Answer:
    """A reply from the reporter on the API, each on a connection of its own."""
    return Browser(service.base_url, USER_AGENT, cookies=False).post(
        "/api/v1/follow-up/messages", json_body={"body": body}, headers=_bearer(code)
    )


def _guardian_message(guardian: Browser, reference: str, token: str, body: str) -> Answer:
    return guardian.post(f"/guardian/cases/{reference}/messages", form={"csrf_token": token, "body": body})


def _tab(browser: Browser) -> Browser:
    """Another tab of a signed-in guardian's browser, with a copy of its cookies: the notice or the kept form a
    form's redirect leads to is this tab's own to read, never taken by another tab's page first."""
    tab = Browser(browser.base_url, browser.user_agent)
    jar, tab_jar = present(browser.jar, "the browser's cookies"), present(tab.jar, "the tab's cookies")
    for cookie in jar:
        tab_jar.set_cookie(cookie)
    return tab


def _outcome(answer: Answer, reference: str) -> str:
    """Where a case form's 303 led: "done" (the case page with its notice), "conflict" (the case page with the form
    back and the conflict by it), or else the status and path of the page."""
    path = urlsplit(answer.url).path  # the case's page, by whichever address the pages link it
    if answer.status == 200 and re.fullmatch(r"/guardian/cases/[^/]+", path) and f"Case {reference}" in answer.text:
        text = html.unescape(answer.text)
        done, conflict = 'id="case-done"' in text, CONFLICT in text
        if done and not conflict and "There is a problem" not in text:
            return "done"
        if conflict and not done:
            return "conflict"
    return f"{answer.status} {path}"


def _case_page(guardian: Browser, reference: str) -> Answer:
    page = guardian.get(f"/guardian/cases/{reference}")
    assert page.status == 200, f"case page answered {page.status}"
    return page


def _move(guardian: Browser, reference: str, status: str) -> None:
    page = _case_page(guardian, reference)
    moved = guardian.post(
        f"/guardian/cases/{reference}/status",
        form={"csrf_token": page.csrf(), "status": status, "version": found(VERSION_RE, page.text)},
    )
    assert _outcome(moved, reference) == "done", f"moving to {status}: {_outcome(moved, reference)}"


@pytest.mark.slow
def test_200_concurrent_submissions_all_land_and_all_open(service: Service, guardians: tuple[Browser, Browser]) -> None:
    before = int(_scalar(service, "SELECT count(*) FROM cases"))
    words = [f"concurrent concern {n} {uuid.uuid4().hex}" for n in range(200)]
    raised = _at_once(200, lambda n: _raise(service, words[n]))

    assert int(_scalar(service, "SELECT count(*) FROM cases")) == before + 200
    references = [r["reference"] for r in raised]
    assert len(set(references)) == 200
    # Every case is wrapped for both guardians, the recovery key and its reporter: nothing half-written.
    per_case = _scalar(
        service,
        "SELECT array_agg(n) FROM (SELECT count(*) AS n FROM case_grants g JOIN cases c ON c.id = g.case_id"
        " WHERE c.reference = ANY(%s) GROUP BY g.case_id) AS counts",
        references,
    )
    assert sorted(per_case) == [4] * 200

    def reporter_reads(n: int) -> bool:
        code = raised[n]["access_code"]
        read = Browser(service.base_url, USER_AGENT, cookies=False).get("/api/v1/follow-up", headers=_bearer(code))
        assert read.status == 200 and read.json()["reference"] == references[n], f"follow-up answered {read.status}"
        reporter = Browser(service.base_url, USER_AGENT)
        start = reporter.get("/follow-up")
        page = reporter.post("/follow-up", form={"csrf_token": start.csrf(), "access_code": code})
        assert page.status == 200 and page.url.endswith("/follow-up/case"), f"follow-up page answered {page.status}"
        return words[n] in html.unescape(page.text)

    with ThreadPoolExecutor(max_workers=16) as pool:
        assert all(pool.map(reporter_reads, range(200))), "a reporter could not read their concern back"

    guardian = guardians[0]
    with ThreadPoolExecutor(max_workers=16) as pool:
        pages = list(pool.map(lambda n: _case_page(guardian, references[n]).text, range(200)))
    for page, what in zip(pages, words, strict=True):
        assert what in html.unescape(page)


@pytest.mark.slow
def test_50_concurrent_messages_on_one_case_all_land_in_one_order(
    service: Service, guardians: tuple[Browser, Browser]
) -> None:
    raised = _raise(service, f"a case that gets busy {uuid.uuid4().hex}")
    reference, code = raised["reference"], raised["access_code"]
    guardian = guardians[1]
    for status in ("acknowledged", "in_progress", "awaiting_reporter"):
        _move(guardian, reference, status)
    tabs = {index: _tab(guardian) for index in range(5, 10)}
    pages = {index: _case_page(tab, reference) for index, tab in tabs.items()}
    run = uuid.uuid4().hex[:8]

    def sender(index: int) -> list[int | str]:
        """Senders 0-4 are the reporter on the API, 5-9 guardian tabs; each sends five, one after another, a tab
        each from the case page the last one's redirect led to."""
        outcomes: list[int | str] = []
        for sequence in range(5):
            body = f"msg {run} sender {index} number {sequence}"
            if index < 5:
                outcomes.append(_reporter_message(service, code, body).status)
            else:
                pages[index] = _guardian_message(tabs[index], reference, pages[index].csrf(), body)
                outcomes.append(_outcome(pages[index], reference))
        return outcomes

    results = _at_once(10, sender)
    assert results == [[201] * 5] * 5 + [["done"] * 5] * 5, f"a message was refused: {results}"

    followed = Browser(service.base_url, USER_AGENT, cookies=False).get("/api/v1/follow-up", headers=_bearer(code))
    assert followed.status == 200
    pattern = re.compile(rf"msg {run} sender (\d) number (\d)")
    api_order = [
        tuple(map(int, m.groups())) for m in (pattern.fullmatch(x["body"]) for x in followed.json()["messages"]) if m
    ]
    assert sorted(api_order) == [(s, n) for s in range(10) for n in range(5)], "a message is missing or doubled"
    for sender_index in range(10):
        assert [n for s, n in api_order if s == sender_index] == list(range(5)), "a sender's order was lost"
    page = html.unescape(_case_page(guardian, reference).text)
    page_order = [tuple(map(int, m.groups())) for m in pattern.finditer(page)]
    assert page_order == api_order, "the guardian and the reporter see different orders"

    # The first reply moved the case back to work; the other replies found it there and left it alone.
    case_id = _case_id(service, reference)
    assert followed.json()["status"] == "in_progress"
    moves_back = _scalar(
        service,
        "SELECT count(*) FROM case_events WHERE case_id = %s AND from_status = 'awaiting_reporter'",
        case_id,
    )
    assert moves_back == 1


@pytest.mark.slow
def test_concurrent_status_changes_have_one_winner(service: Service, guardians: tuple[Browser, Browser]) -> None:
    reference = _raise(service, f"two guardians at once {uuid.uuid4().hex}")["reference"]
    first, second = guardians
    for status in ("acknowledged", "in_progress"):
        _move(first, reference, status)
    case_id = _case_id(service, reference)
    events_before = int(_scalar(service, "SELECT count(*) FROM case_events WHERE case_id = %s", case_id))
    # Both guardians load the case in five tabs each: every form below carries the same version, each its own token.
    tabs = [_tab(first if n % 2 == 0 else second) for n in range(10)]
    forms = [_case_page(tab, reference) for tab in tabs]
    version = found(VERSION_RE, forms[0].text)
    assert {found(VERSION_RE, form.text) for form in forms} == {version}
    assert len({form.csrf() for form in forms}) == 10
    targets = ["awaiting_reporter", "referred"] * 5

    def change(n: int) -> str:
        answer = tabs[n].post(
            f"/guardian/cases/{reference}/status",
            form={"csrf_token": forms[n].csrf(), "status": targets[n], "version": version},
        )
        return _outcome(answer, reference)

    outcomes = _at_once(10, change)
    winners = [n for n, outcome in enumerate(outcomes) if outcome == "done"]
    assert len(winners) == 1, f"outcomes: {outcomes}"
    assert [outcome for outcome in outcomes if outcome != "done"] == ["conflict"] * 9, f"outcomes: {outcomes}"

    assert int(_scalar(service, "SELECT count(*) FROM case_events WHERE case_id = %s", case_id)) == events_before + 1
    assert _scalar(service, "SELECT status FROM cases WHERE id = %s", case_id) == targets[winners[0]]
    assert int(_scalar(service, "SELECT version FROM cases WHERE id = %s", case_id)) == int(version) + 1


@pytest.mark.slow
def test_messages_and_status_changes_at_once_never_fail(service: Service, guardians: tuple[Browser, Browser]) -> None:
    """Messages lock the case row and then the audit chain; status changes must take them in the same order,
    or the two wait for each other until PostgreSQL breaks the deadlock by failing one of them."""
    raised = _raise(service, f"messages and moves together {uuid.uuid4().hex}")
    reference, code = raised["reference"], raised["access_code"]
    first, second = guardians
    for status in ("acknowledged", "in_progress"):
        _move(first, reference, status)
    tabs = {index: _tab(second if index < 8 else first) for index in range(4, 12)}
    pages = {index: _case_page(tabs[index], reference) for index in range(4, 8)}
    run = uuid.uuid4().hex[:8]

    def work(index: int) -> list[int | str]:
        answers: list[int | str] = []
        for sequence in range(6):
            if index < 4:  # the reporter, on the API
                answers.append(_reporter_message(service, code, f"mixed {run} {index} {sequence}").status)
            elif index < 8:  # a guardian's tabs, messaging, each from the page its last message led to
                body = f"mixed {run} {index} {sequence}"
                pages[index] = _guardian_message(tabs[index], reference, pages[index].csrf(), body)
                answers.append(_outcome(pages[index], reference))
            else:  # the other guardian's tabs, moving the case back and forth from a fresh page each time
                page = _case_page(tabs[index], reference)
                status = found(VERSION_RE, page.text)
                current = found(r'id="case-status"[^>]*>([^<]+)<', page.text)
                target = "awaiting_reporter" if current == "In progress" else "in_progress"
                answer = tabs[index].post(
                    f"/guardian/cases/{reference}/status",
                    form={"csrf_token": page.csrf(), "status": target, "version": status},
                )
                answers.append(_outcome(answer, reference))
        return answers

    results = _at_once(12, work)
    assert all(answer in (201, "done") for answers in results[:8] for answer in answers), results[:8]
    assert all(answer in ("done", "conflict") for answers in results[8:] for answer in answers), results[8:]
    followed = Browser(service.base_url, USER_AGENT, cookies=False).get("/api/v1/follow-up", headers=_bearer(code))
    bodies = [m["body"] for m in followed.json()["messages"] if m["body"].startswith(f"mixed {run} ")]
    assert len(bodies) == len(set(bodies)) == 8 * 6
