"""Security headers on every route, whatever the answer (200, redirect, 401, 403, 404)."""

from __future__ import annotations

import re

from support.present import found

REQUIRED = {
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


def _paths(app) -> list[str]:
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint.endswith("static"):
            continue
        paths.append(re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: "1" if "id" in m.group(1) else "x", rule.rule))
    return paths


def test_every_get_route_carries_the_security_headers(app, client):
    paths = _paths(app)
    assert len(paths) > 20
    for path in paths:
        response = client.get(path)
        for header, value in REQUIRED.items():
            assert response.headers.get(header) == value, (path, header)
        csp = response.headers.get("Content-Security-Policy", "")
        assert "default-src" in csp and "unsafe-eval" not in csp, path
        assert response.headers["Cache-Control"] == "no-store", path


def test_no_page_names_another_host(app, client):
    """Every HTML page a visitor can reach unsigned, scanned for any absolute URL to another host: nothing is loaded
    from one and no form is sent to one. The one exception is a plain link a person chooses to follow: "Other ways to
    speak up" links the bodies outside the trust (EXTERNAL_ROUTES), by https, and names no other host; and "Exit this
    page" links EXIT_PAGE_URL, its button's one link away."""
    other_ways = "/other-ways"
    exit_url = app.config["EXIT_PAGE_URL"]
    exit_link = f'<a href="{exit_url}" role="button"'
    for path in _paths(app):
        response = client.get(path)
        if path == "/exit":  # "Exit this page" opened as a page: it leaves for EXIT_PAGE_URL, and only there
            assert response.status_code == 303 and response.location == app.config["EXIT_PAGE_URL"]
            continue
        if response.mimetype != "text/html":
            continue
        page = response.get_data(as_text=True).replace(exit_link, "<a")
        if path == other_ways:
            links = re.findall(r"""<a [^>]*href=["'](https?:)?//([^"']+)["']""", page)
            shipped = {route["web"] for route in app.config["EXTERNAL_ROUTES"] if route.get("web")}
            assert links and {f"{scheme}//{rest}" for scheme, rest in links} == shipped
            page = re.sub(r"""<a [^>]*href=["']https://[^"']+["']""", "<a", page)
        assert not re.search(r"""(?:src|href|action)=["'](?:https?:)?//""", page), path


def test_a_wrong_method_on_a_page_names_the_allowed_ones(client):
    # RFC 9110: a 405 carries Allow; the friendly error page must keep werkzeug's header.
    response = client.delete("/raise")
    assert response.status_code == 405
    assert {method.strip() for method in response.headers["Allow"].split(",")} == {"GET", "HEAD", "OPTIONS", "POST"}
    assert response.mimetype == "text/html"


def test_forms_work_over_https_without_a_referer(app):
    """Behind a TLS proxy every request is secure, and browsers send no Referer (our Referrer-Policy: no-referrer).
    Flask-WTF's strict Referer check must not then refuse every form (found by the nginx test)."""
    client = app.test_client()
    page = client.get("/raise", base_url="https://localhost").get_data(as_text=True)
    token = found(r'name="csrf_token" value="([^"]+)"', page)
    sent = client.post(
        "/raise",
        base_url="https://localhost",
        data={"csrf_token": token, "what_happened": "Over HTTPS", "anonymity": "anonymous"},
    )
    assert sent.status_code == 303, sent.get_data(as_text=True)[:500]
