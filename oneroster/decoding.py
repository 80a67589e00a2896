"""Pages decoded in processes of their own, so that a fast SIS keeps every core busy.

Parsing and normalising a page takes the interpreter lock for as long as the work lasts: in
one process, however many threads fetch, one core decodes. A Decoders pool runs
``python -m oneroster.decoding`` processes that take a page's body and send back compact
rows: per record its sourcedId, status and dateLastModified, and where its JSON lies in the
body when the page is in the 1.2 shape already (oneroster/shapes.py), or else its JSON as
normalised (oneroster/normalize.py) and serialised once. The fetch's own process never builds
the records' dicts: a record's data is a JsonObject, a read-only mapping that holds the JSON
and parses it only if someone reads a field. Whoever stores records takes the JSON as it is.
A page in shape that no decoder takes is read the same way where it is (decoded_here).

A page a decoder cannot turn into rows (not JSON, not a collection, a record without a
sourcedId...) is decoded again in the fetch's process, where the usual checks say exactly
what is wrong; a decoder that dies hands every later page back the same way. Nothing is lost
either way, only the speed.
"""

from __future__ import annotations

import fcntl
import gc
import marshal
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import Future
from itertools import repeat
from multiprocessing.connection import Connection
from operator import add, is_
from typing import Any

import orjson

from oneroster.model import Record
from oneroster.normalize import DATA_TYPE, normalize_page, page_rows
from oneroster.shapes import rows_in_shape

STOP_S = 5.0  # how long a decoder may take to end once told to
# Pages smaller than this are decoded where they are: sending them costs more than it saves.
MIN_BYTES = 64 * 1024
# The bodies a fetch decodes itself before it starts decoders (some 25 pages of users, a
# quarter of a district of 5,000 students): starting them costs more than a small read.
AFTER_BYTES = 16 * 1024 * 1024
# A decoder makes as many short-lived containers as the fetch did (see decode_pages).
GC_THRESHOLD_0 = 100_000
PIPE_BYTES = 1024 * 1024  # Linux's limit for a pipe's buffer, unless raised


class JsonObject(Mapping):
    """A record's fields as JSON bytes, parsed the first time a field is read.

    ``json`` is the object as the server sent it, or as orjson writes it once normalised;
    equal to, and read like, the dict it holds.
    """

    __slots__ = ("json", "_fields")

    def __init__(self, json: bytes) -> None:
        self.json = json
        self._fields: dict[str, Any] | None = None

    def fields(self) -> dict[str, Any]:
        """Return the fields as a dict (parsed once; do not change it)."""
        fields = self._fields
        if fields is None:
            fields = self._fields = orjson.loads(self.json)
        return fields

    def __getitem__(self, key: str) -> Any:
        return self.fields()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields().get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self.fields()

    def __iter__(self) -> Iterator[str]:
        return iter(self.fields())

    def __len__(self) -> int:
        return len(self.fields())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, JsonObject):
            return self.json == other.json or self.fields() == other.fields()
        return self.fields() == other

    __hash__ = None  # type: ignore[assignment]  # as a dict's

    def __repr__(self) -> str:
        return f"JsonObject({self.json!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return JsonObject, (self.json,)


