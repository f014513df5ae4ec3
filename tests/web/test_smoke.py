from support.factories import gen_concern
from support.html import post_form


def test_home_links(client):
    page = client.get("/").get_data(as_text=True)
    assert "Raise a concern" in page and "Check on a concern you raised" in page


def test_raise_and_follow_up(client):
    raised = gen_concern(client)
    r = post_form(client, "/follow-up", access_code=raised["access_code"])
    assert r.status_code == 302, r.get_data(as_text=True)
    page = client.get("/follow-up/case").get_data(as_text=True)
    assert "night shift" in page
