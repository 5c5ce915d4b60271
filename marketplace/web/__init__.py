"""What the views of every domain share: one home below all of them.

Modules here import no domain package (only flask, wtforms and marketplace's own
base modules), so the lowest domains (accounts, geo) can use them too:
``redirects`` (safe ``next`` targets), ``forms`` (the confirm-only form),
``display`` (the display time zone, day names) and ``ids`` (ids typed in forms
and query strings). The exceptions, for the views of higher domains only, are
``farm`` (the signed-in producer's farm) and ``checkout`` (forms that place an
order).
"""
