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

from marketplace.catalogue.illustrations import favicon_file
from marketplace.catalogue.services import all_categories
from marketplace.extensions import db
from marketplace.web.redirects import safe_next

bp = Blueprint("main", __name__)


@bp.route("/")
def home():
    return render_template("main/home.html", categories=all_categories(db.session))


@bp.route("/language", methods=["POST"])
def set_language():
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
