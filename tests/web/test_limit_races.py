"""Rate limits hold under bursts: however many requests arrive at once, no more tries are checked than the limit.

Each test makes the check it limits slow (a short sleep inside it) and sends every request at once from threads, so
on code that tests a limit before the view and counts the try after it, every request passes the test before the
first one is counted (measured: 60 wrong access codes at once got 15 tries against a limit of 10). Run with the
in-memory store and, when one answers at 127.0.0.1:6379, Redis (each test has its own key prefix there).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from types import SimpleNamespace
from typing import Any, TypeVar

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from limits import parse
from support.apps import install_organisation_keys, make_app
from support.factories import gen_concern
from support.html import csrf_token

from speakup.crypto import access_codes
from speakup.domain import raising, staff
from speakup.keys import account_keys, grants
from speakup.platform import extensions
from speakup.platform.limit_charges import ChargingStrategy
from speakup.platform.models import db

# Each burst waits on a deliberately slow check rather than working: make test runs them, the quick loop does not.
pytestmark = pytest.mark.thorough

REDIS_URL = "redis://127.0.0.1:6379/0"
BURST = 30
LIMIT = 10
SLOW_CHECK_SECONDS = 0.3


def _redis_answers() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


STORES = ["memory://", pytest.param(REDIS_URL, marks=pytest.mark.skipif(not _redis_answers(), reason="no Redis"))]


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def limited_app(database_url: str, store: str) -> Iterator[Flask]:
    # In Redis, this test's counters only, under a prefix of their own, removed at the end.
    prefix = "speakup-test-" + uuid.uuid4().hex
    app = make_app(
        database_url,
        RATELIMIT_STORAGE_URI=store,
        RATELIMIT_STORAGE_OPTIONS={"key_prefix": prefix} if store.startswith("redis") else {},
        ACCESS_CODE_RATE_LIMIT=f"{LIMIT} per day",  # a day: no window can end while the burst runs
        SIGN_IN_RATE_LIMIT=f"{LIMIT} per day",
        SUBMIT_RATE_LIMIT=f"{LIMIT} per day",
    )
    install_organisation_keys(app)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if store.startswith("redis"):
        connection = redis.Redis.from_url(store)
        for key in connection.scan_iter(match=f"{prefix}:*"):
            connection.delete(key)


class SlowCheck:
    """Stands in for the check a limit guards: counts the calls and takes a while, as a real check may."""

    def __init__(self, answer: Callable[[], object]) -> None:
        self.calls = 0
        self._lock = threading.Lock()
        self._answer = answer

    def __call__(self, *_args: object, **_kwargs: object) -> object:
        with self._lock:
            self.calls += 1
        time.sleep(SLOW_CHECK_SECONDS)
        return self._answer()


T = TypeVar("T")


def _all_at_once(requests: list[Callable[[], T]]) -> list[T]:
    """Runs every request in its own thread, all released together; their status codes."""
    start = threading.Barrier(len(requests))
    statuses: list[Any] = [0] * len(requests)

    def run(index: int) -> None:
        start.wait()
        statuses[index] = requests[index]()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return statuses


def _from(app: Flask, address: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _not_found() -> object:
    raise grants.AccessCodeNotFound()


def test_a_burst_of_wrong_access_codes_gets_only_the_limit_checked(limited_app: Flask, monkeypatch) -> None:
    check = SlowCheck(_not_found)
    monkeypatch.setattr(grants, "open_with_access_code", check)
    client = _from(limited_app, "198.51.100.7")

    def guess() -> int:
        bearer = {"Authorization": f"Bearer {access_codes.new_access_code()}"}
        return client.get("/api/v1/follow-up", headers=bearer).status_code

    statuses = _all_at_once([guess] * BURST)
    assert check.calls == LIMIT, f"{check.calls} codes checked against a limit of {LIMIT}"
    assert sorted(statuses) == [401] * LIMIT + [429] * (BURST - LIMIT)


def _answer(client: FlaskClient, response) -> tuple[int, str]:
    """An HTML form's answer: its status, and whether the limit stopped it (the page it leads to says so)."""
    page = client.get(response.location, follow_redirects=True).get_data(as_text=True)
    return response.status_code, "limited" if "Too many tries" in page else "checked"


def test_a_burst_of_wrong_codes_on_the_page_gets_only_the_limit_checked(limited_app: Flask, monkeypatch) -> None:
    check = SlowCheck(_not_found)
    monkeypatch.setattr(grants, "open_with_access_code", check)
    clients = [_from(limited_app, "198.51.100.8") for _ in range(BURST)]
    tokens = [csrf_token(client, "/follow-up") for client in clients]

    def guess(client: FlaskClient, token: str) -> Callable[[], tuple[int, str]]:
        code = access_codes.new_access_code()
        return lambda: _answer(client, client.post("/follow-up", data={"csrf_token": token, "access_code": code}))

    statuses = _all_at_once([guess(c, t) for c, t in zip(clients, tokens, strict=True)])
    assert check.calls == LIMIT, f"{check.calls} codes checked against a limit of {LIMIT}"
    # Every answer is a redirect back to the form (never a page holding the POST's body); the limited ones say so.
    assert sorted(statuses) == [(303, "checked")] * LIMIT + [(303, "limited")] * (BURST - LIMIT)


