from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, EqualTo, Length

from marketplace.accounts.models import SIGNUP_ROLES, Role


def _strip(value):
    return value.strip() if isinstance(value, str) else value


ROLE_LABELS = {
    Role.HOUSEHOLD: _l("Household: I buy for my home"),
    Role.PRODUCER: _l("Producer: I sell what my farm grows"),
    Role.RESTAURANT: _l("Restaurant: I buy for my kitchen"),
    Role.HOST: _l("Pickup host: I host a collection point"),
}


def _display_name(label=_l("Your name")) -> StringField:
    return StringField(
        label,
        filters=[_strip],
        validators=[
            DataRequired(message=_l("Please enter your name.")),
            Length(max=120, message=_l("At most %(max)d characters.")),
        ],
    )


def _email(label=_l("E-mail")) -> EmailField:
    return EmailField(
        label,
        filters=[_strip],
        validators=[
            DataRequired(message=_l("Please enter your e-mail address.")),
            Length(max=254, message=_l("At most %(max)d characters.")),
            Email(message=_l("This is not a valid e-mail address."), check_deliverability=False),
        ],
    )


def _current_password(label=_l("Your current password")) -> PasswordField:
    return PasswordField(
        label,
        validators=[
            DataRequired(message=_l("Please enter your password.")),
            Length(max=200, message=_l("At most %(max)d characters.")),
        ],
    )


class NewPasswordForm(FlaskForm):
    """A new password, typed twice: sign-up, reset, change."""

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


class SignupForm(NewPasswordForm):
    # Whether the address has an account already is never said here (services.sign_up).
    display_name = _display_name()
    email = _email()
    role = RadioField(
        _l("I am"),
        choices=[SelectChoice(r.value, ROLE_LABELS[r]) for r in SIGNUP_ROLES],
        default=Role.HOUSEHOLD.value,
        validators=[DataRequired(message=_l("Please choose what kind of account you need."))],
    )
    submit = SubmitField(_l("Create my account"))


class LoginForm(FlaskForm):
    email = EmailField(
        _l("E-mail"),
        filters=[_strip],
        validators=[
            DataRequired(message=_l("Please enter your e-mail address.")),
            Length(max=254, message=_l("At most %(max)d characters.")),
        ],
    )
    password = _current_password(_l("Password"))
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


class EndSessionsForm(FlaskForm):
    submit = SubmitField(_l("End sessions"))


class ForgotPasswordForm(FlaskForm):
    email = _email()
    submit = SubmitField(_l("Send me a link"))


class ResetPasswordForm(NewPasswordForm):
    submit = SubmitField(_l("Save my new password"))


class ResendConfirmationForm(FlaskForm):
    submit = SubmitField(_l("Send the link again"))


# The account page: one form per change, each with its prefix (one page holds them all).

class ProfileForm(FlaskForm):
    display_name = _display_name()
    locale = SelectField(_l("Language of the site and of its e-mails"),
                         choices=[SelectChoice("", _l("The site's default")),
                                  SelectChoice("fr", "Français"),
                                  SelectChoice("en", "English")])
    submit = SubmitField(_l("Save"))


class ChangeEmailForm(FlaskForm):
    new_email = _email(_l("New e-mail address"))
    password = _current_password()
    submit = SubmitField(_l("Send a link to the new address"))


class ChangePasswordForm(NewPasswordForm):
    current = _current_password()
    submit = SubmitField(_l("Change my password"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Next to the current password, the new one says it is new.
        self.password.label.text = _l("New password")
        self.confirm.label.text = _l("New password again")


class DeleteAccountForm(FlaskForm):
    password = _current_password()
    understood = BooleanField(
        _l("I understand that my account cannot be brought back."),
        validators=[DataRequired(message=_l("Tick the box to confirm."))])
    submit = SubmitField(_l("Delete my account"))
