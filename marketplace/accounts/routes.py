from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from marketplace.accounts import services
from marketplace.accounts.decorators import admin_required
from marketplace.accounts.forms import (
    ApproveForm,
    EndSessionsForm,
    LoginForm,
    LogoutForm,
    SignupForm,
)
from marketplace.accounts.models import Role, User
from marketplace.extensions import db, limiter
from marketplace.models import get_by_id, utcnow
from marketplace.web.limits import by_email_field, setting
from marketplace.web.redirects import safe_next

bp = Blueprint("accounts", __name__)
admin_bp = Blueprint("admin", __name__, url_prefix="/admin")


# What Flask-Login and Flask-WTF keep in the session: a sign-in starts without any of
# them (no earlier identity, a new CSRF token), so a session cookie planted or seen
# before it is worth nothing after it. What the visitor chose before signing in (cart,
# place, market day, language) is theirs and stays.
_SIGNED_IN_KEYS = ("_user_id", "_id", "_fresh", "_remember", "_remember_seconds",
                   "csrf_token")


def _sign_in(user: User) -> None:
    kept = {key: value for key, value in session.items() if key not in _SIGNED_IN_KEYS}
    session.clear()
    session.update(kept)
    g.pop("csrf_token", None)  # Flask-WTF's token for this request, derived from the old one
    login_user(user)


def _home_for(user: User) -> str:
    if user.role == Role.PRODUCER:
        return url_for("farms.dashboard")
    if user.role == Role.ADMIN:
        return url_for("admin.approvals")
    return url_for("catalogue.index")


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(setting("RATELIMIT_SIGN_UP"), methods=["POST"])
def signup():
    if current_user.is_authenticated:
        return redirect(_home_for(current_user))
    form = SignupForm()
    if form.validate_on_submit():
        try:
            user = services.create_user(
                db.session,
                email=form.email.data,
                password=form.password.data,
                display_name=form.display_name.data,
                role=Role(form.role.data),
                hash_method=current_app.config["PASSWORD_HASH_METHOD"],
                now=utcnow(),
            )
        except services.EmailTaken:
            # Someone took the address between validation and insert.
            db.session.rollback()
            form.email.errors = [_("An account already uses this e-mail address.")]
        else:
            _sign_in(user)
            if user.needs_approval:
                flash(
                    _("Welcome! Your account waits for an administrator's approval."), "info"
                )
            else:
                flash(_("Welcome! Your account is ready."), "success")
            return redirect(_home_for(user))
    status = 400 if form.is_submitted() else 200
    return render_template("accounts/signup.html", form=form), status


@bp.route("/login", methods=["GET", "POST"])
# Per account, whoever tries, and per address, whichever account it tries.
@limiter.limit(setting("RATELIMIT_SIGN_IN"), methods=["POST"], key_func=by_email_field)
@limiter.limit(setting("RATELIMIT_SIGN_IN"), methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(_home_for(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(
            db.session, form.email.data, form.password.data,
            current_app.config["PASSWORD_HASH_METHOD"],
        )
        if user is not None:
            _sign_in(user)
            flash(_("You are signed in."), "success")
            return redirect(safe_next(request.args.get("next")) or _home_for(user))
        # Same words whether the e-mail exists or not.
        form.password.errors = [_("Wrong e-mail or password.")]
    status = 400 if form.is_submitted() else 200
    return render_template("accounts/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    form = LogoutForm()
    if not form.validate_on_submit():
        abort(400)
    # Every copy of this session's cookie is refused from now on, not only this one.
    services.end_sessions(current_user)
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("main.home"))


def _render_approvals(status: int = 200):
    users = services.pending_approvals(db.session)
    profiles = services.approval_details(db.session, users)
    problems = {user.id: services.approval_problem(db.session, user, profiles)
                for user in users}
    return render_template("accounts/approvals.html", users=users, profiles=profiles,
                           problems=problems, form=ApproveForm()), status


@admin_bp.route("/approvals")
@admin_required
def approvals():
    return _render_approvals()


@admin_bp.route("/approvals/<int:user_id>", methods=["POST"])
@admin_required
def approve(user_id: int):
    form = ApproveForm()
    if not form.validate_on_submit():
        abort(400)
    user = db.session.get(User, user_id)
    if user is None or not user.needs_approval:
        abort(404)
    try:
        services.approve(db.session, user, by=current_user, now=utcnow())
    except services.ApprovalRefused as exc:
        db.session.rollback()
        flash(str(exc.message), "danger")
        return _render_approvals(status=400)
    flash(_("%(name)s is approved.", name=user.display_name), "success")
    return redirect(url_for("admin.approvals"))


@admin_bp.route("/users")
@admin_required
def users():
    return render_template("accounts/users.html", users=services.list_users(db.session),
                           form=EndSessionsForm())


@admin_bp.route("/users/<int:user_id>/end-sessions", methods=["POST"])
@admin_required
def end_sessions(user_id: int):
    form = EndSessionsForm()
    if not form.validate_on_submit():
        abort(400)
    user = get_by_id(db.session, User, user_id)
    if user is None:
        abort(404)
    services.end_sessions(user)
    if user.id == current_user.id:
        logout_user()
    flash(_("%(name)s is signed out everywhere.", name=user.display_name), "success")
    return redirect(url_for("admin.users") if current_user.is_authenticated
                    else url_for("accounts.login"))
