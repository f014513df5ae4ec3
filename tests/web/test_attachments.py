"""Attachments: type and size checks, image metadata stripped before sealing, sealed under the case key,
downloaded decrypted by guardians who hold the case key, and never written to disk in plaintext."""

from __future__ import annotations

import html
import io
import os
import re
from dataclasses import dataclass

import pikepdf
import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image, ImageCms, PngImagePlugin
from sqlalchemy import func, select, update
from support.factories import PHONE_MODEL, gen_staff, phone_photo, png_bomb
from support.html import ACCESS_CODE_RE, REFERENCE_RE, case_address, csrf_token, post_form, signed_in
from support.present import found, scalar

from speakup.crypto import sealing
from speakup.domain import files
from speakup.keys import grants
from speakup.ops import audit
from speakup.platform import attachments, imaging
from speakup.platform.models import Attachment, AuditEvent, Case, db

ERROR_RE = re.compile(r'id="attachment-error"><span class="nhsuk-u-visually-hidden">Error:</span> ([^<]+)<')

MAKE, MODEL = "SecretCamCo", "WhistlePhone 9 Pro"
LATITUDE, LONGITUDE = (51.0, 30.0, 26.46), (0.0, 7.0, 39.29)
GPS_IFD = 0x8825


# --- Files made in the test --------------------------------------------------------------------


