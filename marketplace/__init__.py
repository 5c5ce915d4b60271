"""Circuit Court: a marketplace for short food supply chains."""

from __future__ import annotations

import math
import os
import time
from datetime import timedelta
from pathlib import Path

from flask import (
    Flask,
    abort,
    current_app,
    g,
    has_request_context,
    render_template,
    request,
    session,
)
from flask_babel import format_currency, format_decimal, format_timedelta, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, user_logged_in
from flask_wtf.csrf import CSRFError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from marketplace import sqlite as sqlite_setup
from marketplace.config import load_settings
from marketplace.extensions import babel, cache, csrf, db, limiter, login_manager, migrate
from marketplace.models import MAX_ID
from marketplace.transactions import commit_per_request
from marketplace.web import http_cache
from marketplace.web.display import cutoff_people_say, date_people_say
from marketplace.web.headers import PUBLIC_FILE_ENDPOINTS, add_security_headers

ROOT = Path(__file__).resolve().parent.parent
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def create_app(config: dict | None = None) -> Flask:
    instance_path = (config or {}).get("INSTANCE_PATH") or os.environ.get(
        "INSTANCE_PATH", str(ROOT / "instance")
    )
    app = Flask(
        __name__,
        instance_path=instance_path,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.update(load_settings(app.instance_path))
    if config:
        app.config.update(config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    Path(app.config["UPLOAD_FOLDER"]).mkdir(parents=True, exist_ok=True)
    if app.config.get("TRUSTED_PROXIES"):
        # The client's address and scheme as the proxies saw them (rate limits count
        # per address: without this every visitor would be the proxy).
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)

    register_extensions(app)
    register_request_hooks(app)
    register_url_converters(app)
    register_blueprints(app)
    register_receivers()
    register_errorhandlers(app)
    register_template_helpers(app)
    register_cli(app)
    http_cache.register(app)
    return app


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # CLI and scheduled jobs: the site's language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if request.path.startswith("/api/"):
        # The API speaks to programs: English unless the client asks for a language
        # (Accept-Language), whatever the site's session or account says.
        return request.accept_languages.best_match(languages, default="en")
    chosen = session.get("lang")
    if chosen in languages:
        return chosen
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    # French first: the site speaks French unless the visitor asks otherwise.
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def register_extensions(app: Flask) -> None:
    sqlite_setup.configure(app.config["SQLITE_BUSY_TIMEOUT_MS"])
    db.init_app(app)
    cache.init_app(app)
    # Imported here, as the domains below: marketplace stays light to import.
    from marketplace.catalogue import versions as catalogue_versions

    with app.app_context():
        catalogue_versions.watch(db.engine)  # what the page cache is keyed by
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(ROOT / "translations"),
    )
    login_manager.init_app(app)
    limiter.init_app(app)
    # Domain modules are imported when the app is built, not when marketplace is:
    # every domain imports marketplace's base modules, so this keeps them light.
    from marketplace.notifications import init_app as init_notifications

    init_notifications(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Please sign in to see this page.")
    login_manager.login_message_category = "warning"

    # Import models so that metadata and the user loader are complete (when the app is
    # built: see above).
    from marketplace.accounts import models as _accounts  # noqa: F401
    from marketplace.catalogue import models as _catalogue  # noqa: F401
    from marketplace.geo import models as _geo  # noqa: F401
    from marketplace.orders import models as _orders  # noqa: F401
    from marketplace.payments import models as _payments  # noqa: F401
    from marketplace.pickup import market_day_models as _market_days  # noqa: F401
    from marketplace.pickup import models as _pickup  # noqa: F401
    from marketplace.producers import models as _producers  # noqa: F401
    from marketplace.relays import models as _relays  # noqa: F401
    from marketplace.wholesale import invoice_models as _invoices  # noqa: F401
    from marketplace.wholesale import models as _wholesale  # noqa: F401

    @login_manager.user_loader
    def load_user(session_id: str):
        from marketplace.accounts.services import user_for_session_id  # with the app

        # None for a session ended since (signed out, password changed): anonymous.
        return user_for_session_id(db.session, session_id)


def _signed_in() -> bool:
    # Files anyone may see never load the user (one query fewer per image).
    if request.endpoint in PUBLIC_FILE_ENDPOINTS:
        return False
    return bool(current_user and current_user.is_authenticated)


def register_request_hooks(app: Flask) -> None:
    @app.before_request
    def _refuse_nul_bytes():
        # No person types a NUL byte; PostgreSQL cannot store one in text and would
        # fail with a 500 deep inside a query. Refuse it at the door, for every form.
        for values in (request.args.listvalues(), request.form.listvalues()):
            for value_list in values:
                if any("\x00" in v for v in value_list):
                    abort(400)

    @app.before_request
    def _begin_mode():
        # Requests that may write start SQLite transactions with BEGIN IMMEDIATE.
        g._write_token = sqlite_setup.set_write_intent(request.method not in SAFE_METHODS)

    @app.teardown_request
    def _end_mode(exc):
        token = g.pop("_write_token", None)
        if token is not None:
            sqlite_setup.reset_write_intent(token)

    # One commit per request, then what it queued for other services (refunds to
    # Stripe: sent before the answer, as the buyer's next page shows them).
    commit_per_request(app, lambda: db.session)

    @app.after_request
    def _security_headers(response):
        return add_security_headers(
            response, config=app.config, endpoint=request.endpoint, signed_in=_signed_in())


class IdConverter(IntegerConverter):
    """Flask's ``int``, bounded by the largest key the databases store: a larger id in
    a URL matches no route (404) instead of failing in the database driver (500)."""

    def __init__(self, map, *args, max: int | None = MAX_ID, **kwargs):
        super().__init__(map, *args, max=max, **kwargs)


def register_receivers() -> None:
    """Higher domains react to what lower ones announce (accounts/signals.py,
    orders/signals.py, payments/signals.py). Connecting twice changes nothing; the
    order here is the order receivers run in."""
    # Domain modules are imported when the app is built, not when marketplace is:
    # every domain imports marketplace's base modules, so this keeps them light.
    from marketplace.notifications.receivers import connect_receivers as notifications
    from marketplace.orders.receivers import connect_receivers as orders
    from marketplace.payments.receivers import connect_receivers as payments
    from marketplace.pickup.market_day_views import load_on_login
    from marketplace.producers.receivers import connect_receivers as producers
    from marketplace.relays.receivers import connect_receivers as relays
    from marketplace.wholesale.receivers import connect_receivers as wholesale

    producers()
    orders()
    payments()
    wholesale()
    notifications()
    relays()
    # Signing in brings back the market day kept on the account.
    user_logged_in.connect(load_on_login)


def register_url_converters(app: Flask) -> None:
    # Before the blueprints: their rules take the converter when they are added.
    app.url_map.converters["int"] = IdConverter


def register_blueprints(app: Flask) -> None:
    # Domain modules are imported when the app is built, not when marketplace is:
    # every domain imports marketplace's base modules, so this keeps them light.
    from marketplace.accounts.routes import admin_bp
    from marketplace.accounts.routes import bp as accounts_bp
    from marketplace.api.routes import bp as api_bp
    from marketplace.catalogue.csv_routes import bp as csv_bp
    from marketplace.catalogue.routes import bp as catalogue_bp
    from marketplace.catalogue.routes import farm_bp
    from marketplace.discover.map_routes import bp as geo_bp
    from marketplace.discover.market_day_routes import bp as market_day_bp
    from marketplace.discover.near_routes import bp as near_bp
    from marketplace.main.routes import bp as main_bp
    from marketplace.notifications.routes import bp as market_day_mails_bp
    from marketplace.notifications.routes import notices_bp
    from marketplace.orders.closing_routes import bp as closing_bp
    from marketplace.orders.routes import bp as orders_bp
    from marketplace.payments.admin_routes import bp as payments_admin_bp
    from marketplace.payments.checkout_routes import bp as checkout_bp
    from marketplace.payments.farm_routes import bp as farm_ledger_bp
    from marketplace.payments.routes import bp as payments_bp
    from marketplace.pickup.routes import bp as pickup_bp
    from marketplace.producers.routes import bp as producers_bp
    from marketplace.relays.routes import bp as relays_bp
    from marketplace.reports.farm_routes import bp as farm_orders_bp
    from marketplace.reports.farms_routes import bp as farms_bp
    from marketplace.reports.host_routes import bp as distribution_bp
    from marketplace.wholesale.csv_order_routes import bp as order_upload_bp
    from marketplace.wholesale.door_routes import bp as door_bp
    from marketplace.wholesale.invoice_pay_routes import bp as invoice_payments_bp
    from marketplace.wholesale.invoice_routes import bp as invoices_bp
    from marketplace.wholesale.quick_routes import bp as quick_order_bp
    from marketplace.wholesale.routes import bp as wholesale_bp
    from marketplace.wholesale.standing_routes import bp as standing_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(producers_bp)
    app.register_blueprint(farms_bp)
    app.register_blueprint(catalogue_bp)
    app.register_blueprint(farm_bp)
    app.register_blueprint(csv_bp)
    app.register_blueprint(near_bp)
    app.register_blueprint(market_day_bp)
    app.register_blueprint(geo_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(orders_bp)
    app.register_blueprint(checkout_bp)
    app.register_blueprint(closing_bp)
    app.register_blueprint(pickup_bp)
    app.register_blueprint(farm_orders_bp)
    app.register_blueprint(distribution_bp)
    app.register_blueprint(payments_bp)
    app.register_blueprint(wholesale_bp)
    app.register_blueprint(invoice_payments_bp)
    app.register_blueprint(farm_ledger_bp)
    app.register_blueprint(payments_admin_bp)
    app.register_blueprint(standing_bp)
    app.register_blueprint(quick_order_bp)
    app.register_blueprint(order_upload_bp)
    app.register_blueprint(relays_bp)
    app.register_blueprint(invoices_bp)
    app.register_blueprint(door_bp)
    app.register_blueprint(market_day_mails_bp)
    app.register_blueprint(notices_bp)


def register_errorhandlers(app: Flask) -> None:
    messages = {
        400: _l("The request could not be understood."),
        403: _l("You are not allowed to see this page."),
        404: _l("This page does not exist."),
        405: _l("This action is not allowed here."),
        413: _l("The file is too large."),
        500: _l("Something went wrong on our side. Please try again."),
    }

    def render_error(error):
        code = getattr(error, "code", 500) or 500
        if request.path.startswith("/api/"):
            # An HTTP error's own headers stay (a 405's Allow lists the methods that work).
            headers = [
                (name, value)
                for name, value in (error.get_headers() if hasattr(error, "get_headers") else [])
                if name.lower() != "content-type"
            ]
            return {"error": str(messages.get(code, messages[500]))}, code, headers
        return (
            render_template("errors/error.html", code=code, message=messages.get(code, "")),
            code,
        )

    for code in messages:
        app.register_error_handler(code, render_error)

    @app.errorhandler(429)
    def too_many_requests(error):
        # When the count that refused this request starts again (the limiter knows).
        refusing = limiter.current_limit
        wait = max(1, math.ceil(refusing.reset_at - time.time())) if refusing else 60
        message = _("Too many attempts in a short time. Please try again in %(wait)s.",
                    wait=format_timedelta(timedelta(seconds=wait), threshold=1))
        if request.path.startswith("/api/"):
            response = app.json.response({"error": message})
        else:
            response = app.make_response(
                render_template("errors/error.html", code=429, message=message))
        response.status_code = 429
        response.headers["Retry-After"] = str(wait)
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        message = _("Your form expired or was sent from elsewhere. Please go back and try again.")
        return render_template("errors/error.html", code=400, message=message), 400


def register_template_helpers(app: Flask) -> None:
    @app.template_filter("money")
    def money(cents: int | None, currency: str = "EUR") -> str:
        if cents is None:
            return ""
        return format_currency(cents / 100, currency)

    @app.template_filter("km")
    def km(value: float | None) -> str:
        if value is None:
            return ""
        return format_decimal(value, format="#,##0.0")

    # A cut-off as people say it ("mercredi 9 décembre à 18 h"): wherever one is shown.
    app.add_template_filter(cutoff_people_say, "cutoff")
    app.add_template_filter(date_people_say, "longdate")

    @app.template_filter("vat")
    def vat(bp: int) -> str:
        return format_decimal(bp / 100, format="#,##0.#") + " %"

    # Domain modules are imported when the app is built, not when marketplace is:
    # every domain imports marketplace's base modules, so this keeps them light.
    from marketplace.catalogue.forms import MONTH_NAMES
    from marketplace.catalogue.illustrations import favicon_file, illustration_url, main_category

    app.add_template_global(favicon_file)
    app.add_template_global(illustration_url)
    app.add_template_global(main_category)

    @app.context_processor
    def inject_cart_count():
        from marketplace.orders.routes import cart_count  # a domain: see above
        from marketplace.pickup.market_day_views import current_market_day, day_name  # idem

        return {"cart_count": cart_count, "current_market_day": current_market_day,
                "market_day_name": day_name}

    @app.context_processor
    def inject_locale():
        return {
            "current_locale": str(get_locale()),
            "languages": app.config["LANGUAGES"],
            "month_names": MONTH_NAMES,
        }


def register_cli(app: Flask) -> None:
    # Domain modules are imported when the app is built, not when marketplace is:
    # every domain imports marketplace's base modules, so this keeps them light.
    from marketplace.accounts.cli import register as register_accounts_cli
    from marketplace.catalogue.cli import register as register_catalogue_cli
    from marketplace.demo.cli import register as register_demo_cli
    from marketplace.geo.cli import register as register_geo_cli
    from marketplace.jobs import register as register_jobs_cli
    from marketplace.notifications.cli import register as register_notifications_cli
    from marketplace.orders.cli import register as register_orders_cli
    from marketplace.payments.cli import register as register_payments_cli
    from marketplace.pickup.cli import register as register_pickup_cli

    register_accounts_cli(app)
    register_catalogue_cli(app)
    register_demo_cli(app)
    register_geo_cli(app)
    register_orders_cli(app)
    register_jobs_cli(app)
    register_payments_cli(app)
    register_pickup_cli(app)
    register_notifications_cli(app)
    # `flask orders run-standing` joins the orders group.
    # `flask payments audit` joins the payments group.
    import marketplace.reports.cli  # noqa: F401
    import marketplace.wholesale.cli  # noqa: F401
