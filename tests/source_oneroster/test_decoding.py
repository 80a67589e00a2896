"""Pages decoded in processes of their own: the same records, the same errors, nothing lost."""

from __future__ import annotations

import fcntl
import json
import pickle
from pathlib import Path

import orjson
import pytest

from oneroster import decoding, parallel
from oneroster.client import OneRosterClient
from oneroster.decoding import Decoders, JsonObject, from_rows, to_rows
from oneroster.model import ENTITIES, Category
from oneroster.normalize import normalize_page
from tests.source_oneroster import fake_sis
from tests.source_oneroster.fake_sis import Collect, rows, serve, settings

EVERY = (*ENTITIES, "academicSessions", "demographics")


@pytest.fixture
def decode_everything(monkeypatch):
    """Decoders take every page, however small, from the first one on; keep them to look at."""
    monkeypatch.setattr(decoding, "MIN_BYTES", 0)
    monkeypatch.setattr(decoding, "AFTER_BYTES", 0)
    pools: list[Decoders] = []

    class Kept(Decoders):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            pools.append(self)

    monkeypatch.setattr(parallel, "Decoders", Kept)
    return pools


def fetch(settings, entities=EVERY):
    sink = Collect()
    with OneRosterClient(settings) as client:
        result = client.fetch(entities, sink=sink)
    return result, sink


def by_id(sink: Collect, entity: str) -> dict:
    return {r.sourced_id: r for r in sink.records.get(entity, [])}


@pytest.mark.parametrize("profile", ["demo", "oauth1"])  # 1.2 records, and 1.1 ones reshaped
def test_decoders_hand_over_the_records_the_fetch_makes_itself(sandbox, decode_everything,
                                                               profile):
    alone, here = fetch(sandbox.settings(profile, page_size=100))
    result, decoded = fetch(sandbox.settings(profile, page_size=100, decode_processes=2))
    assert alone.ok and result.ok
    assert [pool.processes for pool in decode_everything] == [2]
    for entity in EVERY:
        mine, theirs = by_id(here, entity), by_id(decoded, entity)
        assert mine.keys() == theirs.keys() and mine, entity
        for sourced_id, record in theirs.items():
            assert isinstance(record.data, JsonObject)
            assert tuple(record[:4]) == tuple(mine[sourced_id][:4])
            assert record.data == mine[sourced_id].data
            assert record.raw == mine[sourced_id].raw
    reshaped = [r for r in decoded.records["users"] if r.data != r.raw]
    assert bool(reshaped) == (profile == "oauth1")  # 1.1 roles become 1.2 ones


def test_decoders_end_with_the_fetch(sandbox, decode_everything):
    result, _ = fetch(sandbox.settings("demo", page_size=100, decode_processes=2),
                      entities=("users",))
    assert result.ok
    (pool,) = decode_everything
    assert len(pool.running) == 2
    assert all(d.process.poll() is not None for d in pool.running)


def test_a_page_no_decoder_can_read_is_read_in_place_and_its_fault_named(http,
                                                                      decode_everything):
    fake_sis.token(http)
    users = rows("users", 150)
    del users[120]["sourcedId"]
    serve(http, "users", users)
    result, sink = fetch(settings(decode_processes=1), entities=("users",))
    error = result.results["users"].error
    assert error is not None and error.category == Category.INVALID_RESPONSE
    assert "without a sourcedId" in error.message
    assert len(sink.records["users"]) == 100  # the first page, decoded by the process
    assert all(isinstance(r.data, JsonObject) for r in sink.records["users"])


def test_a_decoder_that_dies_hands_its_pages_back():
    body = orjson.dumps({"users": rows("users", 5)})
    with Decoders(1, min_bytes=0, after_bytes=0) as pool:
        first = pool.submit("users", body)
        assert first is not None and [r.sourced_id for r in first.result(10)] == \
            [f"use-{i:05d}" for i in range(5)]
        pool.running[0].process.kill()
        pool.running[0].process.wait()
        again = pool.submit("users", body)
        assert again is not None and again.result(10) is None  # decoded where it is
        assert pool.submit("users", body) is None  # and every page after it


