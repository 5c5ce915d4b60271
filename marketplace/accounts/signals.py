"""What accounts announces to the domains above it, and what it asks them.

Accounts is the lowest domain: a farm's profile (producers) and a restaurant's
business details (wholesale) hang on an account without accounts knowing them.
"""

from __future__ import annotations

from marketplace.ordered_signals import Namespace

_signals = Namespace()

#: An account was created (flushed, not committed). Sender: the User. kwargs: session.
#: Producers gives a producer account its farm.
account_created = _signals.signal("account-created")

#: Asked before an admin approves an account. Sender: the User. kwargs: session,
#: details (what ``approval_details`` returned, if the caller has it). A receiver
#: returns why the account cannot be approved yet (a lazy string), or None.
approval_checked = _signals.signal("approval-checked")

#: Asked for the approvals page. Sender: the list of users waiting. kwargs: session.
#: A receiver returns {user id: details} for the users it knows (a restaurant's
#: business profile).
approval_details = _signals.signal("approval-details")


#: An admin approved an account waiting for it. Sender: the User. kwargs: session.
account_approved = _signals.signal("account-approved")

#: An admin refused an account waiting for approval. Sender: the User. kwargs: session,
#: reason (the admin's words, for the person).
account_refused = _signals.signal("account-refused")


def first_answer(signal, sender, **kwargs):
    """The first receiver's answer that is not None, else None."""
    for _receiver, value in signal.send(sender, **kwargs):
        if value is not None:
            return value
    return None


def merged_answers(signal, sender, **kwargs) -> dict:
    """The receivers' dict answers, merged."""
    merged: dict = {}
    for _receiver, value in signal.send(sender, **kwargs):
        merged.update(value or {})
    return merged
