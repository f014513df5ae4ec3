"""Issue 24, point 4: the pepper joins the password. A guardian's private keys and TOTP seed are sealed under
Argon2id(password, salt, secret = a key from the server's pepper), so a copy of the database without the environment
file gives nothing to test password guesses against, even the right password. Accounts sealed before are moved over
at their next sign-in."""

from __future__ import annotations

import pytest
from support.factories import PASSWORD, gen_staff, without_the_pepper
from support.html import AuthActions
from support.present import get_row, present

from speakup.crypto import labels, password_keys, sealing
from speakup.keys import account_keys
from speakup.platform.models import User, db


def test_a_copied_database_and_the_right_password_without_the_pepper_open_nothing(app):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    with app.app_context():
        user = get_row(User, gita.id)
        assert user.kdf_peppered
        assert account_keys.unlock_account(user, PASSWORD).private_key  # the real server opens it
        salt, sealed = present(user.password_salt, "salt"), present(user.private_key_ct, "sealed private key")
        # The same derivation without any secret, as a guesser with the backup alone would make, opens nothing.
        guess = password_keys.password_key(PASSWORD, salt, account_keys.password_params_of(user))
        with pytest.raises(sealing.DecryptionError):
            sealing.open_sealed(guess, sealed, labels.account_private_key(salt))
    with without_the_pepper(app):
        with pytest.raises(account_keys.InvalidCredentials):
            account_keys.unlock_account(get_row(User, gita.id), PASSWORD)
        browser = app.test_client()
        refused = AuthActions(browser).sign_in(gita)
        assert refused.status_code == 303 and refused.location == "/guardian/sign-in"
        assert "Enter a correct email address" in browser.get(refused.location).get_data(as_text=True)
        assert browser.get("/guardian/").status_code == 302  # not signed in


def test_an_account_sealed_before_the_pepper_moves_over_at_its_next_sign_in(app, client):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    with app.app_context():  # as a release before this one sealed it: the same keys, no secret
        user = get_row(User, gita.id)
        unlocked = account_keys.unlock_account(user, PASSWORD)
        old = account_keys.password_params_of(user)
        legacy = password_keys.PasswordParams(old.memory_kib, old.iterations, old.lanes, peppered=False)
        account_keys.seal_account(user, PASSWORD, legacy, unlocked.keys, unlocked.totp_secret)
        db.session.commit()
        assert not user.kdf_peppered
        public_key = user.public_key
    assert AuthActions(client).sign_in(gita).status_code == 303
    with app.app_context():
        user = get_row(User, gita.id)
        assert user.kdf_peppered and user.public_key == public_key  # the same keys, sealed again with the pepper
    assert AuthActions(app.test_client()).sign_in(gita).status_code == 303
    with without_the_pepper(app), pytest.raises(account_keys.InvalidCredentials):
        account_keys.unlock_account(get_row(User, gita.id), PASSWORD)
