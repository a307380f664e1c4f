"""opsadmin: the operations backend of a chain of ketamine-therapy clinics."""

__version__ = "0.1.0"


def create_app(config=None):
    """Build the Flask application (see :func:`opsadmin.app.create_app`)."""
    from opsadmin.app import create_app as _create_app

    return _create_app(config)


__all__ = ["create_app", "__version__"]
