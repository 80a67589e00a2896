"""Property tests: any value in any form field or query parameter never makes a 500.

Forms and query parameters are discovered from the pages themselves (every GET rule of the
URL map, rendered for an admin), so a new form is covered without a list to keep. The app
runs with TESTING on, so an unhandled exception fails the test instead of becoming a page.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.security.matrix import method_of, rules, url_of
from tests.security.servers import TOKEN, Reply, serve
from tests.security.world import build

NASTY = st.sampled_from([
    "\x00", "a\x00b", "\x07\x1b[31m", "9" * 30, "-1", "0", "99999999999999999999",
    "1e309", "NaN", "<script>alert(1)</script>", "../../etc/passwd", "%00", "' OR 1=1 --",
    "\ud7ff\ue000\U0001f600", "x" * 5000, " ", "", "true", "[]", "{}",
    "http://169.254.169.254/latest", "javascript:alert(1)",
])
VALUES = st.one_of(NASTY, st.text(max_size=200), st.integers().map(str))


class Forms(HTMLParser):
    """Collect forms (method, action, field names) and the query parameters links carry."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: dict[tuple[str, str], set[str]] = {}
        self.queries: dict[str, set[str]] = {}
        self._current: tuple[str, str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            method = (attrs.get("method") or "get").upper()
            action = attrs.get("hx-post") or attrs.get("action") or ""
            if action.startswith("/"):
                self._current = (method, action)
                self.forms.setdefault(self._current, set())
        if tag in ("input", "select", "textarea", "button") and self._current and \
                attrs.get("name"):
            self.forms[self._current].add(attrs["name"])
        for name in ("href", "hx-get", "action", "hx-post"):
            url = attrs.get(name) or ""
            if url.startswith("/") and "?" in url:
                parts = urlsplit(url)
                self.queries.setdefault(parts.path, set()).update(
                    key for key, _ in parse_qsl(parts.query, keep_blank_values=True))

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None


def _sis(got):
    return Reply.json(TOKEN) if got.path.startswith("/oauth/token") else \
        Reply.json({"users": []})


@pytest.fixture
def discovered(app):
    with serve(_sis) as sis:
        world = build(app, base_url=sis.url)
        admin = world.clients["admin"]
        parser = Forms()
        pages = []
        for rule in rules(app):
            if method_of(rule) == "GET" and rule.endpoint != "static":
                url = url_of(app, rule, world.values())
                pages.append(url)
                for headers in ({}, {"HX-Request": "true"}):
                    response = admin.get(url, headers=headers)
                    if response.mimetype == "text/html":
                        parser.feed(response.get_data(as_text=True))
        yield world, parser, pages


FAST = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


def test_forms_are_discovered(discovered):
    _, parser, _ = discovered
    actions = {action for _, action in parser.forms}
    assert any(a.startswith("/connections") for a in actions)
    assert any(a.startswith("/flows") for a in actions)
    assert any(a.startswith("/orgs") for a in actions)
    assert sum(len(fields) for fields in parser.forms.values()) >= 30


@FAST
@given(data=st.data())
def test_no_form_value_makes_a_500(discovered, data):
    world, parser, _ = discovered
    (method, action), fields = data.draw(st.sampled_from(sorted(
        (key, sorted(names)) for key, names in parser.forms.items())))
    values = {name: data.draw(VALUES) for name in fields}
    role = data.draw(st.sampled_from(["admin", "member", "outsider"]))
    headers = {"HX-Request": "true"} if data.draw(st.booleans()) else {}
    client = world.clients[role]
    if method == "GET":
        response = client.get(action, query_string=values, headers=headers)
    else:
        response = client.post(action, data=values, headers=headers)
    assert response.status_code < 500


@FAST
@given(data=st.data())
def test_no_query_parameter_makes_a_500(discovered, data):
    world, parser, pages = discovered
    path = data.draw(st.sampled_from(sorted(pages)))
    known = sorted(parser.queries.get(urlsplit(path).path, set())
                   | {"page", "q", "entity", "seen", "next", "selected", "field"})
    names = data.draw(st.lists(st.sampled_from(known), min_size=1, max_size=4))
    query = {name: data.draw(VALUES) for name in names}
    headers = {"HX-Request": "true"} if data.draw(st.booleans()) else {}
    response = world.clients["admin"].get(path, query_string=query, headers=headers)
    assert response.status_code < 500


@FAST
@given(value=st.one_of(st.integers(min_value=-(2**70), max_value=2**70).map(str), NASTY))
def test_no_id_in_a_path_makes_a_500(discovered, value):
    world, _, _ = discovered
    for rule in rules(world.app):
        if "<int:" not in rule.rule or method_of(rule) != "GET":
            continue
        path = rule.rule
        for argument in rule.arguments:
            path = path.replace(f"<int:{argument}>", value).replace(f"<{argument}>", "x")
        response = world.clients["admin"].get(path.replace("\x00", "%00"))
        assert response.status_code < 500