@pytest.mark.skipif(not hasattr(fcntl, "F_GETPIPE_SZ"), reason="pipe sizes are Linux's alone")
def test_a_page_crosses_to_a_decoder_in_one_go():
    body = orjson.dumps({"users": rows("users", 5)})
    limit = int(Path("/proc/sys/fs/pipe-max-size").read_text())
    with Decoders(1, min_bytes=0, after_bytes=0) as pool:
        assert len(pool.submit("users", body).result(10)) == 5
        (decoder,) = pool.running
        for end in (decoder.to, decoder.back):
            size = fcntl.fcntl(end.fileno(), fcntl.F_GETPIPE_SZ)
            assert size == (decoding.PIPE_BYTES if limit >= decoding.PIPE_BYTES else 65536)


def test_small_pages_and_the_start_of_a_read_are_decoded_in_place():
    body = orjson.dumps({"users": rows("users", 5)})
    with Decoders(1, min_bytes=len(body) + 1, after_bytes=0) as pool:
        assert pool.submit("users", body) is None
        assert pool.running == []  # no process started for it
    with Decoders(1, min_bytes=0, after_bytes=2 * len(body)) as pool:
        assert pool.submit("users", body) is None
        assert pool.submit("users", body) is None
        later = pool.submit("users", body)
        assert later is not None and len(later.result(10)) == 5


def test_rows_make_the_records_normalize_page_makes():
    users = rows("users", 3)
    users[1]["enabledUser"] = True  # reshaped: "true", the server's value kept in raw
    body = orjson.dumps({"users": users})
    records = from_rows("users", to_rows("users", body), body)
    expected = normalize_page("users", orjson.loads(orjson.dumps(users)))
    assert [tuple(r[:4]) for r in records] == [tuple(r[:4]) for r in expected]
    assert [r.data for r in records] == [r.data for r in expected]
    assert [r.raw for r in records] == [r.raw for r in expected]
    assert records[0].data is records[0].raw and records[1].data is not records[1].raw
    assert records[1].data["enabledUser"] == "true" and records[1].raw["enabledUser"] is True


def test_the_rows_of_a_page_in_shape_say_where_its_records_lie_in_the_body():
    users = rows("users", 40)
    body = json.dumps({"users": users}, ensure_ascii=False).encode()  # spaced: ", " and ": "
    sent = to_rows("users", body)
    assert len(sent) < len(body) / 4  # the records' JSON stays where it is
    records = from_rows("users", sent, body)
    assert [r.sourced_id for r in records] == [u["sourcedId"] for u in users]
    assert [orjson.loads(r.data.json) for r in records] == users
    assert all(r.data.json in body for r in records)


@pytest.mark.parametrize("body", [b"not json", b'{"users": {}}', b"[1, 2]",
                                  orjson.dumps({"users": [{"status": "active"}]})])
def test_a_page_that_needs_its_errors_explained_is_not_turned_into_rows(body):
    assert to_rows("users", body) == b""


def test_a_json_object_reads_as_the_dict_it_holds():
    fields = {"sourcedId": "u1", "roles": [{"role": "student"}], "name": "Zoë"}
    held = JsonObject(orjson.dumps(fields))
    assert held == fields and fields == held and held == JsonObject(orjson.dumps(fields))
    assert held["roles"] == [{"role": "student"}] and held.get("missing", 7) == 7
    assert "name" in held and "other" not in held
    assert list(held) == list(fields) and len(held) == 3 and dict(held) == fields
    assert pickle.loads(pickle.dumps(held)) == fields
    assert held.json == orjson.dumps(fields)  # what a store writes, as orjson would
    assert json.loads(held.json) == fields
    with pytest.raises(KeyError):
        held["other"]
    with pytest.raises(TypeError):
        hash(held)
