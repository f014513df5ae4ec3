"""Accessibility on the staff side, and the reporter's follow-up page title: every page that
comes back with an error says so first in its title and first in its content, labels are headings only on a
one-question page, the accounts table keeps its column names when stacked, a 403 keeps the staff header, sign-in
names a security code only when one is asked for, and the staff-group list offers one "Not known"."""

from __future__ import annotations

import html
import re
import urllib.parse
from types import SimpleNamespace

import pytest
from flask.testing import FlaskClient
from support.factories import enrolment_path, gen_admin, gen_concern
from support.html import TOTP_SECRET_RE, post_form, signed_in
from support.present import found

TITLE_RE = re.compile(r"<title>(.*?)</title>", re.S)


def _title(page: str) -> str:
    match = TITLE_RE.search(page)
    assert match, "no title"
    return html.unescape(" ".join(match.group(1).split()))


def _main(page: str) -> str:
    return page.split('id="maincontent"', 1)[1]


def _summary_comes_first(page: str) -> bool:
    """The error summary is the first thing in the main content: before the caption and the h1."""
    main = _main(page)
    summary = main.find('class="nhsuk-error-summary"')
    firsts = [i for i in (main.find("<h1"), main.find("nhsuk-caption")) if i >= 0]
    return 0 <= summary < min(firsts)


def _after(client: FlaskClient, response) -> str:
    """The page a form's redirect leads to: every form is answered with a 303, a failed one too (for the shared
    computer)."""
    assert response.status_code == 303, response.status_code
    return client.get(response.location).get_data(as_text=True)


def _token(enrolment_path: str) -> str:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(enrolment_path).query)["token"][0]


# --- 1 and 2. "Error: " in the title, and the error summary first ----------------------------------------------


def test_share_all_with_no_guardian_chosen_says_error_first(signed):
    page = _after(signed, post_form(signed, "/guardian/share", share_with=""))
    assert _title(page).startswith("Error: Share all your cases")
    assert _summary_comes_first(page)


def test_the_accounts_page_with_a_refusal_says_error_first(app):
    admin = gen_admin(app)
    client = signed_in(app, admin)
    page = _after(client, post_form(client, "/admin/", f"/admin/users/{admin.id}/reset-password"))
    assert "You cannot reset your own account" in page
    assert _title(page).startswith("Error: Staff accounts")
    assert _summary_comes_first(page)
    assert not _title(client.get("/admin/").get_data(as_text=True)).startswith("Error")


@pytest.mark.parametrize(
    ("action", "fields"),
    [
        ("/follow-up/case/feedback", {"speak_up_again": ""}),
        ("/follow-up/case/check-in", {"since_closing": ""}),
        ("/follow-up/case/attachments", {}),
        ("/follow-up/case/messages", {"body": ""}),
    ],
)
def test_every_form_on_the_follow_up_page_marks_the_title_when_it_fails(app, action, fields):
    reporter = app.test_client()
    raised = gen_concern(reporter)
    assert post_form(reporter, "/raise", "/follow-up", access_code=raised["access_code"]).status_code == 303
    assert not _title(reporter.get("/follow-up/case").get_data(as_text=True)).startswith("Error")
    title = _title(_after(reporter, post_form(reporter, "/follow-up/case", action, **fields)))
    assert title.startswith("Error: Your concern") and raised["reference"] not in title  # History names no case


@pytest.mark.parametrize(
    ("form_url", "fields"),
    [
        ("/guardian/record", {"what_happened": ""}),
        ("/guardian/account/password", {"current_password": "wrong", "new_password": "short"}),
        ("/guardian/reports", None),
    ],
)
def test_the_other_staff_forms_say_error_first(signed, form_url, fields):
    if fields is None:  # the national return's form is a GET: it answers itself
        response = signed.get("/guardian/reports/national-return.csv", query_string={"quarter": "nonsense"})
        assert response.status_code == 400
        page = response.get_data(as_text=True)
    else:
        page = _after(signed, post_form(signed, form_url, **fields))
    assert _title(page).startswith("Error: ")
    assert _summary_comes_first(page)


