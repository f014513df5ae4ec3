"""The guardian's casework on the case page (tests/web/casework/): the helpers are in tests/support/casework.py."""

from __future__ import annotations

import pytest


@pytest.fixture
def app_overrides() -> dict[str, object]:
    # The queue tests raise more concerns than one client may submit in an hour by default.
    return {"SUBMIT_RATE_LIMIT": "1000 per hour"}
