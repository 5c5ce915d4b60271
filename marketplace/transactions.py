"""What runs after a transaction commits: the calls to Stripe and other services
that must not happen for a change that is rolled back.

A service that records something to send (a refund, say) calls ``after_commit``
with a key and a function; the function runs once the session's outermost
transaction has committed, when the request ends (``run_after_commit``, called by
an after_request hook) or when a job calls it. A rollback drops what was queued.
Functions run outside any transaction and may open their own.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

_QUEUED = "after_commit_queued"
_READY = "after_commit_ready"


def after_commit(session: Session, key: str, fn: Callable[[], object]) -> None:
    """Run ``fn`` after the session's transaction commits; one function per ``key``."""
    session.info.setdefault(_QUEUED, {})[key] = fn


def run_after_commit(session: Session) -> int:
    """Run what committed transactions queued, in the order queued; how many ran."""
    ready = session.info.pop(_READY, {})
    for fn in ready.values():
        fn()
    return len(ready)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    queued = session.info.pop(_QUEUED, {})
    if queued:
        session.info.setdefault(_READY, {}).update(queued)


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is None:  # the outermost transaction, not a savepoint
        session.info.pop(_QUEUED, None)