def test_a_failed_invitation_says_error_first(app):
    client = signed_in(app, gen_admin(app))
    page = _after(client, post_form(client, "/admin/invite", name="", email="not an address", role=""))
    assert _title(page).startswith("Error: Add an account")
    assert _summary_comes_first(page)


def test_sign_in_and_enrolment_failures_say_error_first(app, client):
    response = post_form(client, "/guardian/sign-in", email="nobody@example.org", password="x", security_code="1")
    page = _after(client, response)
    assert _title(page).startswith("Error: Sign in") and _summary_comes_first(page)

    admin_client = signed_in(app, gen_admin(app))
    created = post_form(admin_client, "/admin/invite", name="Nia New", email="nia@example.org", role="guardian")
    path = enrolment_path(_after(admin_client, created))
    enrolling = app.test_client()
    secret = found(TOTP_SECRET_RE, enrolling.get(path).get_data(as_text=True))
    response = post_form(enrolling, path, "/enrol", token=_token(path), totp_secret=secret, password="a", confirm="b")
    page = _after(enrolling, response)
    assert _title(page).startswith("Error: Set up your account") and _summary_comes_first(page)


# --- 3. A label is a heading only on a one-question page --------------------------------------------------------


def _textarea_labels_outside_headings(page: str) -> dict[str, bool]:
    """Each textarea's id, and whether its label stands on its own (not wrapped in a heading)."""
    found = {}
    for name in re.findall(r'<textarea[^>]*\sid="([^"]+)"', page):
        label = re.search(rf'(<h[1-6][^>]*>)?\s*<label[^>]*for="{re.escape(name)}"', page)
        assert label, f"no label for {name}"
        found[name] = label.group(1) is None
    return found


def test_the_case_page_textarea_labels_are_not_headings(signed):
    raised = gen_concern(signed)
    page = signed.get(f"/guardian/cases/{raised['reference']}").get_data(as_text=True)
    labels = _textarea_labels_outside_headings(page)
    assert "body" in labels, labels  # "Message to the person who raised this" (docs/interface.md)
    assert all(labels.values()), labels
    assert ">Message to the person who raised this</label>" in page


@pytest.mark.parametrize("url", ["/raise", "/guardian/record"])
def test_the_many_question_forms_have_plain_textarea_labels(signed, url):
    labels = _textarea_labels_outside_headings(signed.get(url).get_data(as_text=True))
    assert labels == {"what_happened": True}


def test_a_one_question_page_can_make_the_label_its_h1(app):
    form = SimpleNamespace(field_errors={}, values={})
    template = (
        '{% from "macros.html" import textarea %}{{ textarea(form, "body", "Your message", as_heading=as_heading) }}'
    )
    with app.app_context():
        heading = app.jinja_env.from_string(template).render(form=form, as_heading=True)
        plain = app.jinja_env.from_string(template).render(form=form, as_heading=False)
    label = '<label class="nhsuk-label nhsuk-label--l" for="body">Your message</label>'
    assert f'<h1 class="nhsuk-label-wrapper">{label}</h1>' in heading
    assert "<h1" not in plain and "<h2" not in plain
    assert '<label class="nhsuk-label nhsuk-label--m" for="body">Your message</label>' in plain


# --- 4. The accounts table keeps its column names when stacked -------------------------------------------------


def test_every_accounts_table_cell_carries_its_column_heading(app, guardian):
    client = signed_in(app, gen_admin(app))
    page = client.get("/admin/").get_data(as_text=True)
    table = page.split('<table class="nhsuk-table-responsive" role="table">', 1)[1].split("</table>", 1)[0]
    columns = [html.unescape(name) for name in re.findall(r"<th [^>]*>([^<]+)</th>", table)]
    assert columns == ["Name", "Email", "Role", "Status", "Actions"]
    rows = re.findall(r'<tr class="nhsuk-table__row">(.*?)</tr>', table.split("<tbody", 1)[1], re.S)
    assert len(rows) == 2  # the guardian and the administrator
    for row in rows:
        cells = re.findall(r'<td class="nhsuk-table__cell">(.*?)</td>', row, re.S)
        headings = [
            re.match(r'\s*<span class="nhsuk-table-responsive__heading" aria-hidden="true">([^<]+) </span>', cell)
            for cell in cells
        ]
        assert all(headings), cells
        assert [match.group(1) for match in headings if match] == columns


