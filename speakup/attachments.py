"""Files a reporter attaches to a concern: checked, cleaned of metadata, and sealed under the case key.

A file's type is decided by what its bytes are (magic numbers), never by its name or the type the
browser declared. Pictures are decoded and drawn again into a fresh image, so EXIF (GPS position,
camera make and serial, time), XMP, IPTC, comments, text chunks and colour profiles never reach the
database; PDFs and plain text are kept as sent. The file's name and bytes are sealed under the case
key with associated data binding the case, the field and the attachment, so a ciphertext cannot be
moved to another case or swapped with another file. Everything happens in memory: no temporary file
ever holds a plaintext upload.
"""

from __future__ import annotations

import io
import logging
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from flask import current_app
from PIL import Image, ImageCms, ImageOps
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from . import audit, cases, crypto, keyring, pdfs
from .cases import ConcernInput, InvalidInput, RaisedConcern
from .models import Attachment, Case, db, utcnow

log = logging.getLogger(__name__)

FIELD = "attachment"
JPEG, PNG, PDF, TEXT = "image/jpeg", "image/png", "application/pdf", "text/plain"
# The types this module can recognise and clean. ATTACHMENT_TYPES (config) chooses among them.
SUPPORTED = (JPEG, PNG, PDF, TEXT)
LABELS = {JPEG: "JPEG", PNG: "PNG", PDF: "PDF", TEXT: "plain text (.txt)"}
EXTENSIONS = {JPEG: (".jpg", ".jpeg"), PNG: (".png",), PDF: (".pdf",), TEXT: (".txt",)}
MAX_FILENAME_CHARS = 100
# A picture is decoded in memory before it is cleaned: 50 megapixels is a large phone photo, and
# caps what one upload can cost (about 150 MB while it is drawn again).
MAX_IMAGE_PIXELS = 50_000_000
SMALLER = "Send a smaller photo or a screenshot"
# Enough for any concern, and a cap on what one reporter session can store.
MAX_FILES_PER_CASE = 20
JPEG_QUALITY = 92

_MAGIC = ((b"\xff\xd8\xff", JPEG), (b"\x89PNG\r\n\x1a\n", PNG), (b"%PDF-", PDF))
# What browsers treat as HTML or XML when they sniff (WHATWG MIME sniffing), refused as "text".
_MARKUP = re.compile(
    r"\s*<(?:!doctype\s+html|html|head|body|script|iframe|style|title|table|div|font|h1|a|b|br|p|svg|\?xml|!--)"
    r"(?:[\s>/]|$)",
    re.IGNORECASE,
)
# Control characters other than tab, line feed, form feed and carriage return mean "not text".
_BINARY = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
# A text file whose name or declared type says it is a picture, a PDF or a web page is not what it
# claims (for example a web page renamed photo.jpg), and is refused rather than kept as text.
_CLAIMED_TYPES = (
    "image/",
    "video/",
    "audio/",
    "application/pdf",
    "text/html",
    "application/xhtml",
    "text/xml",
    "application/xml",
)
_CLAIMED_EXTENSIONS = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".png",
        ".pdf",
        ".gif",
        ".webp",
        ".heic",
        ".tif",
        ".tiff",
        ".bmp",
        ".svg",
        ".html",
        ".htm",
        ".xhtml",
        ".xml",
    }
)
# Keys Pillow fills from metadata blocks; none may survive cleaning.
_METADATA_KEYS = frozenset({"exif", "icc_profile", "xmp", "XML:com.adobe.xmp", "comment", "photoshop", "adobe"})
_PNG_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "RGB", "RGBA"})
_RESERVED = re.compile(r'[<>:"|?*]')


class AttachmentRefused(InvalidInput):
    """The file breaks a rule (type, size, count). ``errors`` maps the file field to the reason."""

    def __init__(self, message: str):
        super().__init__({FIELD: message})


class AttachmentNotFound(Exception):
    """No attachment with that id belongs to this case."""


@dataclass(frozen=True)
class CleanFile:
    """A checked upload, metadata already stripped, ready to be sealed. Lives only in memory."""

    filename: str
    content_type: str
    data: bytes
    removed: tuple[str, ...] = ()  # what cleaning took out of a PDF, told to the reporter

    @property
    def removed_text(self) -> str:
        return "; ".join(self.removed)


@dataclass(frozen=True)
class AttachmentView:
    uid: str
    filename: str
    content_type: str
    size: int
    created_at: datetime

    @property
    def size_text(self) -> str:
        return size_text(self.size)

    @property
    def type_label(self) -> str:
        return LABELS.get(self.content_type, "File")


