"""Every sealing label lives in speakup/crypto/labels.py: they are distinct, their bytes never change, and no module
seals or opens anything under a label it spelled itself."""

from __future__ import annotations

import ast
from pathlib import Path

from speakup.crypto import labels

PACKAGE = Path(__file__).resolve().parents[2] / "speakup"
LABELS = PACKAGE / "crypto" / "labels.py"
SEALING_CALLS = {"seal", "seal_text", "open_sealed", "open_text"}

SALT = bytes(range(16))

# What is stored was sealed under these exact bytes (docs/protocol.md): a change here loses every old value.
EXPECTED = {
    "concern": (labels.concern(7), b"speakup-v1|case:7|concern|7"),
    "identity": (labels.identity(7), b"speakup-v1|case:7|identity|7"),
    "language": (labels.language(7), b"speakup-v1|case:7|language|7"),
    "learning": (labels.learning(7), b"speakup-v1|case:7|learning|7"),
    "exclusions": (labels.exclusions(7), b"speakup-v1|case:7|exclusions|7"),
    "message": (labels.message(7, "u1"), b"speakup-v1|case:7|message|u1"),
    "note": (labels.note(7, "u1"), b"speakup-v1|case:7|note|u1"),
    "referral": (labels.referral(7), b"speakup-v1|case:7|referral|7"),
    "extension": (labels.extension(7, "u1"), b"speakup-v1|case:7|extension|u1"),
    "attachment-name": (labels.attachment_name(7, "u1"), b"speakup-v1|case:7|attachment-name|u1"),
    "attachment": (labels.attachment(7, "u1"), b"speakup-v1|case:7|attachment|u1"),
    "share-request": (labels.share_request(7, "u1"), b"speakup-v1|case:7|share-request|u1"),
    "reporter-grant": (labels.reporter_grant(7), b"speakup-v1|case:7|reporter-grant|0"),
    "private-key": (labels.account_private_key(SALT), b"speakup-v1|account|" + SALT.hex().encode() + b"|private-key"),
    "signing-key": (labels.account_signing_key(SALT), b"speakup-v1|account|" + SALT.hex().encode() + b"|signing-key"),
    "totp": (labels.account_totp(SALT), b"speakup-v1|account|" + SALT.hex().encode() + b"|totp"),
    "staff-session": (labels.session(labels.STAFF_SESSION, "s1"), b"speakup-v1|staff-session|s1"),
    "reporter-session": (labels.session(labels.REPORTER_SESSION, "s1"), b"speakup-v1|reporter-session|s1"),
    "staff-session-bound": (labels.staff_session("s1", 4, "b1"), b"speakup-v1|staff-session|s1|4|b1"),
    "submission": (labels.submission("l1"), b"speakup-v1|submission|l1"),
    "kept-form": (labels.kept_form("l1"), b"speakup-v1|kept-form|l1"),
    "unsent-at-time-out": (labels.unsent_at_time_out("a1"), b"speakup-v1|unsent-at-time-out|a1"),
}


def test_every_label_keeps_its_bytes() -> None:
    assert {name: built for name, (built, _) in EXPECTED.items()} == {
        name: expected for name, (_, expected) in EXPECTED.items()
    }
    assert labels.submission_key("form") == "form-submission" and labels.submission_key("api") == "api-submission"
    assert labels.KEPT_FORM_KEY == "kept-form"


def test_labels_are_distinct() -> None:
    built = [value for value, _ in EXPECTED.values()]
    assert len(set(built)) == len(built)
    assert len(set(labels.CASE_FIELDS)) == len(labels.CASE_FIELDS)
    # Every case field is covered above, so a new one cannot slip in without its bytes pinned.
    assert set(labels.CASE_FIELDS) <= set(EXPECTED)


def test_a_label_never_names_another_case_or_record() -> None:
    assert labels.concern(7) != labels.concern(8)
    assert labels.message(7, "u1") != labels.message(7, "u2")
    assert labels.account_totp(SALT) != labels.account_totp(bytes(16))


def _modules() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if PACKAGE / "migrations" not in p.parents and p != LABELS]


def _called_name(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _is_labels_call(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "labels"
    )


def test_no_module_but_labels_spells_a_label() -> None:
    offenders, seen = [], 0
    for path in _modules():
        name = path.relative_to(PACKAGE.parent)
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            called = _called_name(node)
            if called == "associated_data":
                offenders.append(f"{name}:{node.lineno} calls associated_data")
            is_sealing = isinstance(node.func, ast.Attribute) and getattr(node.func.value, "id", "") == "sealing"
            if is_sealing and called in SEALING_CALLS:
                seen += 1
                aad = node.args[2] if len(node.args) > 2 else next(k.value for k in node.keywords if k.arg == "aad")
                if not _is_labels_call(aad):
                    offenders.append(f"{name}:{node.lineno} seals under {ast.unparse(aad)}")
    assert offenders == []
    assert seen > 20, "the scan found no sealing to check"
