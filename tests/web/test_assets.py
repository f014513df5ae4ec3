"""The pages' files: one stylesheet and one deferred script, named by their content, served by
the app compressed at build time and cached for a year; only the parts of the design system the templates use."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from pathlib import Path

import brotli
import pytest
from support.present import found

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "speakup" / "templates"
DESIGN_SYSTEM = ROOT / "node_modules" / "nhsuk-frontend" / "dist" / "nhsuk"
CACHE_FOREVER = "public, max-age=31536000, immutable"


def _assets_of(page: str) -> dict[str, list[str]]:
    return {
        "stylesheet": re.findall(r'<link rel="stylesheet" href="([^"]+)"', page),
        "icon": re.findall(r'<link rel="icon" href="([^"]+)"', page),
        "script": re.findall(r"<script\b([^>]*)>", page),
    }


@pytest.mark.parametrize("path", ["/", "/raise", "/follow-up", "/other-ways", "/guardian/sign-in"])
def test_every_page_loads_one_stylesheet_and_one_deferred_script(client, path):
    page = client.get(path).get_data(as_text=True)
    assets = _assets_of(page)
    assert len(assets["stylesheet"]) == 1 and len(assets["icon"]) == 1
    (script,) = assets["script"]
    # A classic script with defer: it runs after the page is parsed and holds nothing up; no module, so nothing
    # it imports is fetched after it.
    assert re.fullmatch(r' defer src="/assets/speakup\.[0-9a-f]{12}\.js"', script), script


def _asset_urls(client) -> list[str]:
    page = client.get("/raise").get_data(as_text=True)
    assets = _assets_of(page)
    script = found(r'src="([^"]+)"', assets["script"][0])
    return [*assets["stylesheet"], *assets["icon"], script]


def test_each_file_is_named_by_its_content_and_cached_for_a_year(client):
    for url in _asset_urls(client):
        response = client.get(url)
        assert response.status_code == 200, url
        digest = found(r"\.([0-9a-f]{12})\.\w+$", url)
        assert hashlib.sha256(response.get_data()).hexdigest()[:12] == digest, url
        assert response.headers["Cache-Control"] == CACHE_FOREVER, url
        assert response.headers["X-Content-Type-Options"] == "nosniff", url
        assert response.headers["Cross-Origin-Resource-Policy"] == "same-origin", url
        assert response.headers["Content-Security-Policy"] == "default-src 'none'", url
        assert "Access-Control-Allow-Origin" not in response.headers, url
        assert "Set-Cookie" not in response.headers, url  # no session is opened by fetching a file


def test_files_are_sent_compressed_as_the_browser_accepts(client):
    for url in _asset_urls(client):
        plain = client.get(url).get_data()
        as_brotli = client.get(url, headers={"Accept-Encoding": "gzip, deflate, br"})
        assert as_brotli.headers["Content-Encoding"] == "br", url
        assert "Accept-Encoding" in as_brotli.headers["Vary"], url
        assert brotli.decompress(as_brotli.get_data()) == plain, url
        as_gzip = client.get(url, headers={"Accept-Encoding": "gzip"})
        assert as_gzip.headers["Content-Encoding"] == "gzip", url
        assert gzip.decompress(as_gzip.get_data()) == plain, url
        assert len(as_brotli.get_data()) < len(plain), url


def test_the_script_is_one_bundle_that_fetches_nothing_more(client):
    (script,) = [url for url in _asset_urls(client) if url.endswith(".js")]
    source = client.get(script).get_data(as_text=True)
    assert source.startswith("(()=>{"), "not one self-contained bundle"
    assert not re.search(r"\bimport\s*[(\"'{*]|\bimport\s+\w", source), "the script loads another script"
    assert "nhsuk-frontend-supported" in source and "data-speakup-reveal" in source


def test_every_image_the_stylesheet_names_is_served_and_hashed(client):
    (stylesheet,) = [url for url in _asset_urls(client) if url.endswith(".css")]
    css = client.get(stylesheet).get_data(as_text=True)
    urls = re.findall(r"url\(\"?([^\")]+)\"?\)", css)
    assert urls, "the design system's tables name their sorting icons"
    for url in urls:
        assert re.fullmatch(r"/assets/[\w-]+\.[0-9a-f]{12}\.svg", url), url
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == CACHE_FOREVER, url
        assert response.headers["X-Content-Type-Options"] == "nosniff", url
        assert response.headers["Content-Security-Policy"] == "default-src 'none'", url


@pytest.mark.parametrize(
    "path",
    [
        "/assets/speakup.000000000000.css",
        "/assets/",
        "/assets/../static/manifest.json",
        "/assets/%2e%2e/static/manifest.json",
        "/assets/..%2fstatic%2fmanifest.json",
    ],
)
def test_a_file_that_is_not_there_is_a_404_that_is_never_kept(client, path):
    """Nothing outside the build is served, and Flask's own answer under /assets/ is as uncacheable as a page."""
    response = client.get(path)
    assert response.status_code == 404, path
    assert response.headers["Cache-Control"] == "no-store", path
    assert "immutable" not in response.headers["Cache-Control"]
    assert '"speakup.css"' not in response.get_data(as_text=True)


