"""How the board report presents its figures (issue 26, point 8): the latest quarter's headline figures first, a
contents list of its sections, and charts that draw a hidden count as hidden (hatched, written "<5 (hidden)") rather
than leaving it out. What is counted, and when, is unchanged: every figure is one the tables already show."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from support.factories import gen_quarter
from support.present import found

from speakup.reporting import board

HATCH = 'fill="url(#speakup-hatch)"'


@pytest.fixture
def app_overrides():
    return {"SUBMIT_RATE_LIMIT": "1000 per minute"}


def _headline(page: str) -> dict[str, tuple[str, str]]:
    """Each headline figure's label -> (its value as written, its note)."""
    figures = found(r'<dl class="speakup-figures" id="headline-figures">(.*?)</dl>', page, re.S)
    items = re.findall(
        r'<dt class="speakup-figures__label">(.*?)</dt>\s*<dd class="speakup-figures__value">(.*?)</dd>'
        r'(?:<dd class="speakup-figures__note">(.*?)</dd>)?',
        figures,
        re.S,
    )
    return {label: (html_lib.unescape(re.sub(r"<[^>]+>", "", value)), note) for label, value, note in items}


def _chart(page: str, key: str) -> str:
    return found(rf'<figure class="speakup-chart" id="chart-{key}".*?</figure>', page, re.S, group=0)


def _rows(chart: str) -> list[tuple[str, str, str]]:
    """Every bar of a chart: (its row's classes, its series, its track's SVG and its value)."""
    return re.findall(
        r'<div class="(speakup-chart__row[^"]*)">\s*<dt class="speakup-chart__label">(.*?)</dt>\s*(<dd.*?</dd>)',
        chart,
        re.S,
    )


def test_the_headline_figures_come_first_with_small_counts_hidden(app, client, signed):
    gen_quarter(app, client, 7, anonymous=2, ack_after_days=3)
    page = signed.get("/guardian/board").get_data(as_text=True)
    main = page.split('id="maincontent"')[1]
    assert main.index('id="headline-figures"') < main.index('id="contents"') < main.index('class="speakup-chart"')
    figures = _headline(page)
    assert list(figures) == [
        "Concerns raised",
        "Raised anonymously",
        "Median days to acknowledge",
        "Median days to close",
        "Would speak up again",
    ]
    assert figures["Concerns raised"][0] == "7"
    assert figures["Raised anonymously"][0] == "<5 (hidden)"  # 2, below the threshold: the one rule's label
    assert figures["Median days to acknowledge"] == ("3.0 days", "Target 7 days")
    assert figures["Median days to close"][0] == "None yet"
    assert figures["Would speak up again"][0] == "0"
    # The same values as the tables below show for the quarter (nothing shown that the tables do not).
    raised = page.split("Raised</th>")[1].split("</table>")[0]
    assert re.findall(r"<td[^>]*>([^<]*)</td>", raised)[-2:] == ["7", "&lt;5"]


def test_a_headline_count_at_the_threshold_is_shown(app, client, signed):
    gen_quarter(app, client, 5, anonymous=5)
    figures = _headline(signed.get("/guardian/board").get_data(as_text=True))
    assert figures["Concerns raised"][0] == figures["Raised anonymously"][0] == "5"


def test_a_hidden_count_is_drawn_hatched_and_said_in_words(app, client, signed):
    gen_quarter(app, client, 7, anonymous=2)
    page = signed.get("/guardian/board").get_data(as_text=True)
    chart = _chart(page, "anonymous")
    latest = chart.split('<p class="speakup-chart__quarter">')[-1]
    (all_classes, all_series, all_bar), (hidden_classes, hidden_series, hidden_bar) = _rows(latest)
    assert (all_series, hidden_series) == ("All concerns", "Raised anonymously")
    assert "--hidden" not in all_classes and HATCH not in all_bar and ">7</span>" in all_bar
    # The hidden count is a hatched, outlined bar (drawn to the threshold), written as the table writes it.
    assert "speakup-chart__row--hidden" in hidden_classes
    drawn = r'<rect class="speakup-chart__bar speakup-chart__bar--hidden"[^>]*width="[1-9][\d.]*%"[^>]*'
    drawn += re.escape(HATCH)
    assert re.search(drawn, hidden_bar)
    assert "&lt;5 (hidden)</span>" in hidden_bar
    # The key and the caption say so too, in words.
    assert "1 count is hidden and drawn hatched" in found(r"<figcaption[^>]*>(.*?)</figcaption>", chart, re.S)
    key = found(r'<li class="speakup-chart__key-item speakup-chart__key-item--hidden">(.*?)</li>', chart, re.S)
    assert re.search(rf"<rect[^>]*{re.escape(HATCH)}", key)
    assert html_lib.unescape(re.sub(r"<[^>]+>", "", key)).startswith('Hatched, "<5 (hidden)": fewer than 5, or a count')
    # The pattern the hatched bars use is on the page once.
    assert page.count('<pattern id="speakup-hatch"') == 1


