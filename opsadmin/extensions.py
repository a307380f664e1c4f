"""Unbound extension objects; each is bound to an app in :func:`opsadmin.app.create_app`."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from opsadmin.db import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
# Storage (Redis when REDIS_URL is set, memory otherwise) is chosen in opsadmin.auth.apikeys.init_api_keys.
limiter = Limiter(key_func=get_remote_address)
