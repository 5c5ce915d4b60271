from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from marketplace.accounts import services
from marketplace.accounts.decorators import admin_required
from marketplace.accounts.forms import (
    ApproveForm,
    LoginForm,
    LogoutForm,
    RefuseForm,
    SignupForm,
)
from marketplace.accounts.models import Role, User
from marketplace.extensions import db
from marketplace.models import utcnow
from marketplace.web.redirects import safe_next

bp = Blueprint("accounts", __name__)
admin_bp = Blueprint("admin", __name__, url_prefix="/admin")


def _home_for(user: User) -> str:
    if user.role == Role.PRODUCER:
        return url_for("farms.dashboard")
    if user.role == Role.ADMIN:
        return url_for("admin.approvals")
    return url_for("catalogue.index")


@bp.route("/signup", methods=["GET", "POST"])
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
            login_user(user)
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
            login_user(user)
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
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("main.home"))


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
