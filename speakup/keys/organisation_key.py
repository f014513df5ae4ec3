"""Rotating the organisation signing key, the roster's root of trust (`speakup rotate-organisation-key`).

The key in force signs a hand-over naming a new key (roster_log.handover); the new key signs a checkpoint carrying
the roster, the recovery key and the access codes forward. A server still pinned to the old key follows the
hand-over (keys/roster_replay.py) and logs that its pin must change; one pinned to the new key starts at the new
checkpoint. From then on the old key file is refused everywhere (keys/recovery.py): the old key is retired.
`rotate-recovery-key` does the same in the step that replaces the recovery key (rotate_both_keys), so the old file
is retired whole.
"""

from __future__ import annotations

from sqlalchemy import update

from speakup.crypto import kem, signing
from speakup.keys import anchor, recovery, roster, roster_log, roster_replay
from speakup.keys.recovery import OrganisationSecrets, RosterNotVerified
from speakup.platform import clock
from speakup.platform.config import settings
from speakup.platform.models import KeyPurpose, OrganisationKey, db


def rotate_organisation_key(old: OrganisationSecrets, recovery_public: bytes | None = None) -> bytes:
    """A new organisation signing key in place of ``old.signing_key`` (which must be the key in force: the caller
    read ``old`` with recovery.read_recovery_file), its checkpoint naming ``recovery_public`` (unchanged if None).
    Returns the new private key, for the caller to write to the new key file before committing. Refused during a
    roster alarm: the new key would vouch for a log nobody trusts."""
    if old.signing_key is None:
        raise ValueError("the key file has no organisation signing key")
    if roster.current_roster().problem:
        raise RosterNotVerified()
    recovery_public = recovery_public or kem.public_key_of(old.recovery_key)
    replayed = roster.replay_as_far_as_it_verifies()
    keypair = signing.generate_signing_keypair()
    roster_log.handover(old.signing_key, keypair.public_bytes)
    members = list(replayed.members.values())
    carried = replayed.spent.carried(settings().token_peppers)  # the log verifies: its live links go on working
    roster_log.checkpoint(keypair.private_bytes, recovery_public, members, replayed.codes, carried)
    stored = update(OrganisationKey).where(OrganisationKey.purpose == KeyPurpose.ROSTER)
    db.session.execute(stored.values(public_key=keypair.public_bytes))
    return keypair.private_bytes


def rotate_both_keys(old: OrganisationSecrets) -> tuple[bytes, bytes, int]:
    """`speakup rotate-recovery-key`: the whole old file retired at once (it is rotated because it may have been
    seen, so neither of its keys may stay in force). A new recovery key, every case re-wrapped for it, and a new
    organisation signing key the old one hands the roster over to, whose checkpoint names the new recovery key.
    Returns the new recovery key, the new signing key and how many cases were re-wrapped; the caller writes the new
    file before committing."""
    if old.signing_key is None:
        raise ValueError("the key file has no organisation signing key")
    if roster.current_roster().problem:
        raise RosterNotVerified()
    new_recovery, count = recovery.rotate_recovery_key(old.recovery_key)
    new_signing = rotate_organisation_key(old, kem.public_key_of(new_recovery))
    return new_recovery, new_signing, count


def anchor_new_root(root_public: bytes) -> str | None:
    """After the rotation is committed: this server anchors the log's head for the new root too, so a restart
    pinned to it does not start from whatever the database then holds. Returns why not, if the log does not verify
    under the new root."""
    slot = signing.normalise_fingerprint(signing.roster_fingerprint(root_public))
    replayed = roster_replay.replay(roster_log.entries(), slot, None, int(settings().roster_approvals_required))
    if replayed.problem or replayed.root_key is None:
        return replayed.problem or "no organisation key in force"
    anchored = anchor.Anchor(
        replayed.head_seq,
        replayed.head_hash,
        roster_log.timestamp(clock.utcnow()),
        roster_log.b64(replayed.recovery_key),
        replayed.checkpoint_at,
        signing.roster_fingerprint(replayed.root_key),
    )
    anchor.write_anchor(slot, anchored)
    return None


def pin_leads_to(pinned: str, stored_root: bytes) -> bool:
    """Whether the log, replayed from the pinned key, hands over to ``stored_root``: a server whose pin has not been
    changed since `rotate-organisation-key` (production's start-up check asks, keys/roster.py then verifies)."""
    replayed = roster_replay.replay(roster_log.entries(), signing.normalise_fingerprint(pinned), None, 1)
    return replayed.root_key == stored_root and bool(replayed.retired_roots)
