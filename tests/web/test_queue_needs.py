"""The queue's "Needs you now" (issue 26, point 5): each count is what its link lists, a zero says so in words, the
counts come with the page model's one call, and the rows' tags say what they mean in words, each kind its colour."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from support.casework import bring_to, cell_text, london_today, queue_rows, set_case, text_of
from support.factories import gen_concern
from support.present import found

from speakup.domain import triage

NEEDS = ("acknowledge", "replies", "overdue", "detriment")
ROW_REFERENCE = re.compile(r'<tr class="nhsuk-table__row">\s*<td[^>]*>.*?<a href="[^"]+">([^<]+)</a>', re.S)


@pytest.fixture
def app_overrides() -> dict[str, object]:
    return {"SUBMIT_RATE_LIMIT": "1000 per hour"}  # more than a page of concerns, from one client


def _reporter_writes(app: Flask, code: str) -> None:
    api = app.test_client(use_cookies=False)
    answer = api.post("/api/v1/follow-up/messages", json={"body": "More."}, headers={"Authorization": f"Bearer {code}"})
    assert answer.status_code == 201


def _needs(client: FlaskClient) -> dict[str, tuple[str, str | None]]:
    """Each line of "Needs you now": its words, and where its link goes (None when it has none)."""
    page = text_of(client.get("/guardian/"))
    block = found(r'<section id="needs-you-now"[^>]*>(.*?)</section>', page, re.S)
    lines = {}
    for what in NEEDS:
        item = found(rf'<li class="speakup-needs__item" id="needs-{what}">(.*?)</li>', block, re.S)
        link = re.search(r'<a href="([^"]+)">', item)
        lines[what] = (cell_text(item), link.group(1) if link else None)
    return lines


def _listed(client: FlaskClient, address: str) -> set[str]:
    """Every case a queue address lists: the table's rows on every page, and the closed cases with a reply."""
    listed: set[str] = set()
    page_number = 1
    while True:
        response = client.get(address + f"&page={page_number}" if page_number > 1 else address)
        assert response.status_code == 200
        page = text_of(response)
        listed |= set(ROW_REFERENCE.findall(page))
        if page_number == 1 and 'id="closed-replies"' in page:
            closed = page.split('id="closed-replies"')[1].split("</div>")[0]
            listed |= set(re.findall(r'<a href="/guardian/cases/[^"]+">([^<]+)</a>', closed))
        if "nhsuk-pagination__link--next" not in page:
            return listed
        page_number += 1


def test_each_count_is_what_its_link_lists(app, signed):
    today = london_today()
    raised = [gen_concern(signed) for _ in range(30)]  # more than a page of cases to acknowledge
    refs = [case["reference"] for case in raised]
    for ref in refs[:3]:
        set_case(app, ref, next_due=today - timedelta(days=2))  # overdue
    for ref in refs[3:6]:
        bring_to(signed, ref, "in_progress")
    set_case(app, refs[3], detriment_reported=True)
    set_case(app, refs[4], detriment_after_closure=True)  # said so at a check-in, and the case was opened again
    set_case(app, refs[5], detriment_reported=False)
    bring_to(signed, refs[6], "closed")
    for case in (raised[0], raised[5], raised[6]):  # open and overdue, open, closed
        _reporter_writes(app, case["access_code"])

    needs = _needs(signed)
    expected = {"acknowledge": 30 - 4, "replies": 3, "overdue": 3, "detriment": 2}
    for what, count in expected.items():
        words, link = needs[what]
        assert words.startswith(f"{count} "), (what, words)
        assert link is not None
        assert len(_listed(signed, link)) == count, what
    assert needs["acknowledge"][0] == "26 cases to acknowledge"
    assert needs["replies"][0] == "3 replies waiting for you"
    assert needs["overdue"][0] == "3 cases overdue"
    assert needs["detriment"][0] == "2 cases with detriment reported"
    assert _listed(signed, needs["replies"][1] or "") == {refs[0], refs[5], refs[6]}
    assert _listed(signed, needs["detriment"][1] or "") == {refs[3], refs[4]}
    # The links are the queue's own filters, the names they always had (and detriment=reported, new).
    assert [link for _, link in needs.values()] == [
        "/guardian/?status=received",
        "/guardian/?replies=waiting",
        "/guardian/?due=overdue",
        "/guardian/?detriment=reported",
    ]


