"""Every label a sealed value is bound to (its associated data), in one place.

A ciphertext opens only under the label it was sealed with, so two values that could share a label could be swapped
in the database without anyone noticing. Keeping every label here lets one test see that none collide, and
docs/protocol.md lists each one beside what it seals. The bytes are stored meaning: a label changed here is every
value sealed under the old one lost, so these strings never change within ``speakup-v1``.
"""

from __future__ import annotations

from speakup.crypto.sealing import PROTOCOL

# The kinds of case field, each sealed under the case key. "reporter-grant" seals the case key itself under a key
# from the access code, but is bound to the case the same way.
CONCERN = "concern"
IDENTITY = "identity"
LEARNING = "learning"
EXCLUSIONS = "exclusions"
MESSAGE = "message"
NOTE = "note"
REFERRAL = "referral"
EXTENSION = "extension"
ATTACHMENT_NAME = "attachment-name"
ATTACHMENT = "attachment"
SHARE_REQUEST = "share-request"
REPORTER_GRANT = "reporter-grant"
LANGUAGE = "language"

CASE_FIELDS = (
    CONCERN,
    IDENTITY,
    LEARNING,
    EXCLUSIONS,
    MESSAGE,
    NOTE,
    REFERRAL,
    EXTENSION,
    ATTACHMENT_NAME,
    ATTACHMENT,
    SHARE_REQUEST,
    REPORTER_GRANT,
    LANGUAGE,
)

# The two kinds of signed-in session whose secret a row keeps sealed under the cookie's key.
STAFF_SESSION = "staff"
REPORTER_SESSION = "reporter"

# The purposes keys are derived from a browser's or client's token for (sealing.key_from_token).
KEPT_FORM_KEY = "kept-form"


def associated_data(case_id: int, kind: str, record_id: str | int) -> bytes:
    """Binds a ciphertext to one field of one record of one case, so it cannot be moved. Callers use the named
    functions below; this is the shape they share."""
    return f"{PROTOCOL}|case:{case_id}|{kind}|{record_id}".encode()


def concern(case_id: int) -> bytes:
    return associated_data(case_id, CONCERN, case_id)


def language(case_id: int) -> bytes:
    """The language the concern was raised in: a fact about the person, sealed like their name."""
    return associated_data(case_id, LANGUAGE, case_id)


def identity(case_id: int) -> bytes:
    return associated_data(case_id, IDENTITY, case_id)


def learning(case_id: int) -> bytes:
    return associated_data(case_id, LEARNING, case_id)


def exclusions(case_id: int) -> bytes:
    return associated_data(case_id, EXCLUSIONS, case_id)


def message(case_id: int, uid: str) -> bytes:
    return associated_data(case_id, MESSAGE, uid)


def note(case_id: int, uid: str) -> bytes:
    return associated_data(case_id, NOTE, uid)


def referral(case_id: int) -> bytes:
    return associated_data(case_id, REFERRAL, case_id)


def extension(case_id: int, uid: str) -> bytes:
    return associated_data(case_id, EXTENSION, uid)


def attachment_name(case_id: int, uid: str) -> bytes:
    return associated_data(case_id, ATTACHMENT_NAME, uid)


def attachment(case_id: int, uid: str) -> bytes:
    return associated_data(case_id, ATTACHMENT, uid)


def share_request(case_id: int, uid: str) -> bytes:
    return associated_data(case_id, SHARE_REQUEST, uid)


def reporter_grant(case_id: int) -> bytes:
    # Record id 0: a case has one reporter grant.
    return associated_data(case_id, REPORTER_GRANT, 0)


def account(user_id: int, email: str, role: str) -> str:
    """Who a staff account is: its id, role and address (lower case). What lets a person act as an account (their
    sealed keys and security code, their sessions) is bound to it, so none of it moves to another row, nor survives
    the row's id, role or address being changed (outside review r4, F2 and F3). The address comes last: only it is
    free text, and everything before it has a fixed shape."""
    return f"{user_id}|{role}|{email.lower()}"


def _account(salt: bytes, field: str) -> bytes:
    # Bound to the password salt it was sealed with, so a secret cannot move to another password.
    return f"{PROTOCOL}|account|{salt.hex()}|{field}".encode()


def _bound_account(salt: bytes, field: str, who: str) -> bytes:
    return f"{PROTOCOL}|account|{salt.hex()}|{field}|{who}".encode()


# An account's keys and TOTP secret as sealed before they were bound to who the account is: opened only while a stamp
# the upgrade made vouches for the row (keys/account_identity.py), and sealed again bound at the next sign-in.
def account_private_key(salt: bytes) -> bytes:
    return _account(salt, "private-key")


def account_signing_key(salt: bytes) -> bytes:
    return _account(salt, "signing-key")


def account_totp(salt: bytes) -> bytes:
    return _account(salt, "totp")


# Sealed now: bound to the salt and to ``who`` (``account``).
def bound_account_private_key(salt: bytes, who: str) -> bytes:
    return _bound_account(salt, "private-key", who)


def bound_account_signing_key(salt: bytes, who: str) -> bytes:
    return _bound_account(salt, "signing-key", who)


def bound_account_totp(salt: bytes, who: str) -> bytes:
    return _bound_account(salt, "totp", who)


def session(kind: str, session_id: str) -> bytes:
    """A signed-in session's secret (STAFF_SESSION or REPORTER_SESSION), bound to its row."""
    return f"{PROTOCOL}|{kind}-session|{session_id}".encode()


def staff_session(session_id: str, user_id: int, binding: str) -> bytes:
    """A staff session's secret, bound to its row, its account and ``binding`` (a keyed hash under the server's
    pepper of the session and who its account is, ``account``; keys/sessions.py): a row moved to another account, an
    account whose id, role or address changed, or a row made under another pepper, opens nothing."""
    return f"{PROTOCOL}|staff-session|{session_id}|{user_id}|{binding}".encode()


def submission(lookup: str) -> bytes:
    """The answer to a sent raise form or API request, bound to its row's lookup."""
    return f"{PROTOCOL}|submission|{lookup}".encode()


def submission_key(kind: str) -> str:
    """The purpose a submission's key is derived for: ``form-submission`` or ``api-submission``."""
    return f"{kind}-submission"


def kept_form(lookup: str) -> bytes:
    """The words of a form that came back with errors, bound to its row's lookup."""
    return f"{PROTOCOL}|kept-form|{lookup}".encode()


def unsent_at_time_out(account: str) -> bytes:
    """The words a guardian had typed when their session timed out, sealed to their own public key (HPKE ``info``),
    bound to the keyed name of their account (speakup/domain/time_outs.py)."""
    return f"{PROTOCOL}|unsent-at-time-out|{account}".encode()
