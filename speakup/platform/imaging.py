"""Cleaning an uploaded picture (JPEG or PNG) before it is sealed: a decompression bomb refused from its header,
the picture decoded and drawn again upright in sRGB, and nothing but its pixels kept (no EXIF, GPS, XMP, comments,
text chunks or colour profile). ``attachments`` decides which files come here."""

from __future__ import annotations

import io

from flask import current_app
from PIL import Image, ImageCms, ImageOps

from speakup.platform.translation import gettext as _

# A picture is decoded in memory before it is cleaned: 50 megapixels is a large phone photo, and
# caps what one upload can cost (about 150 MB while it is drawn again).
MAX_IMAGE_PIXELS = 50_000_000


JPEG_QUALITY = 92

# Keys Pillow fills from metadata blocks; none may survive cleaning.
_METADATA_KEYS = frozenset({"exif", "icc_profile", "xmp", "XML:com.adobe.xmp", "comment", "photoshop", "adobe"})

_PNG_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "RGB", "RGBA"})


def _too_large(width: int, height: int) -> str:
    return _(
        "The picture is too large (%(width)s × %(height)s pixels). Send a smaller photo or a screenshot",
        width=width,
        height=height,
    )


class ImageRefused(Exception):
    """The picture cannot be used; the message says why, in words for the reporter."""


def strip_image(data: bytes, fmt: str) -> bytes:
    """Decodes the picture (``fmt`` is Pillow's name for it: JPEG or PNG), turns it upright, and encodes only its
    pixels into a new file. Raises ImageRefused.

    EXIF, GPS, XMP, IPTC, comments, PNG text chunks and ICC profiles are all left behind (colours
    are first converted to sRGB so a wide-gamut photo still looks right without its profile)."""
    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as opened:
            _check_decoded_size(opened, fmt, len(data))
            # One picture at a time per worker (ATTACHMENT_PARALLEL_DECODES), so its memory stays known.
            with current_app.extensions["speakup_image_decodes"]:
                fresh = _pixels_only(opened, fmt)
    except Image.DecompressionBombError as exc:
        raise ImageRefused(_("The picture is too large. Send a smaller photo or a screenshot")) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageRefused(_("We could not read this picture. It may be damaged: try another file")) from exc
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
        raise ImageRefused(_too_large(width, height))
    # Drawn with as many channels as it has, or as it is converted to (PNG transparency and palettes become RGBA).
    channels = max(len(opened.getbands()), 3 if fmt == "JPEG" else 4 if opened.mode in ("P", "PA", "LA") else 3)
    decoded = width * height * channels
    config = current_app.config
    if decoded > int(config["ATTACHMENT_MAX_DECODED_MIB"]) * 2**20:
        raise ImageRefused(_too_large(width, height))
    if decoded > file_bytes * int(config["ATTACHMENT_MAX_IMAGE_RATIO"]):
        raise ImageRefused(
            _(
                "We could not use this picture: it unpacks to far more than its size. "
                "Send a smaller photo or a screenshot"
            )
        )


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
