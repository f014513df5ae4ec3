"""The board report page itself: a plain title with "You said, we did" in the body, charts of counts whose scale
steps in whole numbers, and tables that scroll in their own keyboard-reachable box at narrow widths."""

from __future__ import annotations

import itertools
import re

import pytest
from support.factories import as_if_raised_last_quarter, gen_concern
from support.html import AuthActions, post_form
from support.present import found

from speakup.reporting import charts

LEARNING = "We now staff nights with two nurses."


@pytest.fixture
def app_overrides(request):
    return getattr(request, "param", {"SUBMIT_RATE_LIMIT": "1000 per minute"})


def _close_sharing_learning(client, reference: str, learning: str) -> None:
    url = f"/guardian/cases/{reference}"
    version = found(r'name="version" value="(\d+)"', client.get(url).get_data(as_text=True))
    closed = post_form(
        client,
        url,
        f"{url}/close",
        outcome="resolved",
        closing_message="Thank you for speaking up.",
        learning=learning,
        share_learning="yes",
        version=version,
    )
    assert closed.status_code == 303
    assert "Case closed." in client.get(closed.location).get_data(as_text=True)


def _scale(page: str, name: str) -> list[str]:
    """A chart's scale, in order: the numbers under its bars, each a <text> in the chart's (first) scale row."""
    chart = page.split(f'<figure class="speakup-chart" id="chart-{name}"')[1].split("</figure>")[0]
    scale = chart.split('class="speakup-chart__row speakup-chart__scale')[1].split("</svg>")[0]
    return re.findall(r'<text class="speakup-chart__tick"[^>]*>([^<]*)</text>', scale)


def test_the_title_is_only_the_title_and_the_learning_is_in_the_body(app, client, guardian):
    reference = gen_concern(client, what_happened="Rota gaps")["reference"]
    AuthActions(client).sign_in(guardian)
    _close_sharing_learning(client, reference, LEARNING)
    page = client.get("/guardian/board").get_data(as_text=True)
    title = found(r"<title>(.*?)</title>", page, re.S)
    assert title == f"Board report – Speak Up – {app.config['ORGANISATION_NAME']}"
    main = page.split('<main class="nhsuk-main-wrapper" id="maincontent">')[1].split("</main>")[0]
    assert '<h2 id="you-said-we-did">You said, we did</h2>' in main
    learned = main.split('<h2 id="you-said-we-did">You said, we did</h2>')[1]
    assert "Theme not recorded" in learned and LEARNING in learned
    assert page.count(LEARNING) == 1  # once, in the body


def test_the_board_says_so_when_no_learning_was_shared(client, guardian):
    AuthActions(client).sign_in(guardian)
    page = client.get("/guardian/board").get_data(as_text=True)
    main = page.split("<main")[1]
    learned = main.split('id="you-said-we-did">You said, we did</h2>')[1]
    assert "No learning has been shared in this period yet." in learned
    assert "You said" not in found(r"<title>(.*?)</title>", page, re.S)


def _whole_steps(labels: list[str]) -> bool:
    if not labels or not all(re.fullmatch(r"\d+", label) for label in labels) or labels[0] != "0":
        return False
    return len({int(b) - int(a) for a, b in itertools.pairwise(labels)}) == 1


# Six anonymous concerns with no theme and no feedback yet. A chart library left to itself labels a scale whose
# counts are all 0 (or all hidden) 0, 0.1, ... 1, and small counts in fifths: 0, 0.2, ... 2. The scale has at most
# about four steps (charts.SCALE_MARKS), so its numbers never overlap in a 320 px screen's narrow track.
@pytest.mark.parametrize(
    ("name", "expected"),
    [("themes", ["0", "1"]), ("anonymous", ["0", "2", "4", "6"]), ("feedback", ["0", "1"])],
)
def test_charts_of_counts_step_in_whole_numbers(app, client, guardian, name, expected):
    for _ in range(6):
        gen_concern(client)
    as_if_raised_last_quarter(app)
    AuthActions(client).sign_in(guardian)
    labels = _scale(client.get("/guardian/board").get_data(as_text=True), name)
    assert labels == expected and _whole_steps(labels)


@pytest.mark.parametrize(
    "app_overrides", [{"SUBMIT_RATE_LIMIT": "1000 per minute", "SUPPRESS_BELOW": 1}], indirect=True
)
def test_small_counts_shown_where_nothing_is_hidden_still_step_in_whole_numbers(app, client, guardian):
    for _ in range(2):
        gen_concern(client)
    as_if_raised_last_quarter(app)
    AuthActions(client).sign_in(guardian)
    labels = _scale(client.get("/guardian/board").get_data(as_text=True), "anonymous")
    assert labels == ["0", "1", "2"]


@pytest.mark.parametrize(
    ("counts", "steps"),
    [
        ([], [0, 1]),
        ([None, 0], [0, 1]),
        ([1], [0, 1]),
        ([3, None, 2], [0, 1, 2, 3]),
        ([10], list(range(11))),
        ([11], [0, 2, 4, 6, 8, 10, 12]),
        ([47], list(range(0, 51, 5))),
        ([101], list(range(0, 121, 20))),
        ([32000], list(range(0, 35001, 5000))),
    ],
)
def test_whole_number_steps(counts, steps):
    assert charts.whole_number_steps(counts) == steps


def test_every_table_scrolls_in_its_own_named_box(client, guardian):
    AuthActions(client).sign_in(guardian)
    page = client.get("/guardian/board").get_data(as_text=True)
    boxes = re.findall(r'<div class="speakup-table-scroll"([^>]*)>\s*<table', page)
    assert len(boxes) == page.count("<table") == 7
    names = []
    for attributes in boxes:
        assert 'role="region"' in attributes and 'tabindex="0"' in attributes  # reachable from the keyboard
        names.append(found(r'aria-label="([^"]+)"', attributes))
    assert len(set(names)) == len(names)  # each box says which table it holds
    assert all(table.count("</table>") == 1 for table in page.split('<div class="speakup-table-scroll"')[1:])
    stylesheet = found(r'<link rel="stylesheet" href="([^"]+)"', page)
    css = client.get(stylesheet).get_data(as_text=True)
    rule = found(r"\.speakup-table-scroll\{([^}]*)\}", css)
    assert "overflow-x:auto" in rule
