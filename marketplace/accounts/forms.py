from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    PasswordField,
    RadioField,
    SelectChoice,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError

from marketplace.accounts import services
from marketplace.accounts.models import SIGNUP_ROLES, Role
from marketplace.extensions import db


def _strip(value):
    return value.strip() if isinstance(value, str) else value


ROLE_LABELS = {
    Role.HOUSEHOLD: _l("Household: I buy for my home"),
    Role.PRODUCER: _l("Producer: I sell what my farm grows"),
    Role.RESTAURANT: _l("Restaurant: I buy for my kitchen"),
    Role.HOST: _l("Pickup host: I host a collection point"),
}


class SignupForm(FlaskForm):
    display_name = StringField(
        _l("Your name"),
        filters=[_strip],
        validators=[
            DataRequired(message=_l("Please enter your name.")),
            Length(max=120, message=_l("At most %(max)d characters.")),
        ],
    )
    email = EmailField(
        _l("E-mail"),
        filters=[_strip],
        validators=[
            DataRequired(message=_l("Please enter your e-mail address.")),
            Length(max=254, message=_l("At most %(max)d characters.")),
            Email(message=_l("This is not a valid e-mail address."), check_deliverability=False),
        ],
    )
    password = PasswordField(
        _l("Password"),
        validators=[
            DataRequired(message=_l("Please choose a password.")),
            Length(min=8, max=200, message=_l("Between %(min)d and %(max)d characters.")),
        ],
        description=_l("At least 8 characters."),
    )
    confirm = PasswordField(
        _l("Password again"),
        validators=[
            DataRequired(message=_l("Please type your password again.")),
            EqualTo("password", message=_l("The two passwords differ.")),
        ],
    )
    role = RadioField(
        _l("I am"),
        choices=[SelectChoice(r.value, ROLE_LABELS[r]) for r in SIGNUP_ROLES],
        default=Role.HOUSEHOLD.value,
        validators=[DataRequired(message=_l("Please choose what kind of account you need."))],
    )
    submit = SubmitField(_l("Create my account"))

    def validate_email(self, field):
        if services.email_taken(db.session, field.data or ""):
            raise ValidationError(_l("An account already uses this e-mail address."))


class LoginForm(FlaskForm):
    email = EmailField(
        _l("E-mail"),
        filters=[_strip],
        validators=[
            DataRequired(message=_l("Please enter your e-mail address.")),
            Length(max=254, message=_l("At most %(max)d characters.")),
        ],
    )
    password = PasswordField(
        _l("Password"),
        validators=[
            DataRequired(message=_l("Please enter your password.")),
            Length(max=200, message=_l("At most %(max)d characters.")),
        ],
    )
    submit = SubmitField(_l("Sign in"))


class ApproveForm(FlaskForm):
    submit = SubmitField(_l("Approve"))


class RefuseForm(FlaskForm):
    reason = TextAreaField(
        _l("Why (the person receives it by e-mail)"),
        filters=[_strip],
        validators=[
            DataRequired(message=_l("Say why: the person receives it by e-mail.")),
            Length(max=1000, message=_l("At most %(max)d characters.")),
        ],
    )
    submit = SubmitField(_l("Refuse"))


class LogoutForm(FlaskForm):
    submit = SubmitField(_l("Sign out"))