class Decoder:
    """One decoder process and the pipes to it."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            # -P: the working directory is not searched for modules to import
            [sys.executable, "-P", "-m", "oneroster.decoding"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, close_fds=True)
        assert self.process.stdin is not None and self.process.stdout is not None
        for pipe in (self.process.stdin, self.process.stdout):
            _widen(pipe.fileno())
        self.to = Connection(os.dup(self.process.stdin.fileno()), readable=False)
        self.back = Connection(os.dup(self.process.stdout.fileno()), writable=False)
        self.process.stdin.close()
        self.process.stdout.close()

    def decode(self, entity: str, body: bytes) -> bytes:
        self.to.send_bytes(entity.encode())
        self.to.send_bytes(body)
        return self.back.recv_bytes()

    def stop(self) -> None:
        self.to.close()  # the decoder ends when its input does
        try:
            self.process.wait(STOP_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.back.close()


def _widen(pipe: int) -> None:
    """Let a pipe hold a whole page, so that a body crosses in one go, not in 16 turns."""
    setting = getattr(fcntl, "F_SETPIPE_SZ", None)  # Linux's alone
    if setting is None:
        return
    try:
        fcntl.fcntl(pipe, setting, PIPE_BYTES)
    except OSError:  # above the system's limit: the usual 64 KiB does, only slower
        pass


class Decoders:
    """Decoder processes, each with a thread of this process that hands it pages in turn.

    submit() returns at once: the thread that read a page goes on to its next request while
    a decoder works. Pages smaller than `min_bytes`, which cost less to decode than to send,
    are decoded where they are, and so are the first `after_bytes` of a fetch: a small
    district is read before processes would have started. The processes start after that.
    """

    def __init__(self, processes: int, min_bytes: int | None = None,
                 after_bytes: int | None = None) -> None:
        self.processes = processes
        self.min_bytes = MIN_BYTES if min_bytes is None else min_bytes
        self.after_bytes = AFTER_BYTES if after_bytes is None else after_bytes
        self.read = 0  # bytes of the bodies offered so far
        self.running: list[Decoder] = []  # the decoder processes, as they start
        self.work: queue.Queue[tuple[Future, str, bytes] | None] = queue.Queue()
        self.threads: list[threading.Thread] | None = None  # None until started
        self.lock = threading.Lock()
        self.broken = False  # no decoder to be had (any more): pages are decoded where they are

    def submit(self, entity: str, body: bytes) -> Future | None:
        """Hand a page to a decoder; the future's result is its records, or None when the
        page must be decoded where it is. None (no future) when no decoder takes it."""
        self.read += len(body)  # from several threads: a byte miscounted is no harm
        if self.broken or len(body) < self.min_bytes or self.read <= self.after_bytes \
                or entity not in DATA_TYPE or not self._started():
            return None
        future: Future = Future()
        self.work.put((future, entity, body))
        return future

    def _started(self) -> bool:
        with self.lock:
            if self.threads is None:
                self.threads = []
                for number in range(self.processes):
                    thread = threading.Thread(target=self._feed, name=f"decoder-{number}",
                                              daemon=True)
                    thread.start()
                    self.threads.append(thread)
            return not self.broken

    def _feed(self) -> None:
        """Hand pages to one decoder process until told to stop, or until it dies."""
        try:
            decoder = Decoder()
            self.running.append(decoder)
        except OSError:  # no process to be had
            self.broken = True
            decoder = None
        try:
            while (job := self.work.get()) is not None:
                future, entity, body = job
                rows = b""
                if decoder is not None and not self.broken:
                    try:
                        rows = decoder.decode(entity, body)
                    except (OSError, EOFError):  # it died: later pages are decoded here
                        self.broken = True
                future.set_result(from_rows(entity, rows, body) if rows else None)
                del job, future, body
        finally:
            if decoder is not None:
                decoder.stop()

    def close(self) -> None:
        """Stop every decoder and wait until it has ended; pages from now are decoded here."""
        with self.lock:
            threads, self.threads, self.broken = self.threads or [], [], True
        for _ in threads:
            self.work.put(None)
        for thread in threads:
            thread.join()

    def __enter__(self) -> Decoders:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_NEW = tuple.__new__


def to_rows(entity: str, body: bytes) -> bytes:
    """Return a page's records as compact rows (in a decoder), or b"" if it needs checking."""
    same: dict[str | None, str | None] = {}
    found = rows_in_shape(entity, body)
    if found is not None:  # where each record's JSON lies in the body, not the JSON
        ids, statuses, modified, starts, lengths = found
        return marshal.dumps((ids, statuses, list(map(same.setdefault, modified, modified)),
                              (starts, lengths), None))
    try:
        rows = page_rows(entity, orjson.loads(body))
        if rows is None:
            return b""
        records = normalize_page(entity, rows)
    except Exception:  # noqa: BLE001 - the fetch's own process says what is wrong
        return b""
    if not records:
        return marshal.dumps(((), (), (), [], None))
    _entities, ids, statuses, modified, datas, raws = zip(*records, strict=True)
    dumps = orjson.dumps
    jsons = list(map(dumps, datas))
    if all(map(is_, datas, raws)):  # as the server sent them: one JSON serves as both
        raw_jsons = None
    else:
        raw_jsons = [None if data is raw else dumps(raw)
                     for data, raw in zip(datas, raws, strict=True)]
    # Statuses and dates repeat down a page: sent once each, they arrive as one object each.
    return marshal.dumps((ids, tuple(map(same.setdefault, statuses, statuses)),
                          tuple(map(same.setdefault, modified, modified)), jsons, raw_jsons))


def from_rows(entity: str, rows: bytes, body: bytes) -> list[Record]:
    """Return the Records of a decoder's rows for a page's body: their data JsonObjects,
    not yet parsed."""
    ids, statuses, modified, datas, raws = marshal.loads(rows)
    if datas.__class__ is tuple:  # where each record lies in the body
        datas = _cut(body, *datas)
    return _records(entity, ids, statuses, modified, datas, raws)


def decoded_here(entity: str, body: bytes) -> Future | None:
    """Return the done future of a page's records, read in this process, when the page is
    in the 1.2 shape already (oneroster/shapes.py); None when it needs reading in full."""
    found = rows_in_shape(entity, body)
    if found is None:
        return None
    ids, statuses, modified, starts, lengths = found
    future: Future = Future()
    future.set_result(_records(entity, ids, statuses, modified, _cut(body, starts, lengths),
                               None))
    return future


def _cut(body: bytes, starts: list[int], lengths: list[int]) -> list[bytes]:
    return list(map(body.__getitem__, map(slice, starts, map(add, starts, lengths))))


def _records(entity: str, ids: list, statuses: list, modified: list, datas: list[bytes],
             raws: list[bytes | None] | None) -> list[Record]:
    data = list(map(JsonObject, datas))
    raw = data if raws is None else [d if r is None else JsonObject(r)
                                     for d, r in zip(data, raws, strict=True)]
    return list(map(_NEW, repeat(Record), zip(repeat(entity), ids, statuses, modified, data,
                                              raw)))


def decode_pages(into: Connection, out: Connection) -> None:
    """Decode pages until the input ends: a collection's name, then a body, then rows back."""
    gc.set_threshold(GC_THRESHOLD_0, *gc.get_threshold()[1:])
    while True:
        try:
            entity = into.recv_bytes().decode()
            body = into.recv_bytes()
        except EOFError:
            return
        out.send_bytes(to_rows(entity, body))
        del body


if __name__ == "__main__":
    into_fd, out_fd = os.dup(0), os.dup(1)
    os.dup2(2, 1)  # anything printed goes to the error stream, not into the rows
    decode_pages(Connection(into_fd, writable=False), Connection(out_fd, readable=False))
