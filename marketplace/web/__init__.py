"""What the views of every domain share: one home below all of them.

Modules here import no domain package (only flask, wtforms and marketplace's own
base modules), so the lowest domains (accounts, geo) can use them too:
``redirects`` (safe ``next`` targets), ``forms`` (the confirm-only form),
``display`` (the display time zone, day names) and ``ids`` (ids typed in forms
and query strings). What needs a domain lives in that domain, for the views above
it: the signed-in farm in producers/views.py, the answer to an order form sent again
in orders/views.py.
"""
