"""The WSGI application of an installed Speak Up: `gunicorn speakup.wsgi:app` (the repository's wsgi.py is the same)."""

from speakup import create_app

app = create_app()
