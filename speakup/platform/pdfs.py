"""Cleaning a reporter's PDF before it is sealed: what could name them, or run when a guardian opens it, is removed.

A PDF can carry its author and the software that made it (document information and XMP metadata), scripts that run
when it opens or when something on a page is clicked, and whole other files. The reporter is told what was taken
out. A compressed stream that would unpack to more than ATTACHMENT_MAX_DECODED_MIB (a "decompression bomb") is
refused before anything is unpacked for real: each stream is inflated in small pieces, counted, and given up on
as soon as the total passes the limit.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass

import pikepdf
from flask import current_app

from speakup.platform.translation import gettext as _

# What a reporter reads after "We removed from your PDF:".
DOCUMENT_INFO = "its document information (such as author, title and the software that made it)"
XMP = "its XMP metadata"
SCRIPTS = "scripts and actions that run when it is opened or clicked"
EMBEDDED = "files embedded in it"
FORMS = "an XFA form"

_ACTIONS_THAT_RUN = {"/JavaScript", "/Launch", "/ImportData", "/SubmitForm", "/Rendition", "/GoToE"}
_CHUNK = 1 << 16


class PdfRefused(Exception):
    """The PDF cannot be used; the message says why, in words for the reporter."""


@dataclass(frozen=True)
class CleanPdf:
    data: bytes
    removed: tuple[str, ...]


def clean_pdf(data: bytes) -> CleanPdf:
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            _refuse_bombs(pdf)
            removed = _strip(pdf)
            out = io.BytesIO()
            pdf.save(out, fix_metadata_version=False, deterministic_id=True)
    except pikepdf.PasswordError as exc:
        raise PdfRefused(_("This PDF is protected by a password: send a copy without one")) from exc
    except (pikepdf.PdfError, ValueError, RecursionError) as exc:
        raise PdfRefused(_("We could not read this PDF. It may be damaged: try another file")) from exc
    return CleanPdf(out.getvalue(), tuple(removed))


def _refuse_bombs(pdf: pikepdf.Pdf) -> None:
    budget = int(current_app.config["ATTACHMENT_MAX_DECODED_MIB"]) * 2**20
    for obj in pdf.objects:
        if not isinstance(obj, pikepdf.Stream) or not _is_flate(obj):
            continue
        budget -= _inflated_size(obj.read_raw_bytes(), budget)
        if budget < 0:
            raise PdfRefused(_("We could not use this PDF: it unpacks to far more than its size. Send a smaller file"))


def _is_flate(stream: pikepdf.Stream) -> bool:
    filters = stream.get("/Filter")
    names = [filters] if isinstance(filters, pikepdf.Name) else list(filters or [])
    return any(str(name) in ("/FlateDecode", "/Fl") for name in names)


def _inflated_size(raw: bytes, limit: int) -> int:
    """How many bytes ``raw`` inflates to, stopping (and returning more than ``limit``) once past ``limit``."""
    inflater = zlib.decompressobj()
    total, pending = 0, raw
    while pending and total <= limit:
        try:
            piece = inflater.decompress(pending, _CHUNK)
        except zlib.error:
            return total  # damaged or not really Flate: qpdf will judge it when it saves
        total += len(piece)
        pending = inflater.unconsumed_tail
        if not piece and not pending:
            break
    return total


def _strip(pdf: pikepdf.Pdf) -> list[str]:
    removed: list[str] = []

    def note(what: str) -> None:
        if what not in removed:
            removed.append(what)

    _drop(pdf.trailer, "/Info", DOCUMENT_INFO, note)
    root = pdf.Root
    # /AF: PDF 2.0's associated files
    for key, what in (("/Metadata", XMP), ("/OpenAction", SCRIPTS), ("/AA", SCRIPTS), ("/AF", EMBEDDED)):
        _drop(root, key, what, note)
    names = root.get("/Names")
    if isinstance(names, pikepdf.Dictionary):
        _drop(names, "/JavaScript", SCRIPTS, note)
        _drop(names, "/EmbeddedFiles", EMBEDDED, note)
        if not names.keys():
            del root["/Names"]
    form = root.get("/AcroForm")
    if isinstance(form, pikepdf.Dictionary):
        _drop(form, "/XFA", FORMS, note)
    for page in pdf.pages:
        _strip_page(page.obj, note)
    # Anything left anywhere (a form field's or an outline's action, a stream's own metadata).
    for obj in pdf.objects:
        if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
            _strip_object(obj, note)
    return removed


def _drop(container: pikepdf.Object, key: str, what: str, note) -> None:
    if key in container:
        del container[key]
        note(what)


def _strip_page(page: pikepdf.Dictionary, note) -> None:
    if "/AA" in page:
        del page["/AA"]
        note(SCRIPTS)
    annotations = page.get("/Annots")
    if not isinstance(annotations, pikepdf.Array):
        return
    kept = pikepdf.Array()
    for annotation in annotations:
        if isinstance(annotation, pikepdf.Dictionary) and annotation.get("/Subtype") == "/FileAttachment":
            note(EMBEDDED)
            continue
        kept.append(annotation)
    page["/Annots"] = kept


def _strip_object(obj: pikepdf.Object, note) -> None:
    if "/AA" in obj:
        del obj["/AA"]
        note(SCRIPTS)
    action = obj.get("/A")
    if isinstance(action, pikepdf.Dictionary) and str(action.get("/S")) in _ACTIONS_THAT_RUN:
        del obj["/A"]
        note(SCRIPTS)
    if str(obj.get("/S")) in _ACTIONS_THAT_RUN:
        # An action object on its own (reached from /Next, an outline, a name tree): made inert.
        for key in list(obj.keys()):
            if key != "/Type":
                del obj[key]
        obj["/S"] = pikepdf.Name("/Named")
        obj["/N"] = pikepdf.Name("/Removed")  # an unknown named action: viewers do nothing
        note(SCRIPTS)
    if "/JS" in obj:
        del obj["/JS"]
        note(SCRIPTS)
    if "/Metadata" in obj and obj.get("/Type") != "/Catalog":
        del obj["/Metadata"]
        note(XMP)
    if obj.get("/Type") in ("/EmbeddedFile", "/Filespec") and "/EF" in obj:
        del obj["/EF"]
        note(EMBEDDED)
