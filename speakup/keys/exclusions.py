"""The guardians a reporter asked to keep out of their concern, sealed under the case key.

Every case carries the sealed list, an empty one included, so a list that is missing was removed by someone
writing to the database: sharing that case then stops (``ExclusionsMissing``) rather than treating it as empty.
"""

from __future__ import annotations

import json

from sqlalchemy import select

from speakup.crypto import labels, sealing
from speakup.platform.models import (
    Case,
    CaseExclusion,
    db,
)


class ExcludedGuardian(Exception):
    """The person who raised this concern asked for this guardian never to see it."""


class ExclusionsMissing(Exception):
    """The case's sealed list of excluded guardians is missing, so nobody can tell who may see it: it is shared with
    nobody until the list is sealed again with the recovery key (`speakup exclusions seal`)."""


def seal_exclusions(case_id: int, case_key: bytes, user_ids: tuple[int, ...]) -> bytes:
    """The excluded guardians' ids sealed under the case key; an empty list is sealed too."""
    return sealing.seal_text(case_key, json.dumps(sorted(user_ids)), labels.exclusions(case_id))


def excluded_ids(case: Case, case_key: bytes) -> set[int]:
    """Who the reporter asked to keep out: the sealed list, and any plain rows from before it was sealed."""
    if case.exclusions_ct is None:
        raise ExclusionsMissing()
    ids = set(db.session.scalars(select(CaseExclusion.user_id).where(CaseExclusion.case_id == case.id)))
    ids.update(json.loads(sealing.open_text(case_key, case.exclusions_ct, labels.exclusions(case.id))))
    return ids


def legacy_excluded_ids(case: Case, case_key: bytes) -> set[int]:
    """For sealing a case's list again: plain rows from before lists were sealed, and the sealed list if present."""
    ids = set(db.session.scalars(select(CaseExclusion.user_id).where(CaseExclusion.case_id == case.id)))
    if case.exclusions_ct is not None:
        ids.update(json.loads(sealing.open_text(case_key, case.exclusions_ct, labels.exclusions(case.id))))
    return ids
