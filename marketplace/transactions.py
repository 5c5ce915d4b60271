"""One commit per request, at the boundary, and what runs after it.

``commit_per_request``: when a view returns, its changes are committed once if the
answer is a success (below 400) and rolled back otherwise; an exception rolls back
too (the session is removed at the end of the request). Services only flush, and
views need not commit: a view commits itself only where it needs two transactions
(to hold no lock while Stripe answers, say), and says so.

A service or view that has something to do only if the change is kept (a refund to
send to Stripe, an old photo file to delete) calls ``after_commit`` with a key and a
function; the function runs once the session's outermost transaction has committed,
when the request ends (``run_after_commit``). A rollback drops what was queued.
Functions run outside any transaction and may open their own. Outside a request (the
scheduled jobs) nothing runs them: the jobs send pending refunds on their own.
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


def commit_per_request(app, session_of: Callable[[], Session]) -> None:
    """Commit (or roll back) each request's changes once, then run what they queued."""

    @app.after_request
    def _commit_once(response):
        session = session_of()
        if response.status_code < 400:
            session.commit()
        else:
            session.rollback()
        run_after_commit(session)
        return response


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if session.in_nested_transaction():
        return  # also fired when a SAVEPOINT is released: only the outermost commit counts
    queued = session.info.pop(_QUEUED, {})
    if queued:
        session.info.setdefault(_READY, {}).update(queued)


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is None:  # the outermost transaction, not a savepoint
        session.info.pop(_QUEUED, None)
