"""E-mail through an outbox.

``queue`` writes a message in the caller's transaction (flush, never commit), so an
e-mail exists if and only if the change it announces was committed. Right after
that transaction commits, the messages it queued are sent in the same process
(``listen`` registers the hook), with a separate session to mark them sent. A mail
server that is down or slow never fails the caller: the message stays in the outbox
with its error, and ``deliver_pending`` (``flask notifications deliver``) retries it.

Sending happens outside any database transaction (an SMTP conversation may take
MAIL_TIMEOUT seconds; on SQLite a write transaction would block every writer that
long). A message is first claimed with a conditional UPDATE, so two senders (the
hook and a retry command) never both send it.
"""

from __future__ import annotations

import json
import logging
import re
import smtplib
import ssl
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, parseaddr

from flask import current_app
from sqlalchemy import event, func, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from marketplace.accounts.models import User
from marketplace.accounts.services import receives_mail
from marketplace.models import utcnow
from marketplace.sqlite import write_intent

from .models import OutboxAttachment, OutboxMessage

log = logging.getLogger(__name__)

# session.info key: ids of the messages queued in the session's current transaction.
QUEUED_KEY = "notifications.queued_ids"
# A claim older than this is from a sender that died mid-way; the message is retaken.
CLAIM_TIMEOUT = timedelta(minutes=5)
LAST_ERROR_MAX = 2000

_table = OutboxMessage.__table__
_files = OutboxAttachment.__table__


@dataclass(frozen=True)
class Attachment:
    """A file to send with a message: its name, MIME type ("text/csv") and bytes."""

    filename: str
    content_type: str
    content: bytes


# Queueing -------------------------------------------------------------------------------

def queue(session: Session, *, to: str, subject: str, body: str,
          key: str | None = None,
          headers: Mapping[str, str] | None = None,
          before_confirmation: bool = False,
          attachments: Iterable[Attachment] = ()) -> OutboxMessage | None:
    """Add a message to the outbox in the caller's transaction.

    Nothing goes to the address of an account that has not confirmed it (None is
    returned) unless ``before_confirmation``: the account's own e-mails, the
    confirmation link and a password reset, are how it gets confirmed.
    With a ``key``, a message already queued under that key (in any transaction,
    sent or not) wins: nothing is added and None is returned. ``headers`` are extra
    headers (List-Unsubscribe), sent verbatim: ValueError for one that cannot be.
    An address under the reserved ``.invalid`` domain (a relay's neighbour, who is
    not online) gets nothing: None is returned.
    ``attachments`` are written with the message, in the same transaction, and sent
    with it on every try.
    """
    if not receives_mail(to):
        return None
    if not before_confirmation and awaits_confirmation(session, to):
        log.info("no e-mail to %s until its account confirms the address", to)
        return None
    message = OutboxMessage(to_address=to, subject=subject, body_text=body, dedupe_key=key,
                            created_at=utcnow(), attempts=0, last_error="",
                            headers=json.dumps(checked_headers(headers or {})))
    message.attachments = [
        OutboxAttachment(position=position, filename=a.filename, content_type=a.content_type,
                         content=a.content)
        for position, a in enumerate(attachments)]
    if key is None:
        session.add(message)
        session.flush()
    else:
        # The caller's own pending changes first: their errors are theirs, not a duplicate.
        session.flush()
        if already_queued(session, key):
            return None
        try:
            with session.begin_nested():
                session.add(message)
        except IntegrityError:
            # Queued meanwhile by a concurrent transaction (PostgreSQL waited for it to
            # commit, then refused ours); only the savepoint is rolled back.
            return None
    session.info.setdefault(QUEUED_KEY, set()).add(message.id)
    return message


def awaits_confirmation(session: Session, address: str) -> bool:
    """The address is an account's that was never confirmed (or a deleted account's)."""
    return session.scalar(select(User.id).where(
        User.email == address, User.email_confirmed_at.is_(None))) is not None


# Set by build_message itself; an extra header never replaces them.
OWN_HEADERS = frozenset({"from", "to", "subject", "date", "message-id", "cc", "bcc",
                         "content-type", "content-transfer-encoding", "mime-version"})
# RFC 5322: a field name is printable ASCII but the colon; a line at most 998 characters.
_FIELD_NAME = re.compile(r"[!-9;-~]+")
_VERBATIM_VALUE = re.compile(r"[ -~]*")
MAX_LINE = 998


