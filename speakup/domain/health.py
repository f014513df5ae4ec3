"""What the health answers report: each failed check by a fixed name and fixed words, nothing secret.

Two audiences. A load balancer asks whether this server can answer requests (``serving``): the database answers and
its schema is the one this code was written for. Monitoring asks whether anything needs an operator
(``needing_action``): those, the rate limits' store (Redis, where configured), a trigger, rule, function or operator
the service did not make (platform/foreign_objects.py), a roster alarm, guardians' emails that have not left half an
hour after they were due or that wait further ahead than the service ever schedules (a row pushed into the future is
a stuck row: speakup/ops/outbox.py), and a backup missed. Neither Redis nor a roster alarm is a reason to stop
serving: every server shares them, concerns are still taken (sealed for the recovery key during an alarm), so taking
every server out of the balancer would only turn away the people speaking up.
"""

from __future__ import annotations

import logging

from flask import Flask
from limits.errors import StorageError
from limits.storage import MemoryStorage
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from speakup.keys import roster
from speakup.ops import backups, outbox
from speakup.platform import clock, foreign_objects
from speakup.platform.config import settings
from speakup.platform.extensions import limiter
from speakup.platform.migrations import newest_revision
from speakup.platform.models import db

logger = logging.getLogger(__name__)

Failures = dict[str, str]  # what failed: its name, and what is wrong, in a few fixed words

# The service makes no trigger, rule, function or operator: one was put there by someone who can change the schema,
# and can silently drop or rewrite the service's writes (outside review r5, F1: the roster log's inserts dropped).
TRIGGERS_FAILED = (
    "a trigger, rule, function or other object the service did not make: a security incident; see the log and "
    "docs/deploy.md"
)


def serving() -> Failures:
    """What stops this server answering requests properly; empty when nothing does."""
    failed: Failures = {}
    try:
        revision = db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:
        db.session.rollback()
        failed["database"] = "not answering"
        revision = None
    else:
        if revision != newest_revision():
            failed["schema"] = "not at the newest migration: run flask speakup init (docs/deploy.md, section 12)"
    for name in failed:
        logger.error("Health check failed: %s", name)
    return failed


def needing_action() -> Failures:
    """``serving``'s failures, the rate limits' store, a roster alarm, emails stuck in the mail outbox, and a backup
    missed."""
    failed = serving()
    if not _limit_store_answers():
        failed["redis"] = "the rate limits' store is not answering"
        logger.error("Health check failed: redis")
    kept = settings().backups
    if kept.folder is not None and backups.is_stale(kept.folder, kept.max_age_hours, clock.utcnow()):
        failed["backup"] = f"no backup in the last {kept.max_age_hours} hours: see speakup-backup.service"
        logger.error("Health check failed: backup")
    if "database" not in failed:
        if foreign_triggers():
            failed["database_triggers"] = TRIGGERS_FAILED
            logger.error("Health check failed: database_triggers")
        current = roster.current_roster()
        if current.problem or current.failures:
            failed["roster"] = "a roster alarm: see the queue's notice and run flask speakup roster verify"
            logger.error("Health check failed: roster")
        now = clock.utcnow()
        count, _oldest = outbox.overdue(now)
        if count or outbox.pushed_ahead(now):
            failed["outbox"] = "guardians' emails are not being sent: see the log and run flask speakup mail deliver"
            logger.error("Health check failed: outbox")
    return failed


def _limit_store_answers() -> bool:
    store = limiter.storage
    if isinstance(store, MemoryStorage):  # in this process: nothing to reach
        return True
    try:
        return bool(store.check())
    except (StorageError, OSError):
        return False


def foreign_triggers() -> int:
    """How many objects the service did not make could change its writes or reads (platform/foreign_objects.py),
    each logged at ERROR by kind and name; 0 if the database does not answer (``serving`` says so)."""
    try:
        found = foreign_objects.foreign_objects(db.session(), sorted(db.metadata.tables))
    except SQLAlchemyError:
        db.session.rollback()
        return 0
    for kind, name in found:
        logger.error("database_trigger_found: a %s the service did not make, %s: it can drop or change what is "
                     "written or read", kind, name)  # fmt: skip
    return len(found)


def report_foreign_triggers(app: Flask) -> None:
    """At a production start: logged, never refused, so that an operator can still read /healthz."""
    with app.app_context():
        try:
            foreign_triggers()
        finally:
            db.session.remove()
