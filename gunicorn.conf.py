"""gunicorn settings for `gunicorn wsgi:app` from the repository: the package's own (speakup/gunicorn_conf.py), which an
installed wheel uses as `gunicorn -c python:speakup.gunicorn_conf speakup.wsgi:app`."""

from speakup.gunicorn_conf import *  # noqa: F403 - gunicorn reads the settings from this module's names
