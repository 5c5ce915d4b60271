"""CSV files a person downloads (catalogue export, pick and packing lists, statements):
one way to send them, never cached (they hold a farm's own figures)."""

from __future__ import annotations

import io

from flask import send_file


def csv_download(data: bytes, filename: str):
    response = send_file(io.BytesIO(data), mimetype="text/csv", as_attachment=True,
                         download_name=filename, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response