def _wrong_password() -> object:
    raise account_keys.InvalidCredentials()


def test_a_burst_of_wrong_passwords_gets_only_the_limit_checked(limited_app: Flask, monkeypatch) -> None:
    check = SlowCheck(_wrong_password)
    monkeypatch.setattr(staff, "sign_in", check)
    clients = [_from(limited_app, "198.51.100.9") for _ in range(BURST)]
    tokens = [csrf_token(client, "/guardian/sign-in") for client in clients]

    def guess(client: FlaskClient, token: str) -> Callable[[], tuple[int, str]]:
        form = {"csrf_token": token, "email": "one@example.org", "password": "guess", "security_code": "123456"}
        return lambda: _answer(client, client.post("/guardian/sign-in", data=form))

    statuses = _all_at_once([guess(c, t) for c, t in zip(clients, tokens, strict=True)])
    assert check.calls == LIMIT, f"{check.calls} passwords checked against a limit of {LIMIT}"
    assert sorted(statuses) == [(303, "checked")] * LIMIT + [(303, "limited")] * (BURST - LIMIT)


def test_a_burst_of_concerns_raises_only_the_limit(limited_app: Flask, monkeypatch) -> None:
    raised = SimpleNamespace(reference="SU-TEST", access_code="X", status="received", acknowledge_by=date(2026, 1, 5))
    check = SlowCheck(lambda: raised)
    monkeypatch.setattr(raising, "raise_concern", check)
    client = _from(limited_app, "198.51.100.10")
    concern = {"what_happened": "Burst", "anonymity": "anonymous"}

    statuses = _all_at_once([lambda: client.post("/api/v1/concerns", json=concern).status_code] * BURST)
    assert check.calls == LIMIT, f"{check.calls} concerns raised against a limit of {LIMIT}"
    assert sorted(statuses) == [201] * LIMIT + [429] * (BURST - LIMIT)


def test_right_codes_are_given_back_so_only_wrong_ones_use_the_budget(limited_app: Flask) -> None:
    client = _from(limited_app, "198.51.100.11")
    code = gen_concern(client)["access_code"]
    wrong = {"Authorization": f"Bearer {access_codes.new_access_code()}"}
    right = {"Authorization": f"Bearer {code}"}
    for _ in range(LIMIT - 1):
        assert client.get("/api/v1/follow-up", headers=wrong).status_code == 401
    for _ in range(5):
        assert client.get("/api/v1/follow-up", headers=right).status_code == 200
    assert client.get("/api/v1/follow-up", headers=wrong).status_code == 401  # the tenth wrong code
    assert client.get("/api/v1/follow-up", headers=wrong).status_code == 429
    assert client.get("/api/v1/follow-up", headers=right).status_code == 429  # over the limit, nothing is checked


def test_a_try_given_back_after_its_window_ended_is_not_taken_from_the_next(limited_app: Flask) -> None:
    """A refund that arrives after its window closed must not free a try in the window that followed: else
    requests that end just after each boundary would let a guesser through twice as often."""
    with limited_app.test_request_context():
        strategy = extensions.limiter.limiter
        assert isinstance(strategy, ChargingStrategy)
        item = parse(f"{LIMIT} per day")
        identifiers = ("test-refund", uuid.uuid4().hex)
        old = strategy.charge(item, *identifiers)
        assert old.allowed and old.window_ends is not None
        strategy.clear(item, *identifiers)  # the window ends (its counter expires) ...
        time.sleep(0.05)  # a window can begin only after the last ended: their ends are never the same
        new = strategy.charge(item, *identifiers)  # ... and the next one is charged
        strategy.refund(old)
        assert strategy.get_window_stats(item, *identifiers).remaining == LIMIT - 1
        strategy.refund(new)  # a refund into its own window is made
        assert strategy.get_window_stats(item, *identifiers).remaining == LIMIT
        strategy.refund(new)  # and only once: a counter never goes below nothing
        assert strategy.get_window_stats(item, *identifiers).remaining == LIMIT


def test_a_store_that_fails_while_giving_back_keeps_the_answer_and_the_charge(limited_app: Flask, monkeypatch) -> None:
    """The answer was already decided: a refund that cannot reach the store leaves the try counted (stricter for a
    while, never looser) and the reporter still sees their case."""
    from limits.errors import StorageError

    client = _from(limited_app, "198.51.100.12")
    code = gen_concern(client)["access_code"]

    def unreachable(self: ChargingStrategy, _charge: object) -> None:
        raise StorageError(ConnectionError("refused"))

    monkeypatch.setattr(ChargingStrategy, "refund", unreachable)
    right = {"Authorization": f"Bearer {code}"}
    for _ in range(LIMIT):
        assert client.get("/api/v1/follow-up", headers=right).status_code == 200
    assert client.get("/api/v1/follow-up", headers=right).status_code == 429
