from __future__ import annotations

from flask import (
    Blueprint,
    Response,
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

from marketplace import downloads
from marketplace.accounts import export, services, tokens
from marketplace.accounts.decorators import admin_required
from marketplace.accounts.forms import (
    ApproveForm,
    ChangeEmailForm,
    ChangePasswordForm,
    DeleteAccountForm,
    EndSessionsForm,
    ForgotPasswordForm,
    LoginForm,
    LogoutForm,
    ProfileForm,
    RefuseForm,
    ResendConfirmationForm,
    ResetPasswordForm,
    SignupForm,
)
from marketplace.accounts.models import Role, User
from marketplace.extensions import db, limiter
from marketplace.models import get_by_id, utcnow
from marketplace.web.limits import by_account_or_address, by_email_field, setting
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


@bp.before_app_request
def _forget_deleted_accounts():
    # A deleted account may still be signed in on another browser: it is signed out
    # there at its next request.
    if current_user.is_authenticated and current_user.deleted_at is not None:
        logout_user()


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
        lang = session.get("lang")
        try:
            services.sign_up(
                db.session, current_app.config,
                email=form.email.data,
                password=form.password.data,
                display_name=form.display_name.data,
                role=Role(form.role.data),
                locale=lang if lang in current_app.config["LANGUAGES"] else None,
                now=utcnow(),
            )
            db.session.commit()
        except services.EmailTaken:
            # Someone took the address between the check and the insert: the same
            # answer as for any address that has an account.
            db.session.rollback()
        # The same answer whether or not the address had an account.
        session["signup_email"] = services.normalise_email(form.email.data)
        return redirect(url_for("accounts.check_inbox"), code=303)
    status = 400 if form.is_submitted() else 200
    return render_template("accounts/signup.html", form=form), status


@bp.route("/signup/check-your-inbox")
def check_inbox():
    return render_template("accounts/check_inbox.html", email=session.get("signup_email"))


def _link_problem(exc: Exception, kind: str):
    """The page of a link that no longer works: 400 when it was never good, 410 when
    it expired or was used; each offers a way to ask for a new one."""
    if isinstance(exc, tokens.BadLink):
        reason, status = "bad", 400
    elif isinstance(exc, tokens.ExpiredLink):
        reason, status = "expired", 410
    else:
        reason, status = "used", 410
    return render_template("accounts/link_problem.html", kind=kind, reason=reason,
                           resend_form=ResendConfirmationForm()), status


_LINK_ERRORS = (tokens.BadLink, tokens.ExpiredLink, services.UsedLink)


@bp.route("/confirm/<token>")
def confirm_email(token: str):
    # A GET: mail clients and scanners open links; confirming twice changes nothing.
    try:
        user = services.confirm_email(db.session, current_app.config, token, now=utcnow())
    except _LINK_ERRORS as exc:
        db.session.rollback()
        return _link_problem(exc, "confirm")
    db.session.commit()
    flash(_("Thank you: your e-mail address %(email)s is confirmed.", email=user.email),
          "success")
    if current_user.is_authenticated:
        return redirect(_home_for(current_user))
    return redirect(url_for("accounts.login"))


@bp.route("/confirm", methods=["POST"])
@login_required
@limiter.limit(setting("RATELIMIT_EMAIL_CONFIRMATION"), methods=["POST"],
               key_func=by_account_or_address)
@limiter.limit(setting("RATELIMIT_EMAIL_CONFIRMATION"), methods=["POST"])
def resend_confirmation():
    form = ResendConfirmationForm()
    if not form.validate_on_submit():
        abort(400)
    if services.send_confirmation(db.session, current_app.config, current_user):
        db.session.commit()
        flash(_("We sent a new link to %(email)s.", email=current_user.email), "info")
    else:
        flash(_("Your e-mail address is confirmed already."), "info")
    return redirect(safe_next(request.args.get("next")) or _home_for(current_user), code=303)


@bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit(setting("RATELIMIT_PASSWORD_RESET"), methods=["POST"], key_func=by_email_field)
@limiter.limit(setting("RATELIMIT_PASSWORD_RESET"), methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        services.request_password_reset(db.session, current_app.config, form.email.data)
        db.session.commit()
        # The same answer whether or not the address has an account.
        return render_template("accounts/forgot_sent.html",
                               email=services.normalise_email(form.email.data))
    status = 400 if form.is_submitted() else 200
    return render_template("accounts/forgot_password.html", form=form), status


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    config = current_app.config
    try:
        services.user_of_reset_token(db.session, config, token)
    except _LINK_ERRORS as exc:
        return _link_problem(exc, "reset")
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            services.reset_password(db.session, config, token, form.password.data,
                                    now=utcnow())
        except _LINK_ERRORS as exc:
            db.session.rollback()
            return _link_problem(exc, "reset")
        db.session.commit()
        # Whoever was signed in on this browser signs in again, with the new password.
        logout_user()
        flash(_("Your new password is saved. Sign in with it."), "success")
        return redirect(url_for("accounts.login"), code=303)
    status = 400 if form.is_submitted() else 200
    return render_template("accounts/reset_password.html", form=form), status


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


# The account page ----------------------------------------------------------------------------

def _render_account(status: int = 200, **forms):
    user = current_user
    forms.setdefault("profile_form", ProfileForm(
        prefix="profile", formdata=None, display_name=user.display_name,
        locale=user.locale or ""))
    forms.setdefault("email_form", ChangeEmailForm(prefix="email", formdata=None))
    forms.setdefault("password_form", ChangePasswordForm(prefix="password", formdata=None))
    forms.setdefault("delete_form", DeleteAccountForm(prefix="delete", formdata=None))
    return render_template(
        "accounts/account.html", user=user,
        deletion_problems=[str(p) for p in services.deletion_problems(db.session, user,
                                                                      now=utcnow())],
        resend_form=ResendConfirmationForm(), **forms), status


@bp.route("/account")
@login_required
def account():
    return _render_account()


@bp.route("/account/profile", methods=["POST"])
@login_required
def update_profile():
    form = ProfileForm(prefix="profile")
    if not form.validate_on_submit():
        return _render_account(400, profile_form=form)
    services.update_profile(db.session, current_user, display_name=form.display_name.data,
                            locale=form.locale.data)
    db.session.commit()
    if current_user.locale:
        session["lang"] = current_user.locale
    flash(_("Saved."), "success")
    return redirect(url_for("accounts.account"), code=303)


@bp.route("/account/email", methods=["POST"])
@login_required
def request_email_change():
    form = ChangeEmailForm(prefix="email")
    if form.validate_on_submit():
        try:
            services.request_email_change(db.session, current_app.config, current_user,
                                          new_email=form.new_email.data,
                                          password=form.password.data)
        except services.WrongPassword:
            form.password.errors = [_("This is not your current password.")]
        else:
            db.session.commit()
            flash(_("We sent a link to %(email)s: your account moves to that address once "
                    "you open it.", email=services.normalise_email(form.new_email.data)),
                  "info")
            return redirect(url_for("accounts.account"), code=303)
    return _render_account(400, email_form=form)


@bp.route("/account/email/<token>")
def change_email(token: str):
    try:
        user = services.apply_email_change(db.session, current_app.config, token,
                                           now=utcnow())
    except _LINK_ERRORS as exc:
        db.session.rollback()
        return _link_problem(exc, "change")
    db.session.commit()
    flash(_("Your account now uses %(email)s.", email=user.email), "success")
    if current_user.is_authenticated:
        return redirect(url_for("accounts.account"))
    return redirect(url_for("accounts.login"))


@bp.route("/account/password", methods=["POST"])
@login_required
def change_password():
    form = ChangePasswordForm(prefix="password")
    if form.validate_on_submit():
        try:
            services.change_password(db.session, current_user, current=form.current.data,
                                     new=form.password.data,
                                     hash_method=current_app.config["PASSWORD_HASH_METHOD"])
        except services.WrongPassword:
            form.current.errors = [_("This is not your current password.")]
        else:
            db.session.commit()
            # Every other session ended with the old password; this one goes on.
            _sign_in(current_user._get_current_object())
            flash(_("Your password is changed. You are signed out everywhere else."),
                  "success")
            return redirect(url_for("accounts.account"), code=303)
    return _render_account(400, password_form=form)


@bp.route("/account/sessions/end", methods=["POST"])
@login_required
def end_my_sessions():
    """"Sign out everywhere": every session of the person ends, this one too."""
    if not EndSessionsForm().validate_on_submit():
        abort(400)
    services.end_sessions(current_user)
    db.session.commit()
    logout_user()
    flash(_("You are signed out on every device. Sign in again here."), "info")
    return redirect(url_for("accounts.login"), code=303)


@bp.route("/account/export.json")
@login_required
def export_json():
    data = services.export_data(db.session, current_user)
    return Response(export.as_json(data), mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="circuit-court-{current_user.id}.json"',
        "Cache-Control": "private, no-store"})


@bp.route("/account/export.csv")
@login_required
def export_csv():
    data = services.export_data(db.session, current_user)
    style = downloads.page_csv_style()
    return downloads.csv_download(style.encode(export.csv_rows(data, style)),
                                  f"circuit-court-{current_user.id}.csv")


@bp.route("/account/delete", methods=["POST"])
@login_required
def delete_account():
    form = DeleteAccountForm(prefix="delete")
    if form.validate_on_submit():
        try:
            services.delete_account(db.session, current_user, password=form.password.data,
                                    now=utcnow())
        except services.WrongPassword:
            form.password.errors = [_("This is not your current password.")]
        except services.DeletionRefused:
            db.session.rollback()  # the page says why, from deletion_problems
        else:
            db.session.commit()
            logout_user()
            session.clear()
            flash(_("Your account is deleted. What the law requires us to keep is kept "
                    "without your name or address."), "info")
            return redirect(url_for("main.home"), code=303)
    return _render_account(400, delete_form=form)


def _render_approvals(status: int = 200, *, refuse_form: RefuseForm | None = None,
                      refusing: int | None = None):
    users = services.pending_approvals(db.session)
    profiles = services.approval_details(db.session, users)
    problems = {user.id: services.approval_problem(db.session, user, profiles)
                for user in users}
    return render_template("accounts/approvals.html", users=users, profiles=profiles,
                           problems=problems, form=ApproveForm(),
                           refused=services.refused_accounts(db.session),
                           refuse_form=refuse_form or RefuseForm(formdata=None),
                           refusing=refusing), status


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


@admin_bp.route("/refusals/<int:user_id>", methods=["POST"])
@admin_required
def refuse(user_id: int):
    """Refuse an account waiting for approval; the reason is e-mailed to the person."""
    user = db.session.get(User, user_id)
    if user is None or not user.needs_approval or user.approved_at is not None \
            or user.refused_at is not None:
        abort(404)  # only an account waiting for approval is refused
    form = RefuseForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _render_approvals(status=400, refuse_form=form, refusing=user.id)
    services.refuse(db.session, user, by=current_user, reason=form.reason.data, now=utcnow())
    flash(_("%(name)s is refused: the reason is e-mailed.", name=user.display_name), "success")
    return redirect(url_for("admin.approvals"), code=303)
