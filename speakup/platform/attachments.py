"""Which checks an uploaded file goes through: its size, its type as its bytes show it (never as its name or the
browser says), the configured types, and then its cleaner: pictures to ``imaging``, PDFs to ``pdfs``; plain text
is kept as it is. Also the file's name made safe, and the words that describe the limits beside a file field."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from flask import current_app

from speakup.platform import imaging, pdfs
from speakup.platform.inputs import InvalidInput
from speakup.platform.translation import gettext as _
from speakup.platform.translation import lazy_gettext as _l
from speakup.platform.translation import ngettext

JPEG, PNG, PDF, TEXT = "image/jpeg", "image/png", "application/pdf", "text/plain"

FIELD = "attachment"  # the form field, and the key of its errors

# The types this module can recognise and have cleaned. ATTACHMENT_TYPES (config) chooses among them.
SUPPORTED = (JPEG, PNG, PDF, TEXT)

# What a person reads; the format names are the same in every language.
LABELS: dict[str, str] = {JPEG: "JPEG", PNG: "PNG", PDF: "PDF", TEXT: _l("plain text (.txt)")}

EXTENSIONS = {JPEG: (".jpg", ".jpeg"), PNG: (".png",), PDF: (".pdf",), TEXT: (".txt",)}

MAX_FILENAME_CHARS = 100

_PILLOW_FORMATS = {JPEG: "JPEG", PNG: "PNG"}

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

_RESERVED = re.compile(r'[<>:"|?*]')


class AttachmentRefused(InvalidInput):
    """The file breaks a rule (type, size, count). ``errors`` maps the file field to the reason."""

    def __init__(self, message: str):
        super().__init__({FIELD: message})


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


def size_text(size: int) -> str:
    if size >= 1024 * 1024:
        value = size / (1024 * 1024)
        return f"{value:.0f} MB" if value >= 10 or value.is_integer() else f"{value:.1f} MB"
    if size >= 1024:
        return f"{size // 1024} KB"
    return ngettext("%(num)d byte", "%(num)d bytes", size)


def allowed_types() -> tuple[str, ...]:
    """The configured types this module can check; anything else in the setting is ignored."""
    configured = current_app.config["ATTACHMENT_TYPES"]
    return tuple(t for t in SUPPORTED if t in configured)


def max_bytes() -> int:
    return int(current_app.config["ATTACHMENT_MAX_BYTES"])


def limits_text() -> str:
    """For the hint next to a file field, such as "A JPEG, PNG, PDF or plain text (.txt) file, up to 10 MB"."""
    return _("A %(types)s file, up to %(size)s.", types=_type_names(), size=size_text(max_bytes()))


def accept_attribute() -> str:
    """For the file input's ``accept``: lets a phone offer its camera and a computer filter its files."""
    allowed = allowed_types()
    return ",".join([*allowed, *(ext for t in allowed for ext in EXTENSIONS[t])])


def _type_names() -> str:
    labels = [str(LABELS[t]) for t in allowed_types()]
    if len(labels) == 1:
        return labels[0]
    return _("%(first)s or %(last)s", first=", ".join(labels[:-1]), last=labels[-1])


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
    """Applies every rule for an attachment and sends it to its cleaner (pictures to ``imaging``, PDFs to ``pdfs``).
    Raises AttachmentRefused."""
    if not data:
        raise AttachmentRefused(_("The file you chose is empty"))
    limit = max_bytes()
    if len(data) > limit:
        raise AttachmentRefused(_("The file must be smaller than %(size)s", size=size_text(limit)))
    content_type = sniff(data)
    allowed = allowed_types()
    if content_type == TEXT and _claims_other_type(filename, declared_type):
        # For example a web page renamed photo.jpg: its name says picture, its bytes say otherwise.
        content_type = None
    if content_type not in allowed:
        raise AttachmentRefused(_("The file must be a %(types)s file", types=_type_names()))
    removed: tuple[str, ...] = ()
    if content_type in _PILLOW_FORMATS:
        try:
            data = imaging.strip_image(data, _PILLOW_FORMATS[content_type])
        except imaging.ImageRefused as exc:
            raise AttachmentRefused(str(exc)) from exc
    elif content_type == PDF:
        try:
            cleaned = pdfs.clean_pdf(data)
        except pdfs.PdfRefused as exc:
            raise AttachmentRefused(str(exc)) from exc
        data, removed = cleaned.data, cleaned.removed
    return CleanFile(clean_filename(filename, content_type), content_type, data, removed)


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