class OpenedAttachment(NamedTuple):
    filename: str
    content_type: str
    data: bytes


# --- Limits, as people read them -----------------------------------------------------------


def size_text(size: int) -> str:
    if size >= 1024 * 1024:
        value = size / (1024 * 1024)
        return f"{value:.0f} MB" if value >= 10 or value.is_integer() else f"{value:.1f} MB"
    if size >= 1024:
        return f"{size // 1024} KB"
    return f"{size} bytes"


def allowed_types() -> tuple[str, ...]:
    """The configured types this module can check; anything else in the setting is ignored."""
    configured = current_app.config["ATTACHMENT_TYPES"]
    return tuple(t for t in SUPPORTED if t in configured)


def max_bytes() -> int:
    return int(current_app.config["ATTACHMENT_MAX_BYTES"])


def limits_text() -> str:
    """For the hint next to a file field, such as "A JPEG, PNG, PDF or plain text (.txt) file, up to 10 MB"."""
    return f"A {_type_names()} file, up to {size_text(max_bytes())}."


def accept_attribute() -> str:
    """For the file input's ``accept``: lets a phone offer its camera and a computer filter its files."""
    allowed = allowed_types()
    return ",".join([*allowed, *(ext for t in allowed for ext in EXTENSIONS[t])])


def _type_names() -> str:
    labels = [LABELS[t] for t in allowed_types()]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " or " + labels[-1]


# --- Checking and cleaning -----------------------------------------------------------------


def sniff(data: bytes) -> str | None:
    """The type the bytes themselves show, or None when they are none of the supported types."""
    for magic, content_type in _MAGIC:
        if data.startswith(magic):
            return content_type
    return TEXT if _is_plain_text(data) else None


def _is_plain_text(data: bytes) -> bool:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    return not _BINARY.search(text) and not _MARKUP.match(text)


def _claims_other_type(filename: str, declared_type: str) -> bool:
    """True when the name or the browser's declared type says the file is a picture, a PDF or markup."""
    declared = (declared_type or "").split(";")[0].strip().lower()
    return declared.startswith(_CLAIMED_TYPES) or _extension(filename) in _CLAIMED_EXTENSIONS


def check_file(filename: str, data: bytes, declared_type: str = "") -> CleanFile:
    """Applies every rule for an attachment and strips image metadata. Raises AttachmentRefused."""
    if not data:
        raise AttachmentRefused("The file you chose is empty")
    limit = max_bytes()
    if len(data) > limit:
        raise AttachmentRefused(f"The file must be smaller than {size_text(limit)}")
    content_type = sniff(data)
    allowed = allowed_types()
    if content_type == TEXT and _claims_other_type(filename, declared_type):
        # For example a web page renamed photo.jpg: its name says picture, its bytes say otherwise.
        content_type = None
    if content_type not in allowed:
        raise AttachmentRefused(f"The file must be a {_type_names()} file")
    removed: tuple[str, ...] = ()
    if content_type in (JPEG, PNG):
        data = strip_image(data, content_type)
    elif content_type == PDF:
        try:
            cleaned = pdfs.clean_pdf(data)
        except pdfs.PdfRefused as exc:
            raise AttachmentRefused(str(exc)) from exc
        data, removed = cleaned.data, cleaned.removed
    return CleanFile(clean_filename(filename, content_type), content_type, data, removed)


def strip_image(data: bytes, content_type: str) -> bytes:
    """Decodes the picture, turns it upright, and encodes only its pixels into a new file.

    EXIF, GPS, XMP, IPTC, comments, PNG text chunks and ICC profiles are all left behind (colours
    are first converted to sRGB so a wide-gamut photo still looks right without its profile)."""
    fmt = "JPEG" if content_type == JPEG else "PNG"
    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as opened:
            _check_decoded_size(opened, fmt, len(data))
            # One picture at a time per worker (ATTACHMENT_PARALLEL_DECODES), so its memory stays known.
            with current_app.extensions["speakup_image_decodes"]:
                fresh = _pixels_only(opened, fmt)
    except Image.DecompressionBombError as exc:
        raise AttachmentRefused("The picture is too large. Send a smaller photo or a screenshot") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise AttachmentRefused("We could not read this picture. It may be damaged: try another file") from exc
    out = io.BytesIO()
    if fmt == "JPEG":
        fresh.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    else:
        fresh.save(out, "PNG", optimize=False)
    cleaned = out.getvalue()
    _assert_clean(cleaned, fmt)
    return cleaned


