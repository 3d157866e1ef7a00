"""A wish's photo, made safe to keep: decoded, checked, re-encoded. No I/O.

Only JPEG, PNG and WebP pictures are taken, whatever the upload says it is (the bytes are
decoded to know). Re-encoding to a fresh JPEG keeps the pixels only: EXIF (GPS position,
device, time) and every other metadata block are gone; the orientation is applied first
so the picture stands as it was shot. Large pictures are scaled to MAX_SIDE.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from shared.errors import DomainError

ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
MAX_SIDE = 1600  # px, the longer side once stored
MAX_PIXELS = 40_000_000  # refused before decoding (a "decompression bomb")
JPEG_QUALITY = 85


@dataclass(frozen=True)
class Photo:
    data: bytes
    width: int
    height: int
    content_type: str = "image/jpeg"


def photo_error(message: str) -> DomainError:
    return DomainError("invalid", message, field="file")


def reencode(content: bytes) -> Photo:
    """The picture as a metadata-free JPEG, or a 422 saying why it is not taken."""
    if not content:
        raise photo_error("照片是空文件 / the photo is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as image:
                if image.format not in ACCEPTED_FORMATS:
                    raise photo_error(
                        f"照片须为 JPEG、PNG 或 WebP 格式（收到 {image.format}）"
                        f" / the photo must be JPEG, PNG or WebP, not {image.format}"
                    )
                if image.width * image.height > MAX_PIXELS:
                    raise photo_error("照片像素过大 / the photo has too many pixels")
                image.load()
                upright = ImageOps.exif_transpose(image)
                rgb = upright.convert("RGB")  # a fresh image: no info, no EXIF, no ICC
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombWarning):
        raise photo_error("无法识别的图片文件 / not a picture that can be read") from None
    rgb.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    rgb.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return Photo(data=out.getvalue(), width=rgb.width, height=rgb.height)