def test_a_count_of_none_says_so_in_words_and_links_nothing(app, signed):
    ref = gen_concern(signed)["reference"]
    bring_to(signed, ref, "in_progress")
    assert _needs(signed) == {
        "acknowledge": ("Nothing to acknowledge", None),
        "replies": ("No replies waiting for you", None),
        "overdue": ("Nothing overdue", None),
        "detriment": ("No detriment reported", None),
    }


def test_one_case_is_counted_in_the_singular(app, signed):
    raised = gen_concern(signed)
    set_case(app, raised["reference"], next_due=london_today() - timedelta(days=1), detriment_reported=True)
    _reporter_writes(app, raised["access_code"])
    assert [words for words, _ in _needs(signed).values()] == [
        "1 case to acknowledge",
        "1 reply waiting for you",
        "1 case overdue",
        "1 case with detriment reported",
    ]


def test_counting_stops_at_its_limit_and_says_or_more(app, signed, monkeypatch):
    for _ in range(4):
        gen_concern(signed)
    monkeypatch.setattr(triage, "COUNT_LIMIT", 3)
    assert _needs(signed)["acknowledge"][0] == "3 or more cases to acknowledge"


def test_the_page_makes_one_domain_call_and_its_model_holds_the_counts(app, signed, monkeypatch):
    gen_concern(signed)
    calls = []
    original = triage.guardian_queue_page

    def counted(*args, **kwargs):
        shown = original(*args, **kwargs)
        calls.append(shown)
        return shown

    monkeypatch.setattr(triage, "guardian_queue_page", counted)
    assert signed.get("/guardian/").status_code == 200
    assert len(calls) == 1
    assert [(need.what, need.count) for need in calls[0].needs] == [
        ("acknowledge", 1),
        ("replies", 0),
        ("overdue", 0),
        ("detriment", 0),
    ]


def test_the_detriment_filter_refuses_what_it_never_offered(signed):
    gen_concern(signed)
    assert signed.get("/guardian/", query_string={"detriment": "maybe"}).status_code == 400


def _tags(client: FlaskClient, reference: str) -> list[tuple[str, str]]:
    page = client.get("/guardian/").get_data(as_text=True)
    row = found(rf'(<tr class="nhsuk-table__row">(?:(?!</tr>).)*>{reference}</a>.*?</tr>)', page, re.S)
    return re.findall(r'<strong class="nhsuk-tag nhsuk-tag--([a-z]+)[^"]*">([^<]+)</strong>', row)


@pytest.mark.parametrize(
    ("days", "words"), [(-1, "Overdue"), (0, "Due today"), (1, "Due tomorrow"), (2, "Due in 2 days")]
)
def test_a_deadline_tag_says_how_late_or_soon_in_words(app, signed, days, words):
    ref = gen_concern(signed)["reference"]
    set_case(app, ref, next_due=london_today() + timedelta(days=days))
    assert ("red" if days < 0 else "orange", words) in _tags(signed, ref)


def test_each_kind_of_tag_has_its_words_and_its_own_colour(app, signed):
    raised = gen_concern(signed)
    ref = raised["reference"]
    later = gen_concern(signed)["reference"]
    set_case(app, ref, detriment_reported=True, next_due=london_today() - timedelta(days=1))
    _reporter_writes(app, raised["access_code"])
    assert _tags(signed, ref) == [
        ("blue", "Received"),
        ("purple", "Reply waiting"),
        ("pink", "Detriment reported"),
        ("red", "Overdue"),
    ]
    assert _tags(signed, later) == [("blue", "Received")]  # a deadline a week away needs no tag
    row = next(row for row in queue_rows(signed) if row["reference"] == later)
    assert row["themes"] == "New: not triaged yet"
