"""Uploaded photos: checked with Pillow, re-encoded as JPEG, resized to a thumbnail.

Re-encoding drops whatever else the file carried (scripts, EXIF with GPS).
Files live under UPLOAD_FOLDER with random names and are served by /media/.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from marketplace.transactions import after_commit

MAX_PIXELS = 40_000_000  # refuse decompression bombs well before Pillow's own limit
FULL_SIZE = 1600


class ImageRejected(ValueError):
    """The upload is not an image we can use; the message says why."""


def save_photo(stream, upload_folder: str, subfolder: str, thumb_size: int) -> tuple[str, str]:
    """Return (path, thumb_path) relative to upload_folder."""
    try:
        with Image.open(stream) as probe:
            probe.verify()
        stream.seek(0)
        with Image.open(stream) as img:
            if img.width * img.height > MAX_PIXELS:
                raise ImageRejected("too many pixels")
            img.load()
            img = ImageOps.exif_transpose(img)
            img = img.convert("RGB")
            name = secrets.token_hex(12)
            folder = Path(upload_folder) / subfolder
            folder.mkdir(parents=True, exist_ok=True)
            full = img.copy()
            full.thumbnail((FULL_SIZE, FULL_SIZE))
            full.save(folder / f"{name}.jpg", "JPEG", quality=85, optimize=True)
            thumb = ImageOps.fit(img, (thumb_size, thumb_size))
            thumb.save(folder / f"{name}_thumb.jpg", "JPEG", quality=80, optimize=True)
    except ImageRejected:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageRejected(str(exc)) from exc
    return f"{subfolder}/{name}.jpg", f"{subfolder}/{name}_thumb.jpg"


def delete_photo(upload_folder: str, *paths: str | None) -> None:
    for rel in paths:
        if rel:
            (Path(upload_folder) / rel).unlink(missing_ok=True)


def delete_photo_once_committed(session, upload_folder: str, *paths: str | None) -> None:
    """Delete the files once the change that dropped them is committed (a rolled-back
    change keeps them)."""
    after_commit(session, f"media:delete:{':'.join(p for p in paths if p)}",
                 lambda: delete_photo(upload_folder, *paths))
