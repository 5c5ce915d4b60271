"""gunicorn's settings for Circuit Court: `gunicorn -w 4 -b 0.0.0.0:8000` from the
repository's root reads this file (gunicorn's default ./gunicorn.conf.py; `-c
gunicorn.conf.py` names it from elsewhere). Workers, binding and the rest come from
the command line or GUNICORN_CMD_ARGS, as gunicorn documents.
"""

import gunicorn.http.wsgi

wsgi_app = "wsgi:app"

# The Server header of every answer: gunicorn has no setting for it and older releases
# sent their version ("gunicorn/19.9.0"), which tells an attacker which flaws to try.
# Responses read this module attribute when they are made, in the workers forked from
# this process.
gunicorn.http.wsgi.SERVER = "circuit-court"
