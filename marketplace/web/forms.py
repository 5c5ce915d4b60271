"""Forms shared by the views of several domains."""

from __future__ import annotations

from flask_wtf import FlaskForm


class ConfirmForm(FlaskForm):
    """A POST with only a CSRF token (delete buttons, the rounds grid)."""