def photo_exif(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = MAKE  # Make
    exif[0x0110] = MODEL  # Model
    exif[0x0131] = "PhoneOS 17.2"  # Software
    if orientation:
        exif[0x0112] = orientation
    gps = exif.get_ifd(GPS_IFD)
    gps[0x0001] = "N"  # GPSLatitudeRef
    gps[0x0002] = LATITUDE
    gps[0x0003] = "W"  # GPSLongitudeRef
    gps[0x0004] = LONGITUDE
    gps[0x001B] = b"ASCII\x00\x00\x00GPS"  # GPSProcessingMethod
    return exif


def make_jpeg(size: tuple[int, int] = (640, 480), orientation: int | None = None, noise: bool = False) -> bytes:
    if noise:  # incompressible pixels, so the file is larger than the 1 MiB body limit of other forms
        image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    else:
        image = Image.new("RGB", size, (180, 40, 40))
        image.paste((20, 120, 200), (0, 0, size[0] // 2, size[1] // 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95, exif=photo_exif(orientation))
    return out.getvalue()


def make_png() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Nurse Jane Example")
    info.add_text("Location", "Ward 9, bed 4")
    info.add_itxt("Comment", "taken on my own phone")
    out = io.BytesIO()
    Image.new("RGBA", (120, 80), (10, 200, 30, 128)).save(out, "PNG", pnginfo=info, exif=photo_exif())
    return out.getvalue()


def make_pdf(padding: int = 0) -> bytes:
    """A one-page PDF; ``padding`` bytes of comment make it as large as a test needs."""
    return (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
        b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >> endobj\n% "
        + b"x" * padding
        + b"\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    )


# --- Helpers ---------------------------------------------------------------------------------------


@dataclass
class Raised:
    reference: str
    access_code: str


def raise_with_file(
    client: FlaskClient, data: bytes | None, name: str = "photo.jpg", mimetype: str = "image/jpeg", **fields
):
    form = {
        "csrf_token": csrf_token(client, "/raise"),
        "what_happened": "The hoist on ward 9 has been broken for a week.",
        "anonymity": "anonymous",
        **fields,
    }
    if data is not None:
        form["attachment"] = (io.BytesIO(data), name, mimetype)
    return client.post("/raise", data=form, content_type="multipart/form-data", follow_redirects=True)


def came_back(response) -> bool:
    """The raise form came back with errors: its POST was answered with a redirect to the form, and the form
    (with the words kept server-side) was shown."""
    return (
        [r.status_code for r in response.history] == [303]
        and response.request.path == "/raise"
        and response.status_code == 200
    )


def raised_from(response) -> Raised:
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    return Raised(found(REFERENCE_RE, page), found(ACCESS_CODE_RE, page))


def case_count(app: Flask) -> int:
    with app.app_context():
        return scalar(select(func.count(Case.id)))


def stored(app: Flask, reference: str) -> list[Attachment]:
    with app.app_context():
        case_id = scalar(select(Case.id).where(Case.reference == reference))
        rows = files.list_attachments(case_id)
        db.session.expunge_all()
        return rows


def download(browser: FlaskClient, reference: str, uid: str):
    return browser.get(f"/guardian/cases/{reference}/attachments/{uid}")


@pytest.fixture
def reporter(app: Flask) -> FlaskClient:
    return app.test_client()


# --- Photos lose their metadata --------------------------------------------------------------------


def test_photo_gps_and_camera_are_not_in_what_the_guardian_downloads(app, reporter, guardian):
    original = make_jpeg(size=(1280, 960), noise=True)
    # The test photo really carries what must go: GPS position, camera make and model.
    exif = Image.open(io.BytesIO(original)).getexif()
    assert exif.get_ifd(GPS_IFD)[0x0002] == LATITUDE and exif[0x010F] == MAKE
    assert MAKE.encode() in original and MODEL.encode() in original and b"GPS" in original
    assert len(original) > app.config["MAX_CONTENT_LENGTH"]  # so the per-request upload limit is exercised

    raised = raised_from(raise_with_file(reporter, original, name="IMG_2041.jpg"))
    (row,) = stored(app, raised.reference)
    assert row.content_type == "image/jpeg" and row.protocol == sealing.PROTOCOL

    # At rest: neither the name nor any of the bytes, cleaned or not, are readable.
    for secret in (b"IMG_2041", MAKE.encode(), MODEL.encode(), original[2000:2064]):
        assert secret not in row.body_ct and secret not in row.filename_ct

    response = download(signed_in(app, guardian), raised.reference, row.uid)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    # Saved under a neutral name: the phone's own name stays sealed, shown on the case page only (for the shared
    # computer).
    assert response.headers["Content-Disposition"] == "attachment; filename=attachment.jpg"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    got = response.data
    assert len(got) == row.size
    # Metadata lives in the segments before the scan (SOS); the compressed pixels after it are noise, in which
    # three bytes such as "GPS" turn up by chance, so short markers are looked for in the segments only.
    segments = got[: got.index(b"\xff\xda")]
    assert got.endswith(b"\xff\xd9")  # nothing hidden after the end of the image
    for leak in (b"GPS", b"Exif\x00\x00", MAKE.encode(), MODEL.encode(), b"PhoneOS", b"http://ns.adobe.com/xap"):
        assert leak not in segments
    for leak in (MAKE.encode(), MODEL.encode(), b"Exif\x00\x00", b"http://ns.adobe.com/xap"):
        assert leak not in got
    image = Image.open(io.BytesIO(got))
    assert image.format == "JPEG" and image.size == (1280, 960)
    assert len(image.getexif()) == 0 and len(image.getexif().get_ifd(GPS_IFD)) == 0
    assert not {"exif", "icc_profile", "xmp", "comment"} & set(image.info)
    image.load()  # a whole, decodable picture


def test_a_sideways_photo_is_turned_upright_before_its_exif_goes(app, reporter, guardian):
    raised = raised_from(raise_with_file(reporter, make_jpeg(size=(300, 200), orientation=6)))
    (row,) = stored(app, raised.reference)
    image = Image.open(io.BytesIO(download(signed_in(app, guardian), raised.reference, row.uid).data))
    assert image.size == (200, 300)  # orientation 6 is "rotate 90°": applied, since no EXIF will say so now
    assert len(image.getexif()) == 0


def test_png_text_chunks_and_exif_are_dropped(app, reporter, guardian):
    original = make_png()
    assert b"tEXt" in original and b"Nurse Jane" in original and b"eXIf" in original
    raised = raised_from(raise_with_file(reporter, original, name="screen.png", mimetype="image/png"))
    (row,) = stored(app, raised.reference)
    got = download(signed_in(app, guardian), raised.reference, row.uid).data
    for leak in (b"tEXt", b"iTXt", b"zTXt", b"eXIf", b"Nurse Jane", b"Ward 9", MAKE.encode()):
        assert leak not in got
    image = Image.open(io.BytesIO(got))
    assert image.format == "PNG" and isinstance(image, PngImagePlugin.PngImageFile)
    assert image.size == (120, 80) and image.text == {} and len(image.getexif()) == 0
    assert image.convert("RGBA").getpixel((5, 5)) == (10, 200, 30, 128)  # the pixels themselves are kept


def test_a_large_pdf_is_accepted_and_cleaned_and_text_passes_through_unchanged(app, reporter, guardian):
    pdf = make_pdf(padding=2 * 1024 * 1024)  # bigger than the 1 MiB limit of every other form
    raised = raised_from(raise_with_file(reporter, pdf, name="rota.pdf", mimetype="application/pdf"))
    (row,) = stored(app, raised.reference)
    browser = signed_in(app, guardian)
    response = download(browser, raised.reference, row.uid)
    assert response.headers["Content-Type"] == "application/pdf"
    with pikepdf.open(io.BytesIO(response.data)) as cleaned:  # rewritten by pikepdf: the same page
        assert len(cleaned.pages) == 1

    text = "Shift notes: café closed, 2 nurses for 30 beds.\n".encode()
    raised = raised_from(raise_with_file(reporter, text, name="notes.txt", mimetype="text/plain"))
    (row,) = stored(app, raised.reference)
    response = download(browser, raised.reference, row.uid)
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.data == text


def test_uploads_never_go_to_a_temporary_file(app, reporter, monkeypatch):
    """werkzeug spools uploads over 500 KB to a temporary file on disk: an upload here never does."""
    import tempfile

    import werkzeug.formparser

    def no_disk(*args, **kwargs):
        raise AssertionError("a plaintext upload was about to be written to disk")

    monkeypatch.setattr(werkzeug.formparser, "SpooledTemporaryFile", no_disk)
    monkeypatch.setattr(tempfile, "SpooledTemporaryFile", no_disk)
    monkeypatch.setattr(tempfile, "TemporaryFile", no_disk)
    monkeypatch.setattr(tempfile, "NamedTemporaryFile", no_disk)
    raised = raised_from(raise_with_file(reporter, make_jpeg(size=(1280, 960), noise=True)))
    assert len(stored(app, raised.reference)) == 1


# --- Refused files: nothing raised, the words kept -----------------------------------------------------


REFUSED = {
    "exe named .jpg": (
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + os.urandom(2000),
        "photo.jpg",
        "image/jpeg",
    ),
    "exe": (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + bytes(2000), "setup.exe", "application/x-msdownload"),
    "html named .jpg": (b"<!DOCTYPE html><html><script>alert(1)</script></html>", "photo.jpg", "image/jpeg"),
    "html named .txt": (b"  <html><body onload=alert(1)>hi</body></html>", "notes.txt", "text/plain"),
    "svg": (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "a.svg", "image/svg+xml"),
    "text claiming to be a photo": (b"just some words", "photo.jpg", "image/jpeg"),
    "gif": (b"GIF89a\x01\x00\x01\x00\x80\x00\x00" + bytes(20), "a.gif", "image/gif"),
    "broken jpeg": (b"\xff\xd8\xff\xe0" + os.urandom(500), "broken.jpg", "image/jpeg"),
}


@pytest.mark.parametrize("kind", list(REFUSED))
def test_a_disallowed_file_is_refused_next_to_the_field_and_nothing_is_raised(app, reporter, kind):
    data, name, mimetype = REFUSED[kind]
    words = "Words I typed & must not lose <3"
    response = raise_with_file(reporter, data, name=name, mimetype=mimetype, what_happened=words)
    page = response.get_data(as_text=True)
    assert came_back(response)
    message = html.unescape(found(ERROR_RE, page))
    assert message.startswith(("The file must be a JPEG, PNG, PDF or plain text (.txt) file", "We could not read"))
    assert 'class="nhsuk-form-group nhsuk-file-upload nhsuk-form-group--error"' in page
    assert html.escape(words, quote=False) in page  # the words come back in the textarea
    assert case_count(app) == 0


def test_an_oversized_file_is_refused_next_to_the_field_and_nothing_is_raised(app, reporter):
    limit = app.config["ATTACHMENT_MAX_BYTES"]
    assert limit == 10 * 1024 * 1024  # the default
    response = raise_with_file(reporter, make_pdf(padding=limit), name="big.pdf", mimetype="application/pdf")
    page = response.get_data(as_text=True)
    assert came_back(response)
    assert found(ERROR_RE, page) == "The file must be smaller than 10 MB"
    assert "The hoist on ward 9 has been broken for a week." in page
    assert case_count(app) == 0
    # A file of exactly the limit is fine.
    exact = make_pdf(padding=limit - len(make_pdf()))
    assert len(exact) == limit
    assert raise_with_file(reporter, exact, name="big.pdf", mimetype="application/pdf").status_code == 200


def test_an_empty_file_is_refused(app, reporter):
    response = raise_with_file(reporter, b"", name="empty.txt", mimetype="text/plain")
    assert came_back(response)
    assert found(ERROR_RE, response.get_data(as_text=True)) == "The file you chose is empty"
    assert case_count(app) == 0


def test_concern_and_file_errors_are_shown_together(app, reporter):
    data, name, mimetype = REFUSED["exe"]
    response = raise_with_file(reporter, data, name=name, mimetype=mimetype, what_happened="", anonymity="")
    page = response.get_data(as_text=True)
    assert came_back(response)
    assert 'id="what_happened-error"' in page and 'id="anonymity-error"' in page and 'id="attachment-error"' in page
    assert case_count(app) == 0


def test_a_good_file_with_a_bad_concern_asks_for_the_file_again(app, reporter):
    response = raise_with_file(reporter, make_pdf(), name="rota.pdf", mimetype="application/pdf", what_happened="")
    page = response.get_data(as_text=True)
    assert came_back(response)
    assert 'id="attachment-again"' in page and 'id="attachment-error"' not in page
    assert case_count(app) == 0


def test_raising_without_a_file_still_works_and_stores_none(app, reporter):
    raised = raised_from(raise_with_file(reporter, None))
    assert stored(app, raised.reference) == []
    # The empty part a browser sends when no file was chosen is not a file either.
    raised = raised_from(raise_with_file(reporter, b"", name="", mimetype="application/octet-stream"))
    assert stored(app, raised.reference) == []


def test_the_raise_form_offers_the_file_field_with_its_warning(client):
    page = client.get("/raise").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page
    assert 'for="attachment">Attach a file (optional)</label>' in page
    assert 'type="file"' in page and 'accept="image/jpeg,image/png,application/pdf,text/plain,' in page
    assert "A JPEG, PNG, PDF or plain text (.txt) file, up to 10 MB." in page
    assert "A photo can identify you." in page


def test_a_form_without_the_csrf_token_is_refused_even_with_a_file(app, reporter):
    response = reporter.post(
        "/raise",
        data={"what_happened": "Old words", "anonymity": "anonymous", "attachment": (io.BytesIO(make_pdf()), "a.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303 and response.location == "/raise"
    assert "Old words" not in response.get_data(as_text=True)  # never echoed (for the shared computer)
    assert "Old words" not in reporter.get("/raise").get_data(as_text=True)
    assert case_count(app) == 0


# --- Sealed under the case key ---------------------------------------------------------------------


def _open_case(app: Flask, raised: Raised) -> tuple[Case, bytes]:
    return grants.open_with_access_code(raised.access_code, app.config["TOKEN_PEPPER_BYTES"])


def test_an_attachment_cannot_be_moved_to_another_case_or_swapped(app, reporter):
    first = raised_from(raise_with_file(reporter, make_pdf(), name="first.pdf", mimetype="application/pdf"))
    second = raised_from(raise_with_file(reporter, b"second file", name="second.txt", mimetype="text/plain"))
    with app.app_context():
        case_a, key_a = _open_case(app, first)
        case_b, _key_b = _open_case(app, second)
        (row,) = files.list_attachments(case_a.id)
        stored = files.open_attachment(case_a, key_a, row.uid).data
        with pikepdf.open(io.BytesIO(stored)) as pdf:  # cleaned (speakup/platform/pdfs.py), the same one page
            assert len(pdf.pages) == 1

        # Moved to another case: even with the right key, the associated data no longer matches.
        db.session.execute(update(Attachment).where(Attachment.id == row.id).values(case_id=case_b.id))
        db.session.commit()
        with pytest.raises(sealing.DecryptionError):
            files.open_attachment(case_b, key_a, row.uid)
        with pytest.raises(files.AttachmentNotFound):
            files.open_attachment(case_a, key_a, row.uid)
        db.session.execute(update(Attachment).where(Attachment.id == row.id).values(case_id=case_a.id))
        db.session.commit()

        # A second file of the same case: swapping bodies, or a name for a body, is detected.
        other = files.store_clean(case_a, key_a, attachments.check_file("other.txt", b"other words", "text/plain"))
        body_a, body_other = row.body_ct, other.body_ct
        db.session.execute(update(Attachment).where(Attachment.id == row.id).values(body_ct=body_other))
        db.session.commit()
        with pytest.raises(sealing.DecryptionError):
            files.open_attachment(case_a, key_a, row.uid)
        db.session.execute(update(Attachment).where(Attachment.id == row.id).values(body_ct=row.filename_ct))
        db.session.commit()
        with pytest.raises(sealing.DecryptionError):
            files.open_attachment(case_a, key_a, row.uid)
        db.session.execute(update(Attachment).where(Attachment.id == row.id).values(body_ct=body_a))
        db.session.commit()
        assert files.open_attachment(case_a, key_a, row.uid).filename == "first.pdf"


def test_only_a_guardian_holding_the_case_key_can_download(app, reporter, guardian):
    raised = raised_from(raise_with_file(reporter, make_jpeg()))
    other_case = raised_from(raise_with_file(reporter, make_pdf(), name="a.pdf", mimetype="application/pdf"))
    (row,) = stored(app, raised.reference)
    (other_row,) = stored(app, other_case.reference)
    newcomer = gen_staff(app, email="new@example.org", name="Nina Newcomer")  # no grant: joined after raising

    response = download(signed_in(app, newcomer), raised.reference, row.uid)
    assert response.status_code == 403
    assert MAKE.encode() not in response.data

    browser = signed_in(app, guardian)
    assert download(browser, raised.reference, "0" * 32).status_code == 404
    assert download(browser, raised.reference, other_row.uid).status_code == 404  # not this case's file
    assert app.test_client().get(f"/guardian/cases/{raised.reference}/attachments/{row.uid}").status_code == 302

    with app.app_context():
        exports = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == audit.Action.EXPORT).order_by(AuditEvent.id)
        ).all()
        assert exports == []  # refused downloads are not exports
    assert download(browser, raised.reference, row.uid).status_code == 200
    with app.app_context():
        (event,) = db.session.scalars(select(AuditEvent).where(AuditEvent.action == audit.Action.EXPORT)).all()
        assert event.actor_id == guardian.id
        assert audit.detail_of(event) == {"reason": "attachment", "format": "image/jpeg"}
        assert audit.check_chain().broken is None


def test_the_guardian_case_page_lists_files_with_download_links(app, reporter, guardian):
    raised = raised_from(
        raise_with_file(reporter, make_pdf(), name="../../etc/Ward rota.pdf", mimetype="application/pdf")
    )
    (row,) = stored(app, raised.reference)
    page = signed_in(app, guardian).get(f"/guardian/cases/{raised.reference}").get_data(as_text=True)
    # The download link names the case by its id, never its reference (History keeps addresses).
    link = f'href="{case_address(app, raised.reference)}/attachments/{row.uid}"'
    assert link in page and ">Ward rota.pdf</a> (PDF, " in page
    assert 'href="/guardian/cases/SU-' not in page


# --- Adding a file later, from the follow-up page ----------------------------------------------------


def test_the_reporter_can_add_a_file_from_the_follow_up_page(app, reporter, guardian):
    raised = raised_from(raise_with_file(reporter, None))
    assert post_form(reporter, "/raise", "/follow-up", access_code=raised.access_code).status_code == 303
    page = reporter.get("/follow-up/case").get_data(as_text=True)
    assert "You have not added any files." in page
    assert 'action="/follow-up/case/attachments" enctype="multipart/form-data"' in page

    token = csrf_token(reporter, "/follow-up/case")
    response = reporter.post(
        "/follow-up/case/attachments",
        data={"csrf_token": token, "attachment": (io.BytesIO(make_jpeg()), "later photo.jpg", "image/jpeg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303 and response.headers["Location"].endswith("/follow-up/case#files")
    page = reporter.get("/follow-up/case").get_data(as_text=True)
    assert "later photo.jpg (JPEG, " in page
    assert "/attachments/" not in page.split('id="files"')[1].split("</ul>")[0]  # names only, no downloads

    (row,) = stored(app, raised.reference)
    got = download(signed_in(app, guardian), raised.reference, row.uid).data
    assert MAKE.encode() not in got and len(Image.open(io.BytesIO(got)).getexif()) == 0


def test_a_refused_file_on_the_follow_up_page_shows_why(app, reporter):
    raised = raised_from(raise_with_file(reporter, None))
    post_form(reporter, "/raise", "/follow-up", access_code=raised.access_code)
    for data, name, message in (
        (None, None, "Choose a file to add"),
        (REFUSED["html named .jpg"][0], "photo.jpg", "The file must be a JPEG, PNG, PDF or plain text (.txt) file"),
    ):
        form: dict[str, object] = {"csrf_token": csrf_token(reporter, "/follow-up/case")}
        if data is not None:
            form["attachment"] = (io.BytesIO(data), name, "image/jpeg")
        response = reporter.post("/follow-up/case/attachments", data=form, content_type="multipart/form-data")
        assert response.status_code == 303 and response.location == "/follow-up/case#files"
        page = reporter.get(response.location).get_data(as_text=True)
        assert html.unescape(found(ERROR_RE, page)) == message
    assert stored(app, raised.reference) == []


def test_adding_a_file_needs_an_open_follow_up_session(app, reporter):
    raised = raised_from(raise_with_file(reporter, None))
    token = csrf_token(reporter, "/follow-up")
    response = reporter.post(
        "/follow-up/case/attachments",
        data={"csrf_token": token, "attachment": (io.BytesIO(make_pdf()), "a.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303 and response.location == "/follow-up"
    assert "You were signed out" in reporter.get("/follow-up").get_data(as_text=True)
    assert stored(app, raised.reference) == []


def test_a_case_holds_a_limited_number_of_files(app, reporter, monkeypatch):
    monkeypatch.setattr(files, "MAX_FILES_PER_CASE", 2)
    raised = raised_from(raise_with_file(reporter, make_pdf(), name="a.pdf", mimetype="application/pdf"))
    with app.app_context():
        case, key = _open_case(app, raised)
        files.store_clean(case, key, attachments.check_file("b.txt", b"b", "text/plain"))
        db.session.commit()  # each file is a request of its own
        with pytest.raises(attachments.AttachmentRefused):
            files.store_clean(case, key, attachments.check_file("c.txt", b"c", "text/plain"))
    assert len(stored(app, raised.reference)) == 2


# --- Rules in the domain -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content_type", "expected"),
    [
        ("photo.JPG", "image/jpeg", "photo.jpg"),
        ("../../etc/passwd", "text/plain", "passwd.txt"),
        ("C:\\Users\\jane.doe\\Desktop\\rota.pdf", "application/pdf", "rota.pdf"),
        ("invoice\u202egpj.exe", "application/pdf", "invoicegpj.exe.pdf"),  # no right-to-left override
        ("picture.png", "image/jpeg", "picture.jpg"),  # the extension follows the contents
        ("notes.md", "text/plain", "notes.md.txt"),
        ('a<b>:"c"|?*.txt', "text/plain", "a_b___c____.txt"),
        ("", "image/png", "attachment.png"),
        ("...", "image/png", "attachment.png"),
        ("x" * 300 + ".pdf", "application/pdf", "x" * 96 + ".pdf"),
    ],
)
def test_filenames_are_cleaned(name, content_type, expected):
    cleaned = attachments.clean_filename(name, content_type)
    assert cleaned == expected
    assert len(cleaned) <= attachments.MAX_FILENAME_CHARS


def test_types_are_judged_by_their_bytes():
    assert attachments.sniff(make_jpeg()) == "image/jpeg"
    assert attachments.sniff(make_png()) == "image/png"
    assert attachments.sniff(make_pdf()) == "application/pdf"
    assert attachments.sniff("Plain words, ünïcode too\r\n\tand tabs".encode()) == "text/plain"
    assert attachments.sniff(b"\xef\xbb\xbfwith a byte order mark") == "text/plain"
    for not_allowed in (b"MZ\x90\x00", b"\x00\x01binary", b"\xff\xfe\x00", b"<html>", b"\n <SCRIPT src=x>", b"<?xml v"):
        assert attachments.sniff(not_allowed) is None


@pytest.mark.parametrize("app_overrides", [{"ATTACHMENT_TYPES": ["image/jpeg", "image/png"]}])
def test_the_allowed_types_come_from_config(app, reporter):
    response = raise_with_file(reporter, make_pdf(), name="a.pdf", mimetype="application/pdf")
    assert came_back(response)
    assert found(ERROR_RE, response.get_data(as_text=True)) == "The file must be a JPEG or PNG file"
    assert "A JPEG or PNG file, up to 10 MB." in reporter.get("/raise").get_data(as_text=True)
    assert raise_with_file(reporter, make_jpeg()).status_code == 200


def test_an_enormous_picture_is_refused_before_it_is_decoded(app):
    out = io.BytesIO()
    Image.new("L", (10_000, 6_000)).save(out, "PNG")  # 60 megapixels of nothing: a tiny file
    with app.app_context(), pytest.raises(attachments.AttachmentRefused) as refused:
        attachments.check_file("big.png", out.getvalue(), "image/png")
    assert "too large" in refused.value.errors["attachment"]


def _picture(mode: str, fmt: str, **save) -> bytes:
    image = Image.new(mode, (40, 30))
    if mode == "P":
        image.putpalette([i % 256 for i in range(768)])
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (_picture("L", "JPEG", exif=photo_exif()), "image/jpeg"),
        (_picture("CMYK", "JPEG", exif=photo_exif()), "image/jpeg"),
        (_picture("RGB", "JPEG", exif=photo_exif(), icc_profile=SRGB, comment=b"Jane's phone"), "image/jpeg"),
        (_picture("RGB", "JPEG", progressive=True, exif=photo_exif(orientation=8)), "image/jpeg"),
        (_picture("P", "PNG", transparency=0, exif=photo_exif()), "image/png"),
        (_picture("LA", "PNG", exif=photo_exif()), "image/png"),
        (_picture("I;16", "PNG", exif=photo_exif()), "image/png"),
        (_picture("1", "PNG"), "image/png"),
        (_picture("RGBA", "PNG", icc_profile=SRGB, exif=photo_exif()), "image/png"),
    ],
)
def test_every_common_kind_of_picture_comes_out_clean(app, data, content_type):
    with app.app_context():
        clean = attachments.check_file("picture", data, content_type)
    assert clean.content_type == content_type
    image = Image.open(io.BytesIO(clean.data))
    image.load()
    assert len(image.getexif()) == 0 and not {"exif", "icc_profile", "comment", "xmp"} & set(image.info)
    assert sorted(image.size) == [30, 40]
    assert MAKE.encode() not in clean.data and b"Jane" not in clean.data


# --- Image bombs -------------------------------------------------------------------------------


def test_a_twelve_megapixel_phone_photo_is_accepted_and_cleaned(app):
    with app.app_context():
        clean = attachments.check_file("IMG_0001.jpg", phone_photo(), "image/jpeg")
    with Image.open(io.BytesIO(clean.data)) as cleaned:
        assert cleaned.size == (4000, 3000)
        assert len(cleaned.getexif()) == 0
    assert PHONE_MODEL.encode() not in clean.data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (lambda: png_bomb(7000, 7000), "The picture is too large (7000 × 7000 pixels)"),
        (lambda: png_bomb(3000, 3000), "it unpacks to far more than its size"),  # 36 MB of pixels from 40 KB
    ],
    ids=["over the decoded-size limit", "implausible compression"],
)
def test_a_decompression_bomb_is_refused_before_it_is_decoded(app, monkeypatch, data, message):
    decoded = []
    monkeypatch.setattr(imaging, "_pixels_only", lambda *args: decoded.append(1))
    with app.app_context(), pytest.raises(attachments.AttachmentRefused) as refused:
        attachments.check_file("bomb.png", data(), "image/png")
    assert message in refused.value.errors["attachment"]
    assert decoded == []  # never decoded


def test_pictures_are_decoded_one_at_a_time_per_worker(app, monkeypatch):
    import threading
    import time

    inside, most = [0], [0]
    lock = threading.Lock()
    real = imaging._pixels_only

    def counting(*args):
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.05)
        try:
            return real(*args)
        finally:
            with lock:
                inside[0] -= 1

    monkeypatch.setattr(imaging, "_pixels_only", counting)
    photo = make_jpeg()

    def clean() -> None:
        with app.app_context():
            attachments.check_file("photo.jpg", photo, "image/jpeg")

    threads = [threading.Thread(target=clean) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most[0] == 1


# --- PDFs --------------------------------------------------------------------------------------

SECRET_AUTHOR = "Nurse Jane Example, ward 9"


def crafted_pdf(*, info=False, xmp=False, scripts=False, embedded=False, bomb_mib=0, password=None) -> bytes:
    """A one-page PDF carrying what a reporter's file might: their name in its metadata, scripts, an embedded file,
    or a stream that unpacks to ``bomb_mib`` MiB."""
    pdf = pikepdf.new()
    pdf.add_blank_page()
    if info:
        pdf.docinfo["/Author"] = SECRET_AUTHOR
        pdf.docinfo["/Producer"] = "Ward PC Word 2016"
    if xmp:
        with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
            meta["dc:creator"] = [SECRET_AUTHOR]
    if scripts:
        js = pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert('opened by ' + 'JS-MARKER');"))
        pdf.Root.OpenAction = pdf.make_indirect(js)
        tree = pikepdf.Dictionary(Names=pikepdf.Array([pikepdf.String("hello"), pdf.make_indirect(js)]))
        pdf.Root.Names = pikepdf.Dictionary(JavaScript=tree)
        launch = pikepdf.Dictionary(S=pikepdf.Name.Launch, F=pikepdf.String("calc.exe"))
        link = pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[0, 0, 100, 100], A=launch)
        pdf.pages[0].obj.Annots = pdf.make_indirect(pikepdf.Array([pdf.make_indirect(link)]))
    if embedded:
        attached = pikepdf.AttachedFileSpec(pdf, b"EMBEDDED-MARKER rota with names", filename="rota.txt")
        pdf.attachments["rota.txt"] = attached
    if bomb_mib:
        import zlib

        packer = zlib.compressobj(9)
        zeros = b"\x00" * 2**20
        raw = b"".join(packer.compress(zeros) for _ in range(bomb_mib)) + packer.flush()
        stream = pikepdf.Stream(pdf, raw)
        stream.Filter = pikepdf.Name.FlateDecode
        pdf.Root.Bomb = pdf.make_indirect(stream)
    out = io.BytesIO()
    encryption = pikepdf.Encryption(user=password, owner=password) if password else None
    pdf.save(out, compress_streams=False, encryption=encryption)
    return out.getvalue()


def test_a_pdf_loses_what_could_name_the_reporter_or_run_and_they_are_told(app, reporter, guardian):
    pdf = crafted_pdf(info=True, xmp=True, scripts=True, embedded=True)
    for marker in (SECRET_AUTHOR.encode(), b"JS-MARKER", b"calc.exe", b"EMBEDDED-MARKER"):
        assert marker in pdf
    response = raise_with_file(reporter, pdf, name="statement.pdf", mimetype="application/pdf")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    told = found(r'<div class="nhsuk-inset-text" id="file-cleaned">\s*<p>(.*?)</p>', page, re.S)
    for what in ("document information", "XMP metadata", "scripts and actions", "files embedded in it"):
        assert what in told
    raised = raised_from(response)
    (row,) = stored(app, raised.reference)
    data = download(signed_in(app, guardian), raised.reference, row.uid).data
    for marker in (SECRET_AUTHOR.encode(), b"JS-MARKER", b"calc.exe", b"EMBEDDED-MARKER", b"Ward PC Word"):
        assert marker not in data
    with pikepdf.open(io.BytesIO(data)) as cleaned:
        assert len(cleaned.pages) == 1
        assert "/OpenAction" not in cleaned.Root and "/Metadata" not in cleaned.Root and "/Names" not in cleaned.Root
        assert "/Info" not in cleaned.trailer and len(cleaned.attachments) == 0
        assert all("/A" not in annotation for annotation in cleaned.pages[0].obj.get("/Annots", []))


def test_a_clean_pdf_tells_the_reporter_nothing(reporter):
    page = raise_with_file(reporter, crafted_pdf(), name="rota.pdf", mimetype="application/pdf").get_data(as_text=True)
    assert 'id="file-cleaned"' not in page


def test_a_pdf_added_on_the_follow_up_page_says_what_was_removed(app, reporter):
    raised = raised_from(raise_with_file(reporter, None))
    post_form(reporter, "/raise", "/follow-up", access_code=raised.access_code)
    response = reporter.post(
        "/follow-up/case/attachments",
        data={"csrf_token": csrf_token(reporter, "/follow-up/case"),
              "attachment": (io.BytesIO(crafted_pdf(info=True)), "late.pdf", "application/pdf")},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert response.status_code == 303
    page = reporter.get("/follow-up/case").get_data(as_text=True)
    assert "we removed from your PDF: its document information" in page
    assert "we removed from your PDF" not in reporter.get("/follow-up/case").get_data(as_text=True)  # told once


@pytest.mark.parametrize(
    ("pdf", "message"),
    [
        pytest.param(
            lambda: crafted_pdf(bomb_mib=1024), "it unpacks to far more than its size", marks=pytest.mark.thorough
        ),
        (lambda: crafted_pdf(password="a secret"), "This PDF is protected by a password"),
        (lambda: b"%PDF-1.7\n" + os.urandom(2000), "We could not read this PDF"),
    ],
    ids=["1 GiB Flate stream", "password", "damaged"],
)
def test_a_pdf_that_cannot_be_cleaned_is_refused_by_the_field_with_the_words_kept(app, reporter, pdf, message):
    data = pdf()
    assert len(data) < 2 * 2**20  # a 1 GiB bomb is only about a megabyte on the wire
    response = raise_with_file(reporter, data, name="bomb.pdf", mimetype="application/pdf")
    page = response.get_data(as_text=True)
    assert came_back(response)
    assert 'id="attachment-error"' in page and message in page
    assert "The hoist on ward 9 has been broken for a week." in page
    with app.app_context():
        assert db.session.scalar(select(func.count(Attachment.id))) == 0