def _template_text() -> str:
    return "\n".join(path.read_text() for path in TEMPLATES.rglob("*.html"))


def _classes(text: str) -> set[str]:
    """Every design-system class named anywhere in the templates: in class attributes, beside Jinja tags, and in
    the dictionaries macros are given (a tag's colour), not only in plain class="..." lists."""
    return set(re.findall(r"nhsuk-[a-z0-9_-]*[a-z0-9]", text))


def test_every_design_system_class_the_templates_use_is_in_the_stylesheet(client):
    (stylesheet,) = [url for url in _asset_urls(client) if url.endswith(".css")]
    ours = client.get(stylesheet).get_data(as_text=True)
    whole = (DESIGN_SYSTEM / "nhsuk-frontend.min.css").read_text()
    defined = lambda css, name: re.search(r"\." + re.escape(name) + r"(?![\w-])", css)  # noqa: E731
    used = _classes(_template_text())
    assert len(used) > 50
    missing = sorted(name for name in used if defined(whole, name) and not defined(ours, name))
    assert missing == [], f"add their components to assets/speakup.scss: {missing}"


def test_only_components_the_templates_use_are_built_in():
    scss = (ROOT / "assets" / "speakup.scss").read_text()
    components = re.findall(r'@use "nhsuk-frontend/dist/nhsuk/components/([\w-]+)"', scss)
    assert 20 < len(components) < len(list((DESIGN_SYSTEM / "components").glob("*/_index.scss")))
    used = _classes(_template_text())
    for component in components:
        source = (DESIGN_SYSTEM / "components" / component / "_index.scss").read_text()
        defines = set(re.findall(r"\.(nhsuk-[a-z0-9-]+(?:__[a-z0-9-]+)?(?:--[a-z0-9-]+)?)", source))
        assert defines & used, f"assets/speakup.scss builds in {component}, which no template uses"


def test_the_script_starts_exactly_the_components_the_templates_mark():
    modules = set(re.findall(r'data-module="nhsuk-([\w-]+)"', _template_text()))
    script = (ROOT / "assets" / "app.js").read_text()
    started = found(r"for \(const component of \[([^\]]+)\]\)", script)
    pascal = {"".join(part.title() for part in name.split("-")) for name in modules}
    assert {name.strip() for name in started.split(",")} == pascal


def test_the_manifest_names_only_files_that_exist():
    manifest = json.loads((ROOT / "speakup" / "static" / "manifest.json").read_text())
    assert {"speakup.css", "speakup.js", "favicon.svg"} <= set(manifest)
    for built in manifest.values():
        for suffix in ("", ".gz", ".br"):
            assert (ROOT / "speakup" / "static" / "build" / (built + suffix)).is_file(), built + suffix
