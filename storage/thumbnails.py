"""Image checks and thumbnails with Pillow: an upload that claims an image type must decode as one.

Uploaded bytes are hostile until proven otherwise. Only the Pillow plugin of the declared format may
open them, the pixel count is bounded before anything is decoded (a small file can claim a huge
canvas: a decompression bomb), and any failure of a plugin's parser becomes ``BadImage``, never a
crash. The work is CPU-bound: ``save_upload`` runs ``thumbnail`` on an OS thread (the blob store's ``run_blocking``).
"""
from __future__ import annotations

import io
import warnings
from pathlib import Path

from PIL import Image

#: Largest canvas accepted (width × height); Pillow refuses twice this itself when opening.
MAX_PIXELS = 40_000_000
#: Thumbnails fit in this box, keeping the aspect ratio.
THUMBNAIL_BOX = (320, 320)
THUMBNAIL_TYPE = "image/webp"

#: The image content types Confab can verify, with the Pillow format that must read them.
FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP"}

Image.MAX_IMAGE_PIXELS = MAX_PIXELS
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)


class BadImage(ValueError):
    """The bytes are not a whole, acceptable image of the declared type; the message says why."""


def thumbnail(path: Path, content_type: str) -> bytes:
    """Check that ``path`` holds a complete image of ``content_type``; returns a WebP thumbnail."""
    image_format = FORMATS[content_type]
    try:
        with Image.open(path, formats=[image_format]) as probe:
            _check_canvas(probe.size)
            probe.verify()  # structure and checksums, without decoding the pixels
        with Image.open(path, formats=[image_format]) as image:
            image.draft("RGB", THUMBNAIL_BOX)  # JPEG decodes straight at a reduced scale
            image.thumbnail(THUMBNAIL_BOX)
            small = image.convert("RGBA" if _has_alpha(image) else "RGB")
        out = io.BytesIO()
        small.save(out, "WEBP", quality=80)
        return out.getvalue()
    except BadImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadImage(f"image larger than {MAX_PIXELS} pixels") from None
    except Exception as exc:  # noqa: BLE001 — Pillow's parsers raise many types on hostile input
        raise BadImage(f"not a valid {image_format} image") from exc


def _check_canvas(size: tuple[int, int]) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise BadImage("image has no pixels")
    if width * height > MAX_PIXELS:
        raise BadImage(f"image larger than {MAX_PIXELS} pixels")


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
