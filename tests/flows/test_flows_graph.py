"""The graph rules and layout, without a database."""

from __future__ import annotations

from tests.flows.flowkit import graph, source
from webapp.flows import graph as g
from webapp.flows.views import layout

SOURCES = {"source-oneroster", "source-test-data"}
OUTPUTS = {"output-oneroster-csv"}


def check(flow_graph, connections=(3, 4)):
    return g.check(flow_graph, source_plugins=SOURCES, output_plugins=OUTPUTS,
                   connection_plugins={"source-oneroster"}, connections=set(connections))


def test_one_source_and_an_output_is_valid():
    assert check(graph(source())).ok


def test_output_missing():
    problems = check(graph(source(), output=False))
    assert any("Add an output" in m for m in problems.flow)


def test_no_source():
    assert any("Add a source" in m for m in check(graph()).flow)


def test_two_sources_without_a_merge():
    problems = check(graph(source("source-1"), source("source-2"), merge=False))
    assert any("merge node" in m for m in problems.flow)
    assert check(graph(source("source-1"), source("source-2"))).ok


def test_a_merge_needs_two_sources_and_a_full_precedence():
    one = graph(source(), merge=True)
    assert "A merge needs two or more sources" in " ".join(check(one).of("merge"))
    two = graph(source("source-1"), source("source-2"))
    two["nodes"][2]["config"]["precedence"] = ["source-1"]
    assert "every source exactly once" in " ".join(check(two).of("merge"))


def test_source_without_connection_and_missing_connection():
    problems = check(graph(source("source-1", plugin="source-oneroster"),
                           source("source-2", plugin="source-oneroster", connection_id=99),
                           source("source-3", plugin="source-oneroster", connection_id=3)))
    assert problems.of("source-1") == ["Choose a connection for this source."]
    assert problems.of("source-2")[0].startswith("Connection missing")
    assert problems.of("source-3") == []


def test_unknown_plugins_and_bad_options():
    bad = graph(source(plugin="source-gone"), output=False)
    bad["nodes"].append({"id": "output", "kind": "output", "plugin": "output-gone"})
    problems = check(bad)
    assert "not installed" in problems.of("source-1")[0]
    assert "not installed" in problems.of("output")[0]
    options = check(graph(source(entities=[], sync="sometimes", schools=[""])))
    assert len(options.of("source-1")) == 3


def test_editing_keeps_precedence_in_step_with_sources():
    flow_graph, first = g.add_source(g.empty(), "source-test-data", "A")
    flow_graph, second = g.add_source(flow_graph, "source-test-data", "B")
    flow_graph = g.set_output(g.add_merge(flow_graph), "output-oneroster-csv")
    assert [n["kind"] for n in flow_graph["nodes"]] == ["source", "source", "merge", "output"]
    assert g.merge(flow_graph)["config"]["precedence"] == [first, second]
    flow_graph = g.move_in_precedence(flow_graph, second, -1)
    assert g.merge(flow_graph)["config"]["precedence"] == [second, first]
    flow_graph, third = g.add_source(flow_graph, "source-test-data", "C")
    assert g.merge(flow_graph)["config"]["precedence"] == [second, first, third]
    flow_graph = g.remove_node(flow_graph, first)
    assert g.merge(flow_graph)["config"]["precedence"] == [second, third]
    assert third == "source-3" and g.add_source(flow_graph, "x", "D")[1] == "source-1"


def test_layout_connects_sources_to_merge_to_output():
    picture = layout(graph(source("source-1"), source("source-2")))
    assert [(e.start, e.end) for e in picture.edges] == [
        ("source-1", "merge"), ("source-2", "merge"), ("merge", "output")]
    merge = picture.box("merge")
    assert picture.box("source-1").out_x < merge.in_x < picture.box("output").in_x
    assert picture.width >= picture.box("output").out_x


def test_layout_draws_no_edge_between_unmerged_sources_and_the_output():
    picture = layout(graph(source("source-1"), source("source-2"), merge=False))
    assert picture.edges == []
    assert [(e.start, e.end) for e in layout(graph(source())).edges] == [
        ("source-1", "output")]