# --- 5. A 403 keeps the staff header ----------------------------------------------------------------------------


def test_an_administrator_refused_the_board_keeps_the_staff_header(app):
    client = signed_in(app, gen_admin(app))
    response = client.get("/guardian/board")
    page = response.get_data(as_text=True)
    assert response.status_code == 403
    assert "You cannot see this page" in _title(page)
    header = page.split("</header>", 1)[0]
    assert ">Sign out</button>" in header and "Ada Admin" in header
    assert 'href="/admin/">Go to staff accounts</a>' in page


def test_a_guardian_refused_a_case_keeps_the_staff_header(signed):
    response = signed.get("/guardian/cases/SU-NOPE-NOPE")
    page = response.get_data(as_text=True)
    assert response.status_code == 403
    assert ">Sign out</button>" in page.split("</header>", 1)[0]
    assert 'href="/guardian/">Go to your cases</a>' in page


def test_reporters_and_visitors_keep_the_plain_error_page(app, client):
    response = client.get("/no-such-page")
    page = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "Sign out" not in page and "nhsuk-header__account" not in page
    assert 'href="/">Go to the start</a>' in page
    raised = gen_concern(client)
    assert post_form(client, "/raise", "/follow-up", access_code=raised["access_code"]).status_code == 303
    page = client.get("/no-such-page").get_data(as_text=True)
    assert "nhsuk-header__account" not in page and 'href="/">Go to the start</a>' in page


# --- 6. A security code only when MFA is on ---------------------------------------------------------------------


def test_sign_in_errors_name_the_security_code_when_mfa_is_on(client, auth, guardian):
    guardian.password = "not the password at all"
    page = _after(client, auth.sign_in(guardian))
    assert page.count("Enter a correct email address, password and security code") == 2  # summary and field


@pytest.mark.parametrize("app_overrides", [{"REQUIRE_MFA": False}], indirect=True)
def test_without_mfa_the_sign_in_page_never_mentions_a_security_code(app, client, auth, guardian):
    assert "security code" not in client.get("/guardian/sign-in").get_data(as_text=True).lower()
    guardian.password = "not the password at all"
    page = _after(client, auth.sign_in(guardian))
    assert page.count("Enter a correct email address and password") == 2
    assert "security code" not in page.lower()


@pytest.mark.parametrize("app_overrides", [{"REQUIRE_MFA": False}], indirect=True)
def test_without_mfa_enrolment_ends_without_a_security_code(app):
    admin_client = signed_in(app, gen_admin(app))
    created = post_form(admin_client, "/admin/invite", name="Al Admin", email="al@example.org", role="admin")
    path = enrolment_path(_after(admin_client, created))
    password = "a long enough password here"
    enrolling = app.test_client()
    page = _after(
        enrolling, post_form(enrolling, path, "/enrol", token=_token(path), password=password, confirm=password)
    )
    assert "Your account is set up" in page
    assert "security code" not in page.lower()


# --- 7. One "Not known" in the staff-group list -----------------------------------------------------------------


def _worker_group_options(page: str) -> list[tuple[str, str]]:
    select = re.search(r'<select[^>]*id="worker_group".*?</select>', page, re.S)
    assert select, "no staff group select"
    options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)<', select[0])
    return [(value, html.unescape(text)) for value, text in options]


@pytest.mark.parametrize("url", ["/raise", "/guardian/record", "case"])
def test_each_staff_group_select_offers_one_not_known(signed, url):
    if url == "case":
        url = f"/guardian/cases/{gen_concern(signed)['reference']}"
    options = _worker_group_options(signed.get(url).get_data(as_text=True))
    assert [text for _value, text in options if "not known" in text.lower()] == ["Not known"]
    # What each choice stores is unchanged, so the national return counts as before: the list's own answer is
    # "not_known" (its own row), the blank stores nothing ("not recorded").
    assert ("not_known", "Not known") in options
    assert options[0][0] == "" and sum(1 for value, _text in options if value == "") == 1
