"""The pages' files (one stylesheet, one script, the favicon and the stylesheet's images), served by the app itself:
no CDN, no third party, nothing to configure in the proxy.

`npm run build` (assets/build.mjs) names each file by a hash of its content and stores gzip and brotli copies beside
it; WhiteNoise answers /assets/ before Flask sees the request, with the copy the browser accepts. A name never
changes content, so a browser keeps the file for a year without asking again: a repeat visit fetches only the page.
"""

from __future__ import annotations

import json
from pathlib import Path
from wsgiref.headers import Headers

from flask import Flask
from whitenoise import WhiteNoise

STATIC = Path(__file__).resolve().parent.parent / "static"
BUILD = STATIC / "build"
MANIFEST = STATIC / "manifest.json"
URL_PREFIX = "/assets/"
CACHE_FOREVER = "public, max-age=31536000, immutable"


class AssetsNotBuilt(RuntimeError):
    """The checkout's pages have no stylesheet or script yet: `npm run build` (or `make install`) makes them."""


def _asset_headers(headers: Headers, _path: str, _url: str) -> None:
    # The page's own headers (speakup/platform/headers.py) never reach these answers, so the ones that matter for a
    # stylesheet, a script or an SVG are set here.
    headers["Cache-Control"] = CACHE_FOREVER
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    headers["Content-Security-Policy"] = "default-src 'none'"  # an SVG opened on its own runs nothing


def load_manifest(path: Path = MANIFEST) -> dict[str, str]:
    """Logical name ("speakup.css") to the built file's name, as assets/build.mjs wrote them."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise AssetsNotBuilt(f"{path} is missing: run `npm ci && npm run build` (or `make install`)") from None


def serve_assets(app: Flask) -> None:
    """Answer /assets/ from the build, and give templates ``asset_url("speakup.css")``."""
    manifest = load_manifest()
    app.wsgi_app = WhiteNoise(  # type: ignore[method-assign]
        app.wsgi_app,
        root=str(BUILD),
        prefix=URL_PREFIX,
        allow_all_origins=False,
        immutable_file_test=lambda _path, _url: True,  # every file in the build is named by its content
        add_headers_function=_asset_headers,
    )

    def asset_url(name: str) -> str:
        return URL_PREFIX + manifest[name]

    app.add_template_global(asset_url)
