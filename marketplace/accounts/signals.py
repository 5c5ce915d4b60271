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


# The account's own e-mails: accounts makes the signed link's token, notifications
# writes the e-mail in the reader's language (these alone may go to an address not
# confirmed yet: they are how it gets confirmed or recovered). kwargs: session, token.

#: Someone asked to reset the password of this account. Sender: the User.
password_reset_requested = _signals.signal("password-reset-requested")

#: The account's address is to be confirmed (after sign-up, or asked again).
#: Sender: the User.
email_confirmation_requested = _signals.signal("email-confirmation-requested")

#: Someone signed up with the address of this existing account. Sender: the User;
#: ``token`` resets its password.
signup_attempted = _signals.signal("signup-attempted")

#: The person asked to move the account to ``new_email``. Sender: the User.
#: kwargs: session, token, max_age, new_email. The link goes to the new address.
email_change_requested = _signals.signal("email-change-requested")

#: The account moved from ``old_email`` to its current address (flushed). Sender: the
#: User. kwargs: session, old_email. The old address is told.
email_changed = _signals.signal("email-changed")

#: The account's address was confirmed, the first time (flushed). Sender: the User.
#: kwargs: session, now. The person is welcomed.
email_confirmed = _signals.signal("email-confirmed")

#: Asked before an account is deleted. Sender: the User. kwargs: session, now. A receiver
#: returns why it cannot be deleted yet (a lazy string), or None.
deletion_checked = _signals.signal("deletion-checked")

#: The account is being deleted (anonymised right after). Sender: the User. kwargs:
#: session, now. A receiver removes the person's data it keeps that no law requires
#: (e-mail subscriptions, a saved market day).
account_deleting = _signals.signal("account-deleting")

#: Asked for the person's data export. Sender: the User. kwargs: session. A receiver
#: returns {section name: JSON-ready value} (the orders with their lines).
data_exported = _signals.signal("data-exported")


#: An admin approved an account waiting for it. Sender: the User. kwargs: session.
account_approved = _signals.signal("account-approved")

#: An admin refused an account waiting for approval. Sender: the User. kwargs: session,
#: reason (the admin's words, for the person).
account_refused = _signals.signal("account-refused")


def all_answers(signal, sender, **kwargs) -> list:
    """The receivers' answers that are not None, in receiver order."""
    return [value for _receiver, value in signal.send(sender, **kwargs) if value is not None]


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
