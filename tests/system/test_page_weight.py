"""Light pages on a slow hospital network, counted in Chromium by what crosses the wire: a first
visit to the reporter's pages is at most 100 KiB, and a repeat visit fetches only the page itself.

Bytes, not time: Lighthouse's score is measured by `make bench-pages` (BENCHMARKS.md)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

FIRST_VISIT_LIMIT = 100 * 1024
PAGES = ["/", "/raise", "/follow-up", "/accessibility", "/privacy"]


class Wire:
    """What one tab fetched, from Chromium's own network events (bytes received, headers included)."""

    def __init__(self, context, page):
        self.session = context.new_cdp_session(page)
        self.session.send("Network.enable")
        self.urls: dict[str, str] = {}
        self.received: dict[str, int] = {}
        self.from_cache: set[str] = set()
        self.session.on("Network.requestWillBeSent", self._sent)
        self.session.on("Network.requestServedFromCache", lambda e: self.from_cache.add(e["requestId"]))
        self.session.on("Network.responseReceived", self._response)
        self.session.on("Network.loadingFinished", self._finished)

    def _sent(self, event: dict) -> None:
        self.urls[event["requestId"]] = event["request"]["url"]

    def _response(self, event: dict) -> None:
        if event["response"].get("fromDiskCache") or event["response"].get("fromPrefetchCache"):
            self.from_cache.add(event["requestId"])

    def _finished(self, event: dict) -> None:
        self.received[event["requestId"]] = int(event["encodedDataLength"])

    def over_the_network(self) -> dict[str, int]:
        return {self.urls[rid]: size for rid, size in self.received.items() if rid not in self.from_cache and size > 0}


@pytest.fixture
def fresh_context(browser: Browser) -> Iterator:
    context = browser.new_context(viewport={"width": 412, "height": 823})  # a phone, as Lighthouse's mobile run
    yield context
    context.close()


@pytest.mark.parametrize("path", PAGES)
def test_a_first_visit_is_at_most_100_kib_and_a_repeat_visit_fetches_only_the_page(live_server, fresh_context, path):
    first_tab = fresh_context.new_page()
    first = Wire(fresh_context, first_tab)
    first_tab.goto(live_server + path, wait_until="load")
    first_tab.wait_for_load_state("networkidle")
    fetched = first.over_the_network()
    assert any("/assets/speakup." in url and url.endswith(".css") for url in fetched), fetched
    assert any("/assets/speakup." in url and url.endswith(".js") for url in fetched), fetched
    assert all(url.startswith(live_server) for url in fetched), fetched
    total = sum(fetched.values())
    print(f"{path}: first visit {total / 1024:.1f} KiB over {len(fetched)} requests")
    assert total <= FIRST_VISIT_LIMIT, fetched
    assert first_tab.evaluate("document.body.classList.contains('js-enabled')"), "the script did not run"

    # The same person comes back later, in a new tab: the files are kept, so only the page itself travels.
    again_tab = fresh_context.new_page()
    again = Wire(fresh_context, again_tab)
    again_tab.goto(live_server + path, wait_until="load")
    again_tab.wait_for_load_state("networkidle")
    assert list(again.over_the_network()) == [live_server + path], again.over_the_network()
    assert again_tab.evaluate("getComputedStyle(document.querySelector('.nhsuk-header')).backgroundColor") == (
        "rgb(0, 94, 184)"
    ), "the cached stylesheet was not applied"
