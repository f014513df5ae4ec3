"""The names a reporter excludes by are the names the service gave (outside review r8, F1).

The raise form offers the verified roster's guardians by name, and a concern is not wrapped for the one chosen. The
names came from `users.name`, which nothing vouched for: a database writer with only the service's own role swapped
two guardians' names, the reporter excluded "Harry Guardian", and the concern went to Harry (Gita's row wore his
name). Now the account's identity stamp covers its name, and a guardian whose row is not as the service left it is
offered to nobody and receives no case key: a roster alarm, not a quiet swap."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update
from support.factories import gen_concern, gen_staff, guardians_wrapped_for

from speakup.platform.models import User, db


def _rename(app: Flask, user_id: int, name: str) -> None:
    with app.app_context():
        db.session.execute(update(User).where(User.id == user_id).values(name=name))
        db.session.commit()


def test_two_guardians_names_swapped_in_the_database_reach_no_concern(app: Flask, client: FlaskClient) -> None:
    gita = gen_staff(app, "gita@example.org", name="Gita Guardian")
    harry = gen_staff(app, "harry@example.org", name="Harry Guardian")
    ivy = gen_staff(app, "ivy@example.org", name="Ivy Guardian")
    _rename(app, gita.id, "Harry Guardian")
    _rename(app, harry.id, "Gita Guardian")
    offered = client.get("/raise").get_data(as_text=True)
    assert "Harry Guardian" not in offered and "Gita Guardian" not in offered and "Ivy Guardian" in offered
    # The row that now wears Harry's name (Gita's) cannot be chosen, and neither Gita nor Harry receives the case.
    refused = client.post("/api/v1/concerns", json={"what_happened": "x", "anonymity": "anonymous",
                                                    "exclude_guardian": str(gita.id)})  # fmt: skip
    assert refused.status_code == 422
    reference = gen_concern(client)["reference"]
    assert guardians_wrapped_for(app, reference) == {ivy.id}
    assert "roster" in (app.test_client().get("/healthz").get_json().get("failed") or {})


@pytest.mark.parametrize("name", ["Harry Guardian", "Gita  Guardian", "gita guardian", ""])
def test_any_change_of_a_guardians_name_in_the_database_leaves_them_out(app: Flask, client: FlaskClient, name) -> None:
    gita = gen_staff(app, "gita@example.org", name="Gita Guardian")
    ivy = gen_staff(app, "ivy@example.org", name="Ivy Guardian")
    _rename(app, gita.id, name)
    reference = gen_concern(client)["reference"]
    assert guardians_wrapped_for(app, reference) == {ivy.id}


def test_a_guardian_stamped_before_migration_0027_is_stamped_again(app: Flask, client: FlaskClient) -> None:
    """The upgrade stamps every row whose stamp held as 0025 made it: the guardian signs in and receives concerns."""
    from flask_migrate import downgrade
    from support.html import signed_in

    from speakup.platform.migrations import enable_migrations, upgrade_schema

    gita = gen_staff(app, "gita@example.org", name="Gita Guardian")
    with app.app_context():
        enable_migrations(app)
        db.session.remove()
        downgrade(revision="0026")  # the stamp as 0025 made it, without the name
        upgrade_schema()
    reference = gen_concern(client)["reference"]
    assert guardians_wrapped_for(app, reference) == {gita.id}
    assert signed_in(app, gita).get("/guardian/").status_code == 200


@pytest.mark.parametrize("second", ["Harry Guardian", "harry  guardian", "Harry\u200b Guardian", "Ｈarry Guardian"])
def test_two_guardians_whose_names_read_the_same_are_told_apart_by_their_address(
    app: Flask, client: FlaskClient, second: str
) -> None:
    """Outside review r9, F1: a second "Harry Guardian" (two staff sharing a name, or a look-alike with a hidden
    character), approved as any guardian is, stood beside the first on the raise form with nothing to tell them apart;
    the reporter excluded one and the other received the concern."""
    harry = gen_staff(app, "harry@example.org", name="Harry Guardian")
    other = gen_staff(app, "harry2@example.org", name=second)
    ivy = gen_staff(app, "ivy@example.org", name="Ivy Guardian")
    listed = {entry["id"]: entry["name"] for entry in client.get("/api/v1/options").get_json()["guardians"]}
    assert listed[str(harry.id)] == "Harry Guardian (harry@example.org)"
    assert listed[str(other.id)] == f"{second} (harry2@example.org)"
    assert listed[str(ivy.id)] == "Ivy Guardian"  # a name nobody else reads alike is shown as it is
    page = client.get("/raise").get_data(as_text=True)
    assert "Harry Guardian (harry@example.org)" in page and "(harry2@example.org)" in page