def test_a_chart_with_nothing_hidden_has_no_hatch_in_its_key(app, client, signed):
    gen_quarter(app, client, 6, anonymous=6)
    chart = _chart(signed.get("/guardian/board").get_data(as_text=True), "anonymous")
    assert HATCH not in chart and "(hidden)" not in chart and "--hidden" not in chart and "Hatched" not in chart


def test_every_bar_is_labelled_with_its_series_and_value(app, client, signed):
    """No series is told apart by colour alone: each bar carries its series' name and its value as text."""
    gen_quarter(app, client, 7, anonymous=2)
    page = signed.get("/guardian/board").get_data(as_text=True)
    for key in ("themes", "anonymous", "timeliness", "feedback"):
        chart = _chart(page, key)
        rows = _rows(chart)
        key = r'<li class="speakup-chart__key-item speakup-chart__key-item--series">'
        key += r'<svg[^>]*><rect[^>]*fill="(#[0-9a-f]{6})"/></svg>(.*?)</li>'
        series = re.findall(key, chart)
        colours, names = [colour for colour, _name in series], [name for _colour, name in series]
        assert len(set(colours)) == len(colours) >= 2
        assert [name for _classes, name, _bar in rows] == names * board.QUARTERS_SHOWN
        for _classes, _name, bar in rows:
            assert found(r'<span class="speakup-chart__value">(.+?)</span>', bar)
        assert "viewBox" not in chart  # nothing scales text down with the picture
        assert "<script" not in chart and "style=" not in chart


def test_the_contents_list_links_every_section(signed):
    page = signed.get("/guardian/board").get_data(as_text=True)
    contents = found(r'<nav class="nhsuk-contents-list" id="contents"[^>]*>(.*?)</nav>', page, re.S)
    links = re.findall(r'<a class="nhsuk-contents-list__link" href="#([\w-]+)">(.*?)</a>', contents)
    main = found(r"<main[^>]*>(.*?)</main>", page, re.S)  # the page's own sections (not the time-out dialog)
    headings = re.findall(r'<h2 id="([\w-]+)">(.*?)</h2>', main)
    # Every section after the headline is listed, in the page's order, by its own heading.
    assert links == [(id_, text) for id_, text in headings if id_ != "headline"]
    assert len(links) == 8 and all(page.count(f'id="{id_}"') == 1 for id_, _text in links)
    assert page.count('<a href="#contents">Back to contents</a>') == len(links)


def test_the_page_is_one_call_to_its_page_model(monkeypatch, signed):
    """The headline, the charts and the tables come from one report, counted once per page."""
    calls = []
    real = board.board_report

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(board, "board_report", counted)
    page = signed.get("/guardian/board")
    assert page.status_code == 200 and len(calls) == 1
    assert "<img" not in page.get_data(as_text=True).split('id="maincontent"')[1]  # no chart fetched apart


def test_a_table_a_chart_draws_is_folded_under_it_and_the_others_are_not(app, client, signed):
    """On a narrow screen a chart and its table twice over made the page long: the table a chart already draws is a
    summary away ("Show the figures as a table"), in a details element that opens without JavaScript; a table no chart
    draws stays open. The feedback chart draws every column of its table, detriment after closing included."""
    gen_quarter(app, client, 7, anonymous=2)
    page = signed.get("/guardian/board").get_data(as_text=True)
    sections = dict(re.findall(r'<h2 id="([\w-]+)">.*?</h2>(.*?)(?=<h2 id=|</main>)', page, re.S))
    folded = '<details class="nhsuk-details speakup-chart-figures">'
    for id_ in ("by-theme", "anonymity", "timeliness", "speak-up-again"):
        figure, details = sections[id_].index('class="speakup-chart"'), sections[id_].index(folded)
        assert figure < details < sections[id_].index("<table"), id_
        assert "Show the figures as a table" in sections[id_]
    for id_ in ("how-raised", "referred-to", "who-spoke-up"):
        assert "<details" not in sections[id_] and "<table" in sections[id_], id_
    names = [name for _classes, name, _bar in _rows(_chart(page, "feedback"))]
    assert "Reported detriment after closing" in names
