"""Finding a case by its reference from the queue: someone phones with their reference."""

from __future__ import annotations

import re

import pytest
from support.factories import gen_concern, gen_staff
from support.html import post_form, signed_in
from support.present import present

from speakup.domain import references


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("SU-7K2M9QXD", "SU-7K2M9QXD"),
        ("su-7k2m9qxd", "SU-7K2M9QXD"),
        ("7K2M9QXD", "SU-7K2M9QXD"),
        (" SU 7K2M 9QXD ", "SU-7K2M9QXD"),
        ("su7k2m-9qxd", "SU-7K2M9QXD"),
        ("SU-7K2M9QXO", "SU-7K2M9QX0"),  # O read as zero, as on the access code
        ("SU7K2M9QXD", "SU-7K2M9QXD"),  # references never contain U, so "SU" can only be the prefix
        ("SU-7K2M9QX", None),
        ("SU-7K2M9QXD1", None),
        ("SU-7K2M9QU!", None),
        ("", None),
    ],
)
def test_a_typed_reference_is_read_forgivingly(typed, expected):
    assert references.normalise_reference(typed) == expected


def test_the_queue_finds_a_case_by_a_loosely_typed_reference(app, client, guardian):
    reference = gen_concern(client)["reference"]
    gita = signed_in(app, guardian)
    queue = gita.get("/guardian/").get_data(as_text=True)
    assert '<label class="nhsuk-label" for="reference">Case reference</label>' in queue and ">Find</button>" in queue
    with app.app_context():
        case_id = present(references.case_by_reference(reference), "case").id
    for typed in (reference, reference.lower(), reference[3:], f" {reference[3:7]} {reference[7:]} "):
        response = post_form(gita, "/guardian/", "/guardian/find", reference=typed)
        assert response.status_code == 303, typed
        # The case's page is at its id: the reference is in neither the address nor a query (History keeps both).
        assert response.headers["Location"] == f"/guardian/cases/{case_id}"


def _comparable(page: str) -> str:
    page = re.sub(r'name="(csrf|language)_token" value="[^"]+"', "", page)
    return re.sub(r'id="reference" name="reference" type="text" autocomplete="off" spellcheck="false" value="[^"]*"',
                  "", page)  # fmt: skip


def test_a_case_without_a_grant_and_a_missing_one_get_the_same_answer(app, client, guardian, frozen_clock):
    # The clock stands still: the two pages are compared whole, and a minute turning between them (a session's time
    # left, a date) would tell them apart for a reason that is not the one under test.
    reference = gen_concern(client)["reference"]
    late = gen_staff(app, email="late@example.org", name="Lee Late")  # approved after the concern: no key
    browser = signed_in(app, late)
    pages = []
    for typed in (reference, "SU-ZZZZZZZZ"):
        answer = post_form(browser, "/guardian/", "/guardian/find", reference=typed)
        assert answer.status_code == 303 and answer.location == "/guardian/"
        assert typed not in answer.get_data(as_text=True)
        pages.append(browser.get(answer.location))
    held_elsewhere, missing = pages
    page = held_elsewhere.get_data(as_text=True)
    assert "No case you can open has that reference" in page and 'id="reference-error"' in page
    assert f'value="{reference}"' in page  # what they typed is kept
    assert "<title>Error: Cases" in page
    assert _comparable(page) == _comparable(missing.get_data(as_text=True))


def test_an_empty_reference_asks_for_one(app, guardian):
    browser = signed_in(app, guardian)
    assert post_form(browser, "/guardian/", "/guardian/find", reference="  ").status_code == 303
    assert "Enter a case reference" in browser.get("/guardian/").get_data(as_text=True)
