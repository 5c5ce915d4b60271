"""The signed links an account's e-mails carry: reset the password, confirm the
address, confirm a new address.

Each is an itsdangerous URLSafeTimedSerializer token signed with SECRET_KEY under a
salt of its own (a token made for one purpose never passes for another) and read
with a maximum age. Each names the user and what must still hold for the link to
work, so that it dies once used: a reset link a fingerprint of the password hash
(a new password changes it), a confirmation link the address (confirmed, it is no
longer waiting), a change link the old and the new address (applied, the account's
address is no longer the old one).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

RESET = "accounts.password-reset"
CONFIRM = "accounts.email-confirm"
CHANGE = "accounts.email-change"

# Settings that give each kind of link its maximum age in seconds, and their defaults.
MAX_AGE_SETTINGS = {
    RESET: ("PASSWORD_RESET_MAX_AGE", 3600),
    CONFIRM: ("EMAIL_CONFIRMATION_MAX_AGE", 3 * 24 * 3600),
    CHANGE: ("EMAIL_CONFIRMATION_MAX_AGE", 3 * 24 * 3600),
}


class BadLink(ValueError):
    """A link not made here: altered, cut short, or made for something else."""


class ExpiredLink(ValueError):
    """A link made here, older than its maximum age."""


def _serializer(config: Mapping, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(config["SECRET_KEY"], salt=purpose)


def max_age(config: Mapping, purpose: str) -> int:
    name, default = MAX_AGE_SETTINGS[purpose]
    return int(config.get(name) or default)


def fingerprint(password_hash: str) -> str:
    """A short digest of the password hash: changes with the password, reveals nothing
    of it (the token's payload is signed, not encrypted)."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:20]


def make(config: Mapping, purpose: str, *parts: int | str) -> str:
    return _serializer(config, purpose).dumps(list(parts))


def read(config: Mapping, purpose: str, token: str, size: int) -> list:
    """The parts signed in ``token`` (``size`` of them, the first the user id).
    ExpiredLink when too old, BadLink when not made here for ``purpose``."""
    try:
        parts = _serializer(config, purpose).loads(token, max_age=max_age(config, purpose))
    except SignatureExpired as exc:
        raise ExpiredLink(purpose) from exc
    except BadSignature as exc:
        raise BadLink(purpose) from exc
    if (not isinstance(parts, list) or len(parts) != size or not isinstance(parts[0], int)
            or not all(isinstance(part, str) for part in parts[1:])):
        raise BadLink(purpose)
    return parts
