"""Form fields shared by several domains."""

from __future__ import annotations

from decimal import Decimal

from flask import current_app
from flask_babel import format_currency, format_decimal
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField
from wtforms import StringField
from wtforms.validators import ValidationError

from marketplace.models import MoneyError, parse_euros

PHOTO_EXTENSIONS = ["jpg", "jpeg", "png", "webp", "gif"]


class EuroField(StringField):
    """Typed in euros ("3,50"), kept in cents (350)."""

    def __init__(self, label=None, validators=None, min_cents=1, max_cents=1_000_000, **kw):
        super().__init__(label, validators, **kw)
        self.min_cents = min_cents
        self.max_cents = max_cents
        self.cents: int | None = None

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        if self.data is not None and isinstance(self.data, int):
            # The reader's decimal sign, no grouping: what parse_euros reads back.
            return format_decimal(Decimal(self.data).scaleb(-2), format="0.00")
        return self.data or ""

    def process_formdata(self, valuelist):
        if valuelist:
            self.data = valuelist[0]

    def pre_validate(self, form):
        raw = self.data if isinstance(self.data, str) else ""
        if isinstance(self.data, int):
            self.cents = self.data
            return
        if not raw.strip():
            return  # DataRequired/Optional decide
        try:
            cents = parse_euros(raw)
        except MoneyError as exc:
            raise ValidationError(_l("Enter a price in euros, such as 3,50.")) from exc
        if cents < self.min_cents:
            raise ValidationError(_l("The price must be more than zero."))
        if cents > self.max_cents:
            limit = format_currency(self.max_cents / 100, "EUR")
            raise ValidationError(_l("The price cannot exceed %(max)s.", max=limit))
        self.cents = cents


def photo_field(label):
    return FileField(
        label,
        validators=[FileAllowed(PHOTO_EXTENSIONS, _l("Send a photo (JPEG, PNG, WebP or GIF)."))],
        description=_l("JPEG, PNG, WebP or GIF."),
    )


def check_photo_size(field) -> None:
    """Raise a field error when the uploaded file is over MAX_UPLOAD_BYTES."""
    storage = field.data
    if not storage or not getattr(storage, "filename", None):
        return
    limit = current_app.config["MAX_UPLOAD_BYTES"]
    storage.stream.seek(0, 2)
    size = storage.stream.tell()
    storage.stream.seek(0)
    if size > limit:
        raise ValidationError(
            _l("The photo is too large (at most %(mb)d MB).", mb=limit // (1024 * 1024))
        )
