"""Running Speak Up as a real server: free ports, a production-mode environment, an emptied PostgreSQL database,
stopping a process. Shared by the server tests (support/servers.py) and the benchmark (bench/run.py)."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def production_env(database_url: str, **settings: str) -> dict[str, str]:
    """A production-mode environment: this process's without any SPEAKUP_ or libpq setting, fresh secrets and
    plain http on the loopback. ``settings`` are added as SPEAKUP_<NAME>."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SPEAKUP_", "PG"))}
    env.update(
        {
            "SPEAKUP_ENVIRONMENT": "production",
            "SPEAKUP_SECRET_KEY": secrets.token_urlsafe(48),
            "SPEAKUP_TOKEN_PEPPER": secrets.token_urlsafe(48),
            "SPEAKUP_SQLALCHEMY_DATABASE_URI": database_url,
            "SPEAKUP_SESSION_COOKIE_SECURE": "false",  # plain http on the loopback interface
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update({f"SPEAKUP_{name.upper()}": value for name, value in settings.items()})
    return env


# The databases this process made, dropped when it ends (drop_made_databases): a test run leaves none behind.
_made: set[tuple[str, str]] = set()


def made(admin_url: str, name: str) -> None:
    """Database ``name`` (reached through ``admin_url``) is this run's own: dropped when the process ends."""
    _made.add((admin_url, name))


def empty_postgres_database(admin_url: str, name: str) -> None:
    """Creates database ``name`` (through ``admin_url``, a database that exists) when missing, and empties it."""
    import psycopg
    from psycopg import sql

    if name != admin_url.rpartition("/")[2].split("?")[0]:
        made(admin_url, name)
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = admin_url.rpartition("/")[0] + "/" + name
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


def stop_process(process: subprocess.Popen) -> None:
    """Stops a server politely, then firmly."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def drop_made_databases() -> None:
    """Drops every database ``empty_postgres_database`` made in this process, closing what is still connected."""
    import psycopg
    from psycopg import sql

    for admin_url, name in sorted(_made):
        try:
            with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        except psycopg.Error:
            pass  # the server is gone: nothing to leave behind there
    _made.clear()
