"""/healthz answers for load balancers: 200 with a database, 503 without."""

from __future__ import annotations

from support.apps import TEST_CONFIG

from speakup import create_app


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_healthz_503_when_the_database_is_unreachable():
    app = create_app(
        {
            **TEST_CONFIG,
            # Nothing listens on port 1: the connection is refused at once.
            "SQLALCHEMY_DATABASE_URI": "postgresql://postgres@127.0.0.1:1/test",
            "DATABASE_CONNECT_TIMEOUT": 2,
        }
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable"}
    page = app.test_client().get("/raise")
    assert page.status_code == 200  # the form itself needs no database


def test_development_server_log_drops_the_client_address(caplog):
    import logging

    from speakup.platform.logs import DropClientAddress

    record = logging.LogRecord(
        "werkzeug",
        logging.INFO,
        __file__,
        1,
        '%s - - [26/Nov/2026] "GET /follow-up HTTP/1.1" 200 -',
        ("10.1.2.3",),
        None,
    )
    DropClientAddress().filter(record)
    assert "10.1.2.3" not in record.getMessage()
    assert record.getMessage().startswith('- - - [26/Nov/2026] "GET /follow-up')


def test_behind_a_proxy_rate_limits_key_on_the_forwarded_client(database_url):
    """With SPEAKUP_PROXY_FIX_X_FOR=1 two clients behind one balancer get separate budgets; without
    it, a client cannot dodge the limit by inventing X-Forwarded-For."""
    from support.apps import make_app

    from speakup.crypto import access_codes

    def wrong_codes(app, forwarded: list[str]) -> list[int]:
        client = app.test_client()
        return [
            client.get(
                "/api/v1/follow-up",
                headers={"Authorization": f"Bearer {access_codes.new_access_code()}", "X-Forwarded-For": address},
            ).status_code
            for address in forwarded
        ]

    behind = make_app(database_url, ACCESS_CODE_RATE_LIMIT="2 per minute", PROXY_FIX_X_FOR=1)
    assert wrong_codes(behind, ["198.51.100.1", "198.51.100.1", "198.51.100.2", "198.51.100.1"]) == [401, 401, 401, 429]
    direct = make_app(database_url, ACCESS_CODE_RATE_LIMIT="2 per minute")
    assert wrong_codes(direct, ["198.51.100.1", "198.51.100.2", "198.51.100.3"]) == [401, 401, 429]