def _check_decoded_size(opened: Image.Image, fmt: str, file_bytes: int) -> None:
    """Refuses, from the header alone, a picture whose pixels would take too much memory or that is compressed
    far more than any photo or screenshot: a decompression bomb costs nothing until it is decoded."""
    width, height = opened.size
    if width * height > MAX_IMAGE_PIXELS:
        raise AttachmentRefused(f"The picture is too large ({width} × {height} pixels). {SMALLER}")
    # Drawn with as many channels as it has, or as it is converted to (PNG transparency and palettes become RGBA).
    channels = max(len(opened.getbands()), 3 if fmt == "JPEG" else 4 if opened.mode in ("P", "PA", "LA") else 3)
    decoded = width * height * channels
    config = current_app.config
    if decoded > int(config["ATTACHMENT_MAX_DECODED_MIB"]) * 2**20:
        raise AttachmentRefused(f"The picture is too large ({width} × {height} pixels). {SMALLER}")
    if decoded > file_bytes * int(config["ATTACHMENT_MAX_IMAGE_RATIO"]):
        raise AttachmentRefused(f"We could not use this picture: it unpacks to far more than its size. {SMALLER}")


def _pixels_only(opened: Image.Image, fmt: str) -> Image.Image:
    """The decoded picture upright, in sRGB and a mode the format stores, copied into a new image that carries no
    info, EXIF or anything else. Each step drops the previous picture as it goes, so no more than two full copies
    are ever held (tobytes and frombytes would add two more)."""
    opened.load()
    image = _upright(opened)
    image = _to_srgb(image, opened.info.get("icc_profile"))
    image = _savable(image, fmt)
    fresh = Image.new(image.mode, image.size)
    fresh.paste(image)
    return fresh


def _upright(image: Image.Image) -> Image.Image:
    """Applies the EXIF orientation, so the picture still looks right once EXIF is gone."""
    try:
        return ImageOps.exif_transpose(image) or image
    except (OSError, SyntaxError, ValueError, KeyError, TypeError, AttributeError):
        return image  # unreadable EXIF: keep the pixels as stored


def _to_srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    if not icc_profile or image.mode not in ("RGB", "RGBA", "CMYK"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        output_mode = "RGBA" if image.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode=output_mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image  # a broken profile: keep the colours as stored
    return converted or image


def _savable(image: Image.Image, fmt: str) -> Image.Image:
    """A pixel mode the format can store, palettes and transparency resolved into plain pixels."""
    if fmt == "JPEG":
        return image if image.mode in ("L", "RGB") else image.convert("RGB")
    if image.mode in ("P", "PA") or "transparency" in image.info:
        return image.convert("RGBA")
    if image.mode in _PNG_MODES:
        return image
    return image.convert("RGBA" if "A" in image.mode else "RGB")


def _assert_clean(data: bytes, fmt: str) -> None:
    """Belt and braces: a cleaned picture that still carries metadata is never stored."""
    with Image.open(io.BytesIO(data), formats=[fmt]) as check:
        if len(check.getexif()) or _METADATA_KEYS & set(check.info) or getattr(check, "text", None):
            raise RuntimeError("image metadata survived cleaning")


def _extension(filename: str) -> str:
    base = filename.rsplit("/", 1)[-1]
    return "." + base.rsplit(".", 1)[-1].lower() if "." in base.strip(".") else ""


def clean_filename(filename: str, content_type: str) -> str:
    """The base name only, without control or direction characters, at most 100 characters, and
    ending in an extension that matches what the file really is."""
    name = unicodedata.normalize("NFC", filename or "")
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if not unicodedata.category(ch).startswith("C"))
    name = " ".join(_RESERVED.sub("_", name).split()).strip(" .")
    extension = _extension(name)
    stem = name[: -len(extension)] if extension else name
    known = {ext for exts in EXTENSIONS.values() for ext in exts}
    if extension not in EXTENSIONS[content_type]:
        if extension not in known:
            stem = name  # keep an unknown extension as part of the name: "notes.md" becomes "notes.md.txt"
        extension = EXTENSIONS[content_type][0]
    stem = stem.strip(" .")[: MAX_FILENAME_CHARS - len(extension)].rstrip(" .") or "attachment"
    return stem + extension


# --- Sealing, listing and opening ------------------------------------------------------------


def _name_aad(case_id: int, uid: str) -> bytes:
    return crypto.associated_data(case_id, "attachment-name", uid)


def _body_aad(case_id: int, uid: str) -> bytes:
    return crypto.associated_data(case_id, "attachment", uid)


