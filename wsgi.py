"""The WSGI entry point for production servers: ``gunicorn wsgi:app``."""

from opsadmin import create_app

app = create_app()
