from speakup.wsgi import app  # noqa: F401 - `gunicorn wsgi:app` from the repository (docs/interface.md)
