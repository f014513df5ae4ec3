"""A page finds its language's catalogue a fixed number of times, however many rows it shows.

Flask-Babel's template callables found the request's locale and catalogue again for every word, and the queue's
words grow with its rows: on 200 cases that was about a third of the page's time (BENCHMARKS.md). The speed is the
benchmark's to judge; this checks the shape that made it slow cannot come back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import flask_babel
import pytest
from flask import Flask
from flask.testing import FlaskClient
from support.factories import gen_concern

PAGES = ["/guardian/", "/guardian/?status=received", "/guardian/board"]


@contextmanager
def counted_lookups() -> Iterator[list[int]]:
    calls = [0]
    original = flask_babel.Domain.get_translations

    def counting(self: flask_babel.Domain) -> object:
        calls[0] += 1
        return original(self)

    flask_babel.Domain.get_translations = counting
    try:
        yield calls
    finally:
        flask_babel.Domain.get_translations = original


def lookups(client: FlaskClient, path: str) -> int:
    with counted_lookups() as calls:
        response = client.get(path)
    assert response.status_code == 200
    return calls[0]


@pytest.mark.parametrize("path", PAGES)
def test_the_queue_finds_its_catalogue_as_often_with_three_cases_as_with_fifteen(
    app: Flask, signed: FlaskClient, path: str
) -> None:
    reporter = app.test_client()
    for _ in range(3):
        gen_concern(reporter)
    with_three = lookups(signed, path)
    for _ in range(12):
        gen_concern(reporter)
    assert lookups(signed, path) == with_three
