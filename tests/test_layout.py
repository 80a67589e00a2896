"""What every page carries: the top bar's links, the skip link, the icon; how pages count."""

from __future__ import annotations

from webapp.wording import counted, entity_label


def test_the_top_bar_links_members_and_for_admins_the_audit_log(people):
    admin = people.signup("ada@example.com", "Springfield District")
    people.join("bob@example.com", "Springfield District", role="member")
    member = people.login("bob@example.com")
    top_bar = admin.get("/connections/").get_data(as_text=True).split("</header>")[0]
    assert 'href="/orgs/members"' in top_bar and 'href="/orgs/audit"' in top_bar
    member_bar = member.get("/flows/").get_data(as_text=True).split("</header>")[0]
    assert 'href="/orgs/members"' in member_bar and 'href="/orgs/audit"' not in member_bar
    members_page = admin.get("/orgs/members").get_data(as_text=True)
    assert 'href="/orgs/members" aria-current="page"' in members_page


def test_every_page_starts_with_a_skip_link_to_the_main_content(client, auth):
    auth.signup()
    html = client.get("/connections/").get_data(as_text=True)
    body = html.split("<body", 1)[1]
    first_link = body.split("<a ", 1)[1]
    assert first_link.startswith('href="#main"') and "Skip to content" in first_link
    assert '<main class="container" id="main"' in html


def test_the_icon_is_served_where_browsers_look_for_it(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml" and b"<svg" in response.data
    assert 'rel="icon"' in client.get("/login").get_data(as_text=True)


def test_counts_read_as_sentences_with_thousands_separators():
    assert counted(1, "users") == "1 user"
    assert counted(2376, "enrollments") == "2,376 enrollments"
    assert counted(1, "classes") == "1 class" and counted(2, "classes") == "2 classes"
    assert counted(1, "orgs") == "1 organization" and counted(0, "orgs") == "0 organizations"
    assert counted(1, "nodes") == "1 node"
    assert entity_label("orgs") == "Organizations"
