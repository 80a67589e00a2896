"""Every rule of the URL map, asked by a stranger, another organization, a member and an admin.

The rules are discovered from the app; each must have an expected answer here, so a new
route without one fails. "login": sent to sign in; "404": as if nothing were there (never
telling that another organization's object exists); "403": known but not allowed; "ok":
the view did its work (including a form's own refusal of empty input).
"""

from __future__ import annotations

import pytest

from tests.security.matrix import ROLES, method_of, outcome, rules, url_of
from tests.security.servers import TOKEN, Reply, serve
from tests.security.world import ORG, build

L, N, F, K = "login", "404", "403", "ok"
PUBLIC = (K, K, K, K)
ANY_MEMBER = (L, K, K, K)  # scoped to the active organization: another sees only its own
MEMBERS = (L, N, K, K)  # the district's objects: members and admins
ADMINS = (L, N, F, K)  # the district's objects: admins only
AUTHOR = (L, N, N, K)  # drafts are their author's own

EXPECTED: dict[str, tuple[str, str, str, str]] = {
    "static": PUBLIC, "main.healthz": PUBLIC, "main.favicon": PUBLIC, "main.index": ANY_MEMBER,
    "auth.login": PUBLIC, "auth.authenticate": PUBLIC, "auth.signup": PUBLIC,
    "auth.create_account": PUBLIC, "auth.logout": (L, L, L, L), "auth.invite": PUBLIC,
    # Signed in with another email than the invite's: refused; signed out: the sign-up form.
    "auth.accept_invite": (K, F, F, F),
    # One's own account: anyone signed in, whatever their organization.
    # The world's token is not a sign-up link: nobody gets anywhere with it.
    "auth.confirm_signup": (N, N, N, N), "auth.finish_signup": (N, N, N, N),
    "auth.change_password": (L, K, K, K), "auth.save_password": (L, K, K, K),
    "orgs.switch": MEMBERS, "orgs.new": ANY_MEMBER, "orgs.create": ANY_MEMBER,
    "orgs.members": ANY_MEMBER, "orgs.add_member": (L, K, F, K), "orgs.audit": (L, K, F, K),
    "orgs.audit_csv": (L, K, F, K),
    "orgs.change_role": ADMINS, "orgs.remove_member": ADMINS, "orgs.revoke_invite": ADMINS,
    "orgs.invitations": ANY_MEMBER,
    # The invite is for newbie@example.com: nobody here may use it.
    "orgs.accept_invitation": (L, N, N, N), "orgs.decline_invitation": (L, N, N, N),
    "connections.index": ANY_MEMBER, "connections.new": ANY_MEMBER,
    "connections.create": ANY_MEMBER, "connections.selector": ANY_MEMBER,
    "connections.selector_news": ANY_MEMBER,
    "connections.selected_test_status": ANY_MEMBER, "connections.test_values": ANY_MEMBER,
    "connections.show": MEMBERS, "connections.test_badge": MEMBERS,
    "connections.start_test": MEMBERS, "connections.test_status": MEMBERS,
    "connections.cancel_test": MEMBERS, "connections.values_test_status": MEMBERS,
    "connections.cancel_values_test": MEMBERS,
    "connections.edit": ADMINS, "connections.update": ADMINS,
    "connections.confirm_delete": ADMINS, "connections.delete": ADMINS,
    "connections.test_edited_values": ADMINS,
    "flows.index": ANY_MEMBER, "flows.start_wizard": ANY_MEMBER,
    "flows.start_editor": ANY_MEMBER, "flows.show": MEMBERS, "flows.edit": MEMBERS,
    "flows.delete": ADMINS,
    **{f"flows.{name}": AUTHOR for name in (
        "discard_draft", "preflight_status", "editor", "editor_graph", "editor_node",
        "editor_add_merge", "editor_update_node", "editor_remove_node", "editor_move",
        "editor_save", "editor_add_source", "editor_validate", "resume_wizard",
        "wizard_step", "wizard_configure", "wizard_options", "wizard_preview",
        "wizard_save", "wizard_source")},
    "runs.show": MEMBERS, "runs.progress": MEMBERS, "runs.data": MEMBERS,
    "runs.download": MEMBERS, "runs.history": MEMBERS, "runs.start": MEMBERS,
    "runs.cancel": MEMBERS, "runs.retry": MEMBERS, "runs.write_output": MEMBERS,
    # Admins, the flow's creator and whoever started the run: Max is none of these.
    "runs.delete": ADMINS,
    "schedules.show": MEMBERS, "schedules.save": MEMBERS,
    "notifications.index": ANY_MEMBER, "notifications.save_choices": ANY_MEMBER,
    # Olga administers her own organization; Max is a member only.
    "notifications.add_webhook": (L, K, F, K),
    # No webhook has this id: refused for members before the lookup, 404 for admins.
    "notifications.delete_webhook": (L, N, F, N),
    "runs.activity": ANY_MEMBER,
}
# Rules whose success changes what later requests would see: each gets a world of its own.
CHANGES_THE_WORLD = {
    "auth.logout", "orgs.create", "orgs.change_role", "orgs.remove_member",
    "orgs.revoke_invite", "connections.delete", "flows.delete", "flows.discard_draft",
    "flows.editor_remove_node", "flows.editor_save", "flows.wizard_save", "runs.delete",
}


def _sis(got):
    return Reply.json(TOKEN) if got.path.startswith("/oauth/token") else \
        Reply.json({"users": []})


@pytest.fixture
def sis():
    with serve(_sis) as server:
        yield server


def test_every_rule_has_an_expected_answer(app):
    endpoints = {rule.endpoint for rule in rules(app)}
    assert sorted(endpoints - set(EXPECTED)) == [], "add these rules to EXPECTED"
    assert sorted(set(EXPECTED) - endpoints) == [], "these rules are gone"


def _ask(world, rule, role):
    client = world.clients[role]
    url = url_of(world.app, rule, world.values())
    response = client.get(url) if method_of(rule) == "GET" else client.post(url)
    answer = outcome(response)
    if role == "other" and answer == "ok" and rule.endpoint != "auth.invite":
        # Another organization's person sees their own organization, never this one.
        assert ORG not in response.get_data(as_text=True), rule.endpoint
    return answer


def _check(world, selected):
    found = {rule.endpoint: tuple(_ask(world, rule, role) for role in ROLES)
             for rule in selected}
    wrong = {endpoint: {"expected": EXPECTED[endpoint], "got": got}
             for endpoint, got in found.items() if got != EXPECTED[endpoint]}
    assert wrong == {}


def test_every_page_and_fragment(app, sis):
    _check(build(app, base_url=sis.url),
           [r for r in rules(app) if method_of(r) == "GET" and r.endpoint in EXPECTED])


def test_every_action_that_leaves_the_world_as_it_was(app, sis):
    _check(build(app, base_url=sis.url),
           [r for r in rules(app) if method_of(r) == "POST" and r.endpoint in EXPECTED
            and r.endpoint not in CHANGES_THE_WORLD])


@pytest.mark.parametrize("endpoint", sorted(CHANGES_THE_WORLD))
def test_every_action_that_changes_the_world(app, sis, endpoint):
    _check(build(app, base_url=sis.url), [r for r in rules(app) if r.endpoint == endpoint])
