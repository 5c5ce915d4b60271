"""How long a refund takes to reach the buyer's card, said the same way in every
e-mail and page that announces one."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

#: Stripe's usual delay; a lazy string, translated where it is shown.
REFUND_DELAY = _l("Refunds reach the card within 5 to 10 working days (Stripe's usual "
                  "delay).")
