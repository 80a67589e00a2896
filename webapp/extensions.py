"""Flask extensions, created unbound and bound to an app in create_app."""

from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base of every SDM model."""


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login = LoginManager()
csrf = CSRFProtect()
htmx = Htmx()
limiter = Limiter(get_remote_address)  # no default limits: sign-in sets its own

login.login_view = "auth.login"
login.login_message = "Please sign in to continue."
login.login_message_category = "info"