def checked_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` if each can be sent verbatim (printable ASCII on one line, not one
    of the headers build_message writes), else ValueError."""
    for name, value in headers.items():
        if not _FIELD_NAME.fullmatch(name) or name.lower() in OWN_HEADERS:
            raise ValueError(f"header {name!r} cannot be added")
        if not _VERBATIM_VALUE.fullmatch(value) or len(name) + 2 + len(value) > MAX_LINE:
            raise ValueError(f"the value of header {name} cannot be sent verbatim")
    return dict(headers)


def already_queued(session: Session, key: str) -> bool:
    return session.scalar(select(_table.c.id).where(_table.c.dedupe_key == key)) is not None


def pending_count(session: Session, max_attempts: int) -> int:
    return session.scalar(
        select(func.count(_table.c.id))
        .where(_table.c.sent_at.is_(None), _table.c.attempts < max_attempts)
    )


# Delivery -------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Outgoing:
    id: int
    to_address: str
    subject: str
    body_text: str
    created_at: datetime
    headers: str
    attachments: tuple[Attachment, ...] = ()


SessionSource = Engine | Connection | Callable[[], Session]


def _session_factory(bind: SessionSource) -> Callable[[], Session]:
    if isinstance(bind, Engine | Connection):
        return lambda: Session(bind=bind)
    return bind


def deliver_pending(bind: SessionSource, config: Mapping, limit: int = 100, *,
                    ids: Iterable[int] | None = None,
                    now: datetime | None = None) -> tuple[int, int]:
    """Send unsent messages (oldest first, at most ``limit``; only ``ids`` if given).

    ``bind`` is an engine (or a session factory): this opens and commits sessions of
    its own, never the caller's. Returns (sent, failed). Each try counts in the
    message's ``attempts``; a failed one stores its error in ``last_error`` and the
    message waits for the next run, until MAIL_MAX_ATTEMPTS tries. With an empty
    MAIL_SERVER nothing is sent. Raises only database errors (SQLAlchemyError).
    """
    if not config.get("MAIL_SERVER"):
        log.info("MAIL_SERVER is empty: e-mails stay in the outbox")
        return 0, 0
    make_session = _session_factory(bind)
    messages = _claim(make_session, limit=limit, ids=ids, now=now or utcnow(),
                      max_attempts=int(config.get("MAIL_MAX_ATTEMPTS", 10)))
    if not messages:
        return 0, 0
    errors = _send(messages, config)
    _record(make_session, errors, now=utcnow())
    failed = sum(1 for error in errors.values() if error)
    return len(errors) - failed, failed


def _claim(make_session: Callable[[], Session], *, limit: int, ids: Iterable[int] | None,
           now: datetime, max_attempts: int) -> list[_Outgoing]:
    t = _table
    stmt = (
        select(t.c.id, t.c.to_address, t.c.subject, t.c.body_text, t.c.created_at,
               t.c.headers, t.c.attempts)
        .where(t.c.sent_at.is_(None), t.c.attempts < max_attempts,
               or_(t.c.claimed_at.is_(None), t.c.claimed_at < now - CLAIM_TIMEOUT))
        .order_by(t.c.id)
        .limit(limit)
    )
    if ids is not None:
        stmt = stmt.where(t.c.id.in_(sorted(ids)))
    claimed = []
    with write_intent(), make_session() as session, session.begin():
        for row in session.execute(stmt).all():
            # Every claim bumps attempts: a changed count means another sender took it.
            result = session.execute(
                update(t)
                .where(t.c.id == row.id, t.c.sent_at.is_(None), t.c.attempts == row.attempts)
                .values(attempts=t.c.attempts + 1, claimed_at=now)
            )
            if result.rowcount == 1:
                claimed.append(_Outgoing(row.id, row.to_address, row.subject, row.body_text,
                                         row.created_at, row.headers))
        files = _attachments_of(session, [message.id for message in claimed])
    return [replace(message, attachments=files.get(message.id, ())) for message in claimed]


def _attachments_of(session: Session, ids: list[int]) -> dict[int, tuple[Attachment, ...]]:
    """message id -> its attachments, in order: one query for all the messages."""
    if not ids:
        return {}
    found: dict[int, list[Attachment]] = {}
    for row in session.execute(
            select(_files.c.message_id, _files.c.filename, _files.c.content_type,
                   _files.c.content)
            .where(_files.c.message_id.in_(ids))
            .order_by(_files.c.message_id, _files.c.position)):
        found.setdefault(row.message_id, []).append(
            Attachment(row.filename, row.content_type, bytes(row.content)))
    return {message_id: tuple(files) for message_id, files in found.items()}


def _record(make_session: Callable[[], Session], errors: Mapping[int, str], *,
            now: datetime) -> None:
    t = _table
    sent = sorted(message_id for message_id, error in errors.items() if not error)
    with write_intent(), make_session() as session, session.begin():
        if sent:
            session.execute(update(t).where(t.c.id.in_(sent))
                            .values(sent_at=now, last_error=""))
        for message_id, error in sorted(errors.items()):
            if error:
                session.execute(update(t).where(t.c.id == message_id)
                                .values(claimed_at=None, last_error=error[:LAST_ERROR_MAX]))


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _connect(config: Mapping) -> smtplib.SMTP:
    smtp = smtplib.SMTP(config["MAIL_SERVER"], int(config.get("MAIL_PORT") or 25),
                        timeout=float(config.get("MAIL_TIMEOUT") or 10))
    try:
        if config.get("MAIL_USE_TLS"):
            smtp.starttls(context=ssl.create_default_context())
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD", ""))
    except (OSError, smtplib.SMTPException):
        smtp.close()
        raise
    return smtp


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


class _Policy(EmailPolicy):
    """The default policy, but the extra headers are written as they are: folded or
    encoded (RFC 2047), a long List-Unsubscribe <URL> would no longer be read."""

    verbatim: frozenset[str] = frozenset()

    def fold(self, name, value):
        if name.lower() in self.verbatim:
            return f"{name}: {value}{self.linesep}"
        return super().fold(name, value)

    def fold_binary(self, name, value):
        if name.lower() in self.verbatim:
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


def build_message(message: _Outgoing | OutboxMessage, sender: str) -> EmailMessage:
    """The e-mail of an outbox row. ValueError for a header that cannot be sent."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    extra = checked_headers(json.loads(message.headers or "{}"))
    mail = EmailMessage(policy=_Policy(verbatim=frozenset(name.lower() for name in extra)))
    mail["From"] = sender
    mail["To"] = message.to_address
    mail["Subject"] = message.subject
    mail["Date"] = format_datetime(message.created_at)
    # The same id on every try, so a receiver can drop a copy sent twice after a timeout.
    mail["Message-ID"] = (
        f"<outbox.{message.id}.{int(message.created_at.timestamp())}@{domain}>"
    )
    for name, value in extra.items():
        mail[name] = value
    mail.set_content(message.body_text)
    for attachment in message.attachments:
        maintype, _slash, subtype = attachment.content_type.partition("/")
        mail.add_attachment(attachment.content, maintype=maintype,
                            subtype=subtype or "octet-stream", filename=attachment.filename)
    return mail


# Refusals of one message; the connection stays usable for the next one.
_MESSAGE_ERRORS = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused,
                   smtplib.SMTPNotSupportedError, ValueError)


def _send(messages: list[_Outgoing], config: Mapping) -> dict[int, str]:
    """Send over one connection (reopened after a drop). id -> error, "" when sent."""
    errors: dict[int, str] = {}
    smtp: smtplib.SMTP | None = None
    unreachable = ""
    sender = config.get("MAIL_DEFAULT_SENDER") or "no-reply@localhost"
    try:
        for message in messages:
            if unreachable:
                errors[message.id] = unreachable
                continue
            if smtp is None:
                try:
                    smtp = _connect(config)
                except (OSError, smtplib.SMTPException) as exc:
                    unreachable = _describe(exc)
                    log.warning("mail server %s:%s unreachable (%s); e-mails stay queued",
                                config.get("MAIL_SERVER"), config.get("MAIL_PORT"), unreachable)
                    errors[message.id] = unreachable
                    continue
            try:
                smtp.send_message(build_message(message, sender))
            except _MESSAGE_ERRORS as exc:
                errors[message.id] = _describe(exc)
                log.warning("e-mail %s not sent: %s", message.id, errors[message.id])
            except (OSError, smtplib.SMTPException) as exc:
                # The connection is in an unknown state: drop it, open a new one next.
                errors[message.id] = _describe(exc)
                log.warning("e-mail %s not sent: %s", message.id, errors[message.id])
                smtp.close()
                smtp = None
            else:
                errors[message.id] = ""
    finally:
        if smtp is not None:
            _quit(smtp)
    return errors


# Sending right after commit -------------------------------------------------------------

def _config_of_current_app() -> Mapping:
    return current_app.config


def _after_commit(session: Session) -> None:
    # Also fired when a SAVEPOINT is released; only the outermost commit counts.
    if session.in_nested_transaction():
        return
    ids = session.info.pop(QUEUED_KEY, None)
    if not ids:
        return
    config = _config_of_current_app()
    if not config.get("MAIL_SERVER"):
        log.info("MAIL_SERVER is empty: %d e-mail(s) stay in the outbox", len(ids))
        return
    bind = session.get_bind()
    try:
        sent, failed = deliver_pending(bind, config, limit=len(ids), ids=ids)
    except SQLAlchemyError:
        # The caller's transaction is committed; never turn that into an error for it.
        log.exception("e-mails %s queued but their delivery could not be recorded; "
                      "`flask notifications deliver` will retry them", sorted(ids))
        return
    if failed:
        log.warning("%d e-mail(s) not sent, kept in the outbox for a retry", failed)


def _after_transaction_end(session: Session, transaction) -> None:
    # A rolled-back (or closed) outermost transaction: its messages no longer exist.
    if transaction.parent is None:
        session.info.pop(QUEUED_KEY, None)


def listen(session_target) -> None:
    """Send what a transaction queued right after it commits (idempotent).

    ``session_target``: a scoped_session, sessionmaker or Session class (db.session).
    Reads the settings from the current Flask app at commit time.
    """
    for name, fn in (("after_commit", _after_commit),
                     ("after_transaction_end", _after_transaction_end)):
        if not event.contains(session_target, name, fn):
            event.listen(session_target, name, fn)
