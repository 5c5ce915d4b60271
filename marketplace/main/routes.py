from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)
from flask_login import current_user
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from marketplace.catalogue.illustrations import favicon_file
from marketplace.catalogue.services import all_categories
from marketplace.extensions import csrf, db
from marketplace.web.redirects import safe_next

bp = Blueprint("main", __name__)


@bp.route("/")
def home():
    return render_template("main/home.html", categories=all_categories(db.session))


@bp.route("/language", methods=["POST"])
@csrf.exempt
def set_language():
    """The language switcher of every page. An anonymous visitor's form carries no
    CSRF token, so that a public page needs no session (a session cookie on every
    anonymous response would stop any cache from keeping the page): a forged
    request could at most switch an anonymous visitor's language, which is no
    harm. A signed-in buyer's choice is also kept on the account, so there the
    token is still checked."""
    if current_user.is_authenticated:
        try:
            validate_csrf(request.form.get("csrf_token"))
        except ValidationError as error:
            raise CSRFError(error.args[0]) from error
    lang = request.form.get("lang", "")
    if lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang
        if current_user.is_authenticated:
            current_user.locale = lang
    return redirect(safe_next(request.form.get("next")) or url_for("main.home"))


@bp.route("/media/<path:filename>")
def media(filename: str):
    return send_from_directory(current_app.config["UPLOAD_FOLDER"], filename, max_age=86400)


@bp.route("/favicon.ico")
def favicon():
    # Browsers ask for /favicon.ico on pages without <link rel="icon"> (a PDF, an error
    # from the server in front): give them the same SVG as base.html links to.
    return send_from_directory(current_app.static_folder, favicon_file(),
                               mimetype="image/svg+xml", max_age=86400)


@bp.route("/healthz")
def healthz():
    db.session.execute(db.text("SELECT 1"))
    return {"status": "ok"}
