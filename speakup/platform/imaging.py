"""Checking and cleaning uploaded files: type sniffing, image bombs, metadata stripped, names made safe."""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass

from flask import current_app
from PIL import Image, ImageCms, ImageOps

from speakup.platform import pdfs
from speakup.platform.inputs import InvalidInput

JPEG, PNG, PDF, TEXT = "image/jpeg", "image/png", "application/pdf", "text/plain"

# The types this module can recognise and clean. ATTACHMENT_TYPES (config) chooses among them.
FIELD = "attachment"  # the form field, and the key of its errors

SUPPORTED = (JPEG, PNG, PDF, TEXT)

LABELS = {JPEG: "JPEG", PNG: "PNG", PDF: "PDF", TEXT: "plain text (.txt)"}

EXTENSIONS = {JPEG: (".jpg", ".jpeg"), PNG: (".png",), PDF: (".pdf",), TEXT: (".txt",)}

MAX_FILENAME_CHARS = 100

# A picture is decoded in memory before it is cleaned: 50 megapixels is a large phone photo, and
# caps what one upload can cost (about 150 MB while it is drawn again).
MAX_IMAGE_PIXELS = 50_000_000

SMALLER = "Send a smaller photo or a screenshot"

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
