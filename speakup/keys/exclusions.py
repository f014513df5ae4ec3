"""The guardians a reporter asked to keep out of their concern, sealed under the case key."""

from __future__ import annotations

import json

from sqlalchemy import select

from speakup.crypto import sealing
from speakup.platform.models import (
    Case,
    CaseExclusion,
    db,
)


def _exclusions_aad(case_id: int) -> bytes:
    return sealing.associated_data(case_id, "exclusions", case_id)


def seal_exclusions(case_id: int, case_key: bytes, user_ids: tuple[int, ...]) -> bytes | None:
    """The excluded guardians' ids sealed under the case key, or None when there are none."""
    if not user_ids:
        return None
    return sealing.seal_text(case_key, json.dumps(sorted(user_ids)), _exclusions_aad(case_id))


def excluded_ids(case: Case, case_key: bytes) -> set[int]:
    """Who the reporter asked to keep out: the sealed list, and any plain rows from before it was sealed."""
    ids = set(db.session.scalars(select(CaseExclusion.user_id).where(CaseExclusion.case_id == case.id)))
    if case.exclusions_ct is not None:
        ids.update(json.loads(sealing.open_text(case_key, case.exclusions_ct, _exclusions_aad(case.id))))
    return ids


class ExcludedGuardian(Exception):
    """The person who raised this concern asked for this guardian never to see it."""
