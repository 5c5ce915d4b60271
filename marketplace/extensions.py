"""Extension objects only; create_app() binds them to the application."""

from flask_babel import Babel
from flask_caching import Cache
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from marketplace.models import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate(render_as_batch=True, compare_type=True)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
# Limits by the client's address unless a route says otherwise (marketplace/web/limits.py);
# storage and switches come from the RATELIMIT_* settings.
limiter = Limiter(key_func=get_remote_address)
cache = Cache()
