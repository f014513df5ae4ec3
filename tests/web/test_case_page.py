"""The guardian's case page laid out for casework: the concern and its key facts first, the
status beside them, every other section one link away, a message saying what was done after every action, and a
status select that offers only the moves allowed from here."""

from __future__ import annotations

import re
from datetime import timedelta

from support.factories import case_row, gen_concern
from support.html import VERSION_RE, case_action, case_address, post_form
from support.present import found

from speakup.domain import workflow
from speakup.platform import dates


def _page(client, reference: str) -> str:
    """The case page at the address the pages link it by (its id), where a kept form or a notice is shown."""
    return client.get(case_address(client.application, reference)).get_data(as_text=True)


def _done_message(client, response) -> str:
    assert response.status_code == 303, response.status_code
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    match = re.search(r'id="case-done".*?notification-banner__heading">([^<]+)<', page, re.S)
    assert match, "no success message on the case page"
    return match.group(1)


def test_the_concern_and_key_facts_come_first_then_the_sections_list_then_the_status(signed):
    reference = gen_concern(signed, what_happened="Unsafe staffing on ward 7")["reference"]
    page = _page(signed, reference)
    order = [
        'id="concern-text"',
        'id="key-facts"',
        'aria-label="Sections of this case"',  # first beside the concern: on the first screen (issue 26, point 6)
        'id="status-heading"',
        'id="messages"',
        'id="details"',
        'id="audit"',
    ]
    positions = [page.index(marker) for marker in order]
    assert positions == sorted(positions)
    # Every link in the contents list leads to a section on the page.
    nav = page.split('aria-label="Sections of this case"')[1].split("</nav>")[0]
    anchors = re.findall(r'href="#([a-z-]+)"', nav)
    assert len(anchors) >= 8 and all(f'id="{anchor}"' in page for anchor in anchors)
    # The national return's facts sit with its form, not among the key facts.
    key_facts = page.split('id="key-facts"')[1].split("</dl>")[0]
    assert "Themes" not in key_facts and "Staff group" not in key_facts
    assert "Themes" in page.split('id="return-facts"')[1].split("</dl>")[0]


def test_the_status_select_offers_only_the_moves_allowed_from_here(signed):
    reference = gen_concern(signed)["reference"]
    for status in ("received", "acknowledged", "in_progress"):
        if status != "received":
            case_action(signed, reference, "status", status=status)
        select = _page(signed, reference).split('id="status"')[1].split("</select>")[0]
        offered = set(re.findall(r'<option value="([a-z_]+)"', select))
        assert offered == set(workflow.allowed_next(status)) - {workflow.CLOSED}


def test_every_action_says_what_was_done(app, signed, guardian):
    reference = gen_concern(signed)["reference"]
    assert _done_message(signed, case_action(signed, reference, "status", status="acknowledged")) == (
        "Status changed to Acknowledged."
    )
    message = post_form(signed, f"/guardian/cases/{reference}", f"/guardian/cases/{reference}/messages", body="Hi")
    assert _done_message(signed, message).startswith("Message sent.")
    note = post_form(signed, f"/guardian/cases/{reference}", f"/guardian/cases/{reference}/notes", note="Call HR")
    assert _done_message(signed, note) == "Note added."
    assigned = case_action(signed, reference, "assign", assignee=str(guardian.id))
    assert _done_message(signed, assigned) == "Assigned to Gita Guardian."
    details = case_action(signed, reference, "details", themes="patient_safety", worker_group="", detriment="")
    assert _done_message(signed, details) == "Details for the national return saved."
    new = case_row(app, reference).feedback_by + timedelta(days=14)
    extended = case_action(
        signed,
        reference,
        "extend",
        extend_day=str(new.day),
        extend_month=str(new.month),
        extend_year=str(new.year),
        extend_reason="Waiting for the ward manager.",
    )
    assert (
        _done_message(signed, extended)
        == f"Deadline moved to {dates.written(new)}. The person who raised this can read why."
    )
    closed = case_action(signed, reference, "close", outcome="resolved", closing_message="Thank you.")
    assert _done_message(signed, closed).startswith("Case closed.")
    # Shown once: the next visit has no message.
    assert 'id="case-done"' not in _page(signed, reference)


def test_a_page_that_comes_back_with_an_error_says_so_in_its_title(signed):
    reference = gen_concern(signed)["reference"]
    url = f"/guardian/cases/{reference}"
    for action, fields in (("messages", {"body": ""}), ("close", {"outcome": "", "closing_message": ""})):
        version = found(VERSION_RE, _page(signed, reference))
        answer = post_form(signed, url, f"{url}/{action}", version=version, **fields)
        assert answer.status_code == 303 and answer.location.startswith(case_address(signed.application, reference))
        page = signed.get(answer.location).get_data(as_text=True)
        assert "<title>Error: Case –" in page
        assert page.index("There is a problem") < page.index("<h1")
    signed.get("/guardian/")  # gone elsewhere: the refused form is no longer kept
    page = _page(signed, reference)
    assert "<title>Case –" in page and reference not in page[page.index("<title>") : page.index("</title>")]


# --- The queue ----------------------------------------------------------------------------


def test_the_queue_uses_the_width_says_how_many_and_never_colours_a_waiting_case_green(app, signed):
    for _ in range(3):
        gen_concern(signed)
    page = signed.get("/guardian/").get_data(as_text=True)
    assert '<div class="nhsuk-grid-column-full">' in page
    assert '<p id="cases-shown">Showing cases 1 to 3.</p>' in page
    # A deadline weeks away has no tag: the old blue "Due" on every row said nothing (issue 26, point 5).
    assert "nhsuk-tag--green" not in page and ">Due</strong>" not in page
    filters = page.split('aria-label="Filter cases"')[1].split("</form>")[0]
    assert filters.count('class="nhsuk-select nhsuk-u-width-full"') == 4


def test_the_queue_counts_one_case_in_words(signed):
    gen_concern(signed)
    assert '<p id="cases-shown">Showing 1 case.</p>' in signed.get("/guardian/").get_data(as_text=True)


def test_reading_pages_keep_their_line_length(client):
    assert '<div class="nhsuk-grid-column-two-thirds">' in client.get("/raise").get_data(as_text=True)
