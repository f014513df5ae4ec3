"""Rotating SECRET_KEY (issue 27, point 6): `speakup rotate-secret-key` prints the new key with the old one as a
fallback; with those set, a guardian signed in before the rotation stays signed in and this browser's sign-in mark
is still read, and what is signed from then on uses the new key. Without the fallback, the old signatures are
worth nothing."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import BadSignature
from support.environment import read_environment_lines

from speakup.web import devices


def _rotate(app: Flask, runner) -> tuple[str, list[str]]:
    """The printed lines as an environment file gives them to the service: read by a shell, which takes quotes as
    systemd's EnvironmentFile does (outside review 2: a bare ["..."] reached the service as [...], not JSON)."""
    printed = runner.invoke(args=["speakup", "rotate-secret-key"])
    assert printed.exit_code == 0, printed.output
    lines = read_environment_lines(printed.output)
    assert list(lines) == ["SPEAKUP_SECRET_KEY", "SPEAKUP_SECRET_KEY_FALLBACKS"]
    key, fallbacks = lines["SPEAKUP_SECRET_KEY"], lines["SPEAKUP_SECRET_KEY_FALLBACKS"]
    return key, json.loads(fallbacks)


def test_a_rotated_secret_key_keeps_sessions_signed_with_the_old_one(app: Flask, runner, signed: FlaskClient):
    old = app.config["SECRET_KEY"]
    assert signed.get("/guardian/").status_code == 200
    with app.test_request_context("/guardian/sign-in"):
        mark = devices._serializer().dumps({"account": "a", "device": "d"})
    new, fallbacks = _rotate(app, runner)
    assert new != old and len(new) >= 40 and fallbacks == [old]

    app.config.update(SECRET_KEY=new, SECRET_KEY_FALLBACKS=fallbacks)  # the environment file's new lines
    assert signed.get("/guardian/").status_code == 200
    with app.test_request_context("/guardian/sign-in"):
        assert devices._serializer().loads(mark) == {"account": "a", "device": "d"}
    # Rotated again: the first key stays a fallback until the operator removes it.
    assert _rotate(app, runner)[1] == [old, new]

    app.config.update(SECRET_KEY_FALLBACKS=[])  # the fallback removed: old signatures are worth nothing
    assert signed.get("/guardian/").status_code in (302, 303)
    with app.test_request_context("/guardian/sign-in"), pytest.raises(BadSignature):
        devices._serializer().loads(mark)