def store(case: Case, case_key: bytes, clean: CleanFile) -> Attachment:
    """Seals a checked file under the case key and adds it to the session; the caller commits."""
    count = db.session.scalar(select(func.count()).select_from(Attachment).where(Attachment.case_id == case.id))
    if count >= MAX_FILES_PER_CASE:
        raise AttachmentRefused(f"A concern can have up to {MAX_FILES_PER_CASE} files. Describe the rest in a message")
    uid = secrets.token_hex(16)
    attachment = Attachment(
        uid=uid,
        case_id=case.id,
        filename_ct=crypto.seal_text(case_key, clean.filename, _name_aad(case.id, uid)),
        content_type=clean.content_type,
        size=len(clean.data),
        body_ct=crypto.seal(case_key, clean.data, _body_aad(case.id, uid)),
        protocol=crypto.PROTOCOL,
        created_at=utcnow(),
    )
    db.session.add(attachment)
    audit.record(audit.ATTACHMENT_ADDED, "reporter", case_id=case.id)
    return attachment


def add_attachment(case: Case, case_key: bytes, filename: str, data: bytes, declared_type: str = "") -> Attachment:
    """Checks, cleans, seals and commits one file from the reporter."""
    return store_clean(case, case_key, check_file(filename, data, declared_type))


def attach_to_raised(raised: RaisedConcern, clean: CleanFile) -> Attachment:
    """Adds a file checked before raising to the concern just raised, opening it as its reporter would."""
    case, case_key = keyring.open_with_access_code(raised.access_code, current_app.config["TOKEN_PEPPER_BYTES"])
    return store_clean(case, case_key, clean)


def store_clean(case: Case, case_key: bytes, clean: CleanFile) -> Attachment:
    try:
        attachment = store(case, case_key, clean)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return attachment


def list_attachments(case_id: int) -> list[Attachment]:
    statement = select(Attachment).where(Attachment.case_id == case_id).order_by(Attachment.created_at, Attachment.id)
    return list(db.session.scalars(statement))


def describe(case: Case, case_key: bytes) -> list[AttachmentView]:
    """The case's files with their names decrypted, oldest first (bodies stay sealed)."""
    return [
        AttachmentView(
            a.uid,
            crypto.open_text(case_key, a.filename_ct, _name_aad(case.id, a.uid)),
            a.content_type,
            a.size,
            a.created_at,
        )
        for a in list_attachments(case.id)
    ]


def open_attachment(case: Case, case_key: bytes, uid: str) -> OpenedAttachment:
    """One file decrypted in memory. Raises AttachmentNotFound, or crypto.DecryptionError if tampered."""
    attachment = db.session.scalar(select(Attachment).where(Attachment.case_id == case.id, Attachment.uid == uid))
    if attachment is None:
        raise AttachmentNotFound()
    filename = crypto.open_text(case_key, attachment.filename_ct, _name_aad(case.id, uid))
    data = crypto.open_sealed(case_key, attachment.body_ct, _body_aad(case.id, uid))
    # Only a type this module checked is ever served as such.
    content_type = attachment.content_type if attachment.content_type in SUPPORTED else "application/octet-stream"
    return OpenedAttachment(filename, content_type, data)


# --- Raising a concern with a file -------------------------------------------------------------


def check_concern_with_file(
    values: dict[str, object], upload: tuple[str, bytes, str] | None
) -> tuple[ConcernInput, CleanFile | None]:
    """Checks a new concern and its optional file together, so every problem is reported at once,
    and nothing is raised while the file is refused."""
    errors: dict[str, str] = {}
    concern = clean = None
    try:
        concern = cases.check_concern(values)
    except InvalidInput as exc:
        errors.update(exc.errors)
    if upload is not None:
        try:
            clean = check_file(*upload)
        except AttachmentRefused as exc:
            errors.update(exc.errors)
    if errors or concern is None:
        raise InvalidInput(errors)
    return concern, clean


def raise_with_file(concern: ConcernInput, clean: CleanFile | None) -> tuple[RaisedConcern, bool]:
    """Raises the concern, then seals the already checked file into it. Returns the raised concern
    and whether the file was kept: the access code is shown once, so a database failure after the
    concern was stored must not hide it (the reporter can add the file again from the follow-up page)."""
    raised = cases.raise_concern(concern)
    if clean is None:
        return raised, True
    try:
        attach_to_raised(raised, clean)
    except DBAPIError:
        log.warning("a file could not be stored with a newly raised concern")
        return raised, False
    return raised, True
