"""The Connection Selector's options: each connection named once, with its status."""

from __future__ import annotations


def test_an_option_names_the_provider_only_when_the_name_does_not(app, people, login, create,
                                                                   client):
    login(people.admin_id)
    create(name="Custom")
    create(name="District SIS")
    html = client.get("/connections/selector", headers={"HX-Request": "true"}).text
    assert ">Custom: Configured<" in html and "Custom (Custom)" not in html
    assert ">District SIS (Custom): Configured<" in html
