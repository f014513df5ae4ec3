"""Headers every answer carries: strict CSP, no referrer, and no caching of anything personal."""

from __future__ import annotations

from flask import Flask, Request, Response
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)


class NoSessionForApi(SecureCookieSessionInterface):
    """The JSON API is stateless: its requests get a null session that is never read or saved,
    so no answer of the API can carry a cookie, whatever a view or extension touches."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith("/api/"):
            return None  # Flask substitutes a null session, which is never saved
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    app.session_interface = NoSessionForApi()

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)  # a view may set its own (the SVG charts)
        headers["Referrer-Policy"] = "no-referrer"
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), interest-cohort=()"
        if app.config["SESSION_COOKIE_SECURE"]:
            headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        # Shared ward computers: nothing Flask answers is ever cached, not even a 404 under /assets/. The pages' files
        # are answered before Flask by WhiteNoise, with their own year-long cache (speakup/web/assets.py).
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
        return response


def trust_proxies(app: Flask) -> None:
    """Behind a load balancer the client address is in X-Forwarded-For. Trust exactly the number of
    proxies the operator says (SPEAKUP_PROXY_FIX_X_FOR), so rate limits key on the real client, and
    nobody can spoof an address by sending the header themselves when there is no proxy."""
    hops = int(app.config.get("PROXY_FIX_X_FOR") or 0)
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
