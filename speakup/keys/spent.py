"""Enrolment links and statistics tokens as the roster log names them (keys/roster_log.py: ``link_issued``,
``link_used``, ``token_revoked``): the replay's part, what a checkpoint carries forward, and the decisions
domain/enrolment.py and reporting/stats_tokens.py take from the verified roster.

Why the log and not the rows or the audit trail (outside review r4 of issue 27, F1): ``used_at``, ``revoked_at`` and
``expires_at`` are plain values a database writer can clear or put back, and the audit chain's tail is anchored
nowhere at request time, so deleting its newest rows reopened a used link. The roster log is anchored outside the
database by every server at once: an entry removed or edited, or the log cut back, is a roster alarm, during which no
link opens and no token is taken.

The entries are unsigned, so a database writer can append one. A ``link_used`` or ``token_revoked`` they append only
refuses more. A ``link_issued`` could bring a used or replaced link back, so it carries a proof: a keyed hash under
the pepper of its whole statement, place and time included, which a writer cannot make or move.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from speakup.crypto import sealing
from speakup.keys.roster_log import LINK_ISSUED, LINK_PROOF, LINK_USED, Entry, canonical, parse_at

UNAVAILABLE = "unavailable"  # a roster alarm: nothing the log says can be trusted, so no link opens


@dataclass(frozen=True)
class Link:
    account: dict[str, Any]  # the account it was issued for: user_id, email (lower case), role
    at: str  # when the log recorded its issue: its hours run from here
    proof: str | None  # the keyed hash of ``proven`` under the pepper; None: carried by a signed checkpoint
    proven: str = ""


@dataclass
class Spent:
    links: dict[str, Link] = field(default_factory=dict)  # a link's keyed hash -> its newest issue
    newest: dict[int, str] = field(default_factory=dict)  # account id -> the keyed hash of its newest link
    used: set[str] = field(default_factory=set)  # links used since the checkpoint
    revoked: set[str] = field(default_factory=set)  # statistics tokens revoked, carried by every checkpoint

    def apply(self, row: Entry, statement: dict[str, Any]) -> str | None:
        """One entry's effect, or why it cannot be trusted (a roster alarm)."""
        if row.kind == LINK_ISSUED:
            link, account, proof = statement.get("link"), statement.get("account"), statement.get("proof")
            if not isinstance(link, str) or not _is_account(account, row.user_id) or not isinstance(proof, str):
                return "the enrolment link statement is malformed"
            proven = canonical({name: value for name, value in statement.items() if name != "proof"})
            self.links[link] = Link(account, str(statement.get("at", "")), proof, proven)  # type: ignore[arg-type]
            self.newest[account["user_id"]] = link  # type: ignore[index]  # _is_account checked it is a dict
            return None
        named = statement.get("link" if row.kind == LINK_USED else "token")
        if not isinstance(named, str):
            return "the statement is malformed"
        (self.used if row.kind == LINK_USED else self.revoked).add(named)
        return None

    def carried(
        self, peppers: Sequence[bytes] | None, revoked_elsewhere: Iterable[str] = ()
    ) -> dict[str, object]:
        """What a new checkpoint names: every revoked token (with ``revoked_elsewhere``, those the audit trail and
        the rows record), and each account's newest unused link whose proof holds under ``peppers``. None: no link
        (`speakup roster accept`, after an alarm: whether a link was used since cannot be known; reset the account)."""
        links = [
            {"link": name, "account": self.links[name].account, "at": self.links[name].at}
            for _user_id, name in sorted(self.newest.items())
            if peppers is not None and name not in self.used and _proven(self.links[name], peppers)
        ]
        return {"links": links, "revoked_tokens": sorted(self.revoked | set(revoked_elsewhere))}


FORGED = "an enrolment link statement's proof does not hold: the service did not write it"


def forged_issue(spent: Spent, peppers: Sequence[bytes]) -> str | None:
    """Why the log cannot be trusted if an account's newest link is one whose proof does not hold under ``peppers``
    (a copy of an older issue, or one a database writer made): a forgery, a roster alarm like any other, never a
    "newest link" that makes the real one answer "expired" (outside review r5, F4). An issue a later genuine one
    replaced decides nothing, so an issue under a pepper since dropped from the fallbacks alarms only while it is
    its account's newest."""
    forged = [name for name in spent.newest.values() if not _proven(spent.links[name], peppers)]
    return FORGED if forged else None


def from_checkpoint(checkpoint: dict[str, Any]) -> Spent | None:
    """The links and tokens a checkpoint carries (none, in one from before them), or None if it is malformed."""
    links, revoked = checkpoint.get("links", []), checkpoint.get("revoked_tokens", [])
    if not isinstance(links, list) or not isinstance(revoked, list) or not all(isinstance(r, str) for r in revoked):
        return None
    spent = Spent(revoked=set(revoked))
    for carried in links:
        if not isinstance(carried, dict) or not isinstance(carried.get("link"), str):
            return None
        account = carried.get("account")
        if not _is_account(account, account.get("user_id") if isinstance(account, dict) else None):
            return None
        spent.links[carried["link"]] = Link(account, str(carried.get("at", "")), None)  # type: ignore[arg-type]
        spent.newest[account["user_id"]] = carried["link"]  # type: ignore[index]
    return spent


def _is_account(account: object, user_id: object) -> bool:
    return (
        isinstance(account, dict)
        and isinstance(user_id, int)
        and account.get("user_id") == user_id
        and isinstance(account.get("email"), str)
        and isinstance(account.get("role"), str)
    )


def _proven(link: Link, peppers: Sequence[bytes]) -> bool:
    """Whether the service made this issue: its proof under a configured pepper (each compared, all of them), or a
    checkpoint the organisation key signed carried it."""
    if link.proof is None:
        return True
    matches = [hmac.compare_digest(sealing.keyed_hash(p, link.proven, LINK_PROOF), link.proof) for p in peppers]
    return any(matches)


def link_refuses(
    spent: Spent | None,
    token_hash: str,
    account: dict[str, object],
    now: datetime,
    hours: float,
    peppers: Sequence[bytes],
) -> str | None:
    """Why the verified log says this link cannot be used, or None: it must be the newest link the log names as
    issued (and proven) for this very account, unused, within ``hours`` of its issue as the log records it."""
    if spent is None:
        return UNAVAILABLE
    if token_hash in spent.used:
        return "used"
    link = spent.links.get(token_hash)
    if link is None or link.account != account or not _proven(link, peppers):
        return "unknown"
    issued, user_id = parse_at(link.at), account["user_id"]
    replaced = not isinstance(user_id, int) or spent.newest.get(user_id) != token_hash
    return "expired" if replaced or issued is None or issued + timedelta(hours=hours) <= now else None
