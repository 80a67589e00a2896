"""The connection test: a checklist run over the OneRoster client, always within a time budget.

Steps, in order: the Base URL's shape, the proxy, the token, the first page of each of the five
collections (in parallel), and what the answers taught about the server. Each step is handed
to ``report`` as soon as it completes. Pure Python over the client: no Flask, no database.
Success means a token (when the auth method uses one) and all five collections readable.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from oneroster.auth import default_token_url
from oneroster.base_url import analyse_base_url, display_url
from oneroster.checklist import (
    FAILED,
    OK,
    SKIPPED,
    STOP_CHECK_S,
    WARNING,
    Budget,
    Checklist,
    Probe,
    Step,
    collection_failure,
    count_text,
    open_client,
    probe_collection,
    short_scope,
)
from oneroster.model import (
    ENTITIES,
    ENTITY_LABELS,
    SCOPE_DEMOGRAPHICS,
    Category,
    ClientSettings,
    OneRosterError,
)
from oneroster.required_fields import required_fields
from oneroster.server_traits import SERVER_STEP, learn

Report = Callable[[dict[str, Any]], None]
ClientFactory = Callable[[ClientSettings], Any]

REQUIRED = ("token", *ENTITIES)  # what must pass for a Success


def initial_steps(entities: tuple[str, ...] = ENTITIES) -> list[Step]:
    """Return the checklist of a connection test, every step pending."""
    return [
        Step("base_url", "Base URL"),
        Step("proxy", "Proxy"),
        Step("token", "Token"),
        *(Step(entity, ENTITY_LABELS[entity]) for entity in entities),
        Step(SERVER_STEP, "About the server"),
    ]


@dataclass
class Attempt:
    """One run of a checklist: its steps, its time budget, its threads, its client once open."""

    checklist: Checklist
    clock: Budget
    pool: ThreadPoolExecutor
    client: Any = None
    suggestion: str | None = None  # the likely correct Base URL, when it looks wrong


@contextmanager
def attempt(settings: ClientSettings, steps: list[Step], *, budget: float,
            report: Report | None, cancel: Any, workers: int, name: str) -> Iterator[Attempt]:
    """Start a checklist within a budget; close its threads and client however it ends."""
    checklist = Checklist(steps, report=report, secret=settings.client_secret, cancel=cancel)
    checklist.emit()
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
    run = Attempt(checklist, Budget(budget), pool)
    try:
        yield run
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        if run.client is not None:
            _close_quietly(run.client)


def signed_in(run: Attempt, settings: ClientSettings,
              client_factory: ClientFactory | None) -> dict[str, Any] | None:
    """Check the Base URL, the proxy and the token, keeping the open client on the attempt.

    Return what the token step learned; None when a step failed (the rest is not tried).
    """
    finding = analyse_base_url(settings.base_url, settings.version)
    run.checklist.complete("base_url", finding.state, finding.summary,
                           details=finding.details, error=finding.error, elapsed_s=0.0)
    run.suggestion = finding.suggestion
    if finding.blocking or not check_proxy(run.checklist, settings, run.clock, run.pool):
        return None
    run.client = open_client(settings, run.clock, client_factory)
    return check_token(run.checklist, settings, run.client, run.clock, run.pool)


def run_check(settings: ClientSettings, *, budget: float = 30.0, report: Report | None = None,
              cancel: Any = None, client_factory: ClientFactory | None = None) -> dict[str, Any]:
    """Test a connection step by step and return the result (also the last thing reported)."""
    with attempt(settings, initial_steps(), budget=budget, report=report, cancel=cancel,
                 workers=len(ENTITIES), name="sdm-check") as run:
        if signed_in(run, settings, client_factory) is not None:
            probes = _check_collections(run.checklist, settings, run.client, run.clock,
                                        run.pool, run.suggestion)
            learn(run.checklist, settings, run.client, run.clock, run.pool, probes)
        return run.checklist.finish(REQUIRED)


def _close_quietly(client: Any) -> None:
    try:
        client.close()
    except Exception:  # a failing close must not turn a result into a crash
        pass


def check_proxy(checklist: Checklist, settings: ClientSettings, clock: Budget,
                pool: ThreadPoolExecutor) -> bool:
    """Check the egress: direct, or through the proxy of the connection's country."""
    if checklist.stopped():
        return False
    country = (settings.proxy_country or "").upper()
    if not country:
        checklist.complete("proxy", OK, "Direct connection",
                           details=["No proxy country is set: requests go straight to the SIS."],
                           elapsed_s=0.0)
        return True
    proxies = {k.upper(): v for k, v in settings.proxies.items()}
    proxy_url = proxies.get(country)
    if not proxy_url:
        error = OneRosterError(
            Category.PROXY,
            f"Proxy country {country} is set, but no proxy is configured for it "
            f"(SDM_PROXY_{country}). SDM never falls back to a direct connection.")
        checklist.fail("proxy", error, elapsed_s=0.0)
        return False
    host, port = _proxy_address(proxy_url)
    started = time.monotonic()
    try:
        checklist.call_within(pool, clock, _tcp_connect, host, port,
                              min(settings.connect_timeout, max(clock.remaining(), 0.1)))
    except OneRosterError as error:
        checklist.fail("proxy", error, elapsed_s=time.monotonic() - started)
        return False
    except OSError as exc:
        error = OneRosterError(
            Category.PROXY,
            f"The {country} proxy at {host}:{port} did not answer "
            f"({exc.strerror or exc.__class__.__name__}).")
        checklist.fail("proxy", error, elapsed_s=time.monotonic() - started)
        return False
    checklist.complete("proxy", OK, f"{country} proxy answered · egress {host}:{port}",
                       details=[f"Every request of this test, the token included, leaves through "
                            f"the {country} proxy at {host}:{port}."],
                   elapsed_s=time.monotonic() - started)
    return True


def _proxy_address(proxy_url: str) -> tuple[str, int]:
    parts = urlsplit(proxy_url if "://" in proxy_url else f"http://{proxy_url}")
    default = {"https": 443, "socks5": 1080, "socks4": 1080}.get(parts.scheme, 80)
    return parts.hostname or "", parts.port or default


def _tcp_connect(host: str, port: int, timeout: float) -> None:
    with socket.create_connection((host, port), timeout=timeout):
        pass


def check_token(checklist: Checklist, settings: ClientSettings, client: Any, clock: Budget,
                pool: ThreadPoolExecutor) -> dict[str, Any] | None:
    """Obtain a token (when the auth method uses one); return what was learned, None on failure."""
    if checklist.stopped():
        return None
    method = settings.auth_method
    if method == "bearer":
        checklist.complete("token", OK, "Static bearer token: no token request",
                           details=["The Client Secret is sent as the bearer token."],
                           elapsed_s=0.0)
        return {"kind": "bearer"}
    if method == "oauth1":
        checklist.complete("token", OK,
                           f"Requests signed with OAuth 1.0a ({settings.signature_method}): "
                           "no token needed", elapsed_s=0.0)
        return {"kind": "oauth1"}
    started = time.monotonic()
    try:
        info = checklist.call_within(pool, clock, client.token)
    except OneRosterError as error:
        checklist.fail("token", error, elapsed_s=time.monotonic() - started)
        return None
    elapsed = time.monotonic() - started
    expires_in = info.expires_at - time.time()
    summary = f"Received · expires in {_duration(expires_in)}"
    used, notes = getattr(client, "token_notes", lambda: (None, []))()
    source = used or settings.auth_url or default_token_url(settings.base_url)
    details = [*notes, f"From {display_url(source)}"]
    if info.scopes is None:
        details.append("The server did not list the scopes it granted.")
    else:
        granted = [short_scope(s) for s in info.scopes]
        details.append("Granted scopes: " + (", ".join(granted) or "none"))
        if SCOPE_DEMOGRAPHICS not in granted:
            details.append(f"Not granted: {SCOPE_DEMOGRAPHICS} (a flow that reads "
                           "demographics will go without them).")
    checklist.complete("token", OK, summary, details=details, elapsed_s=elapsed)
    return {"kind": "oauth2", "expires_in_s": round(expires_in),
            "scopes": list(info.scopes) if info.scopes is not None else None}


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h".replace(".0 h", " h")


def _check_collections(checklist: Checklist, settings: ClientSettings, client: Any, clock: Budget,
                       pool: ThreadPoolExecutor, suggestion: str | None) -> list[Probe]:
    """Read the first page of each collection in parallel; report each as it completes."""
    if checklist.stopped():
        return []
    return probe_collections(
        checklist, clock, pool, ENTITIES, suggestion,
        probe=lambda entity: probe_collection(client, entity, settings.page_size,
                                              settings.version),
        judge=lambda probe: _complete_collection(checklist, probe, settings.version),
    )


# One loop waits, judges each answer and fails what the budget ended: split, it reads worse.
def probe_collections(checklist: Checklist, clock: Budget, pool: ThreadPoolExecutor,
                      entities: tuple[str, ...], suggestion: str | None, *,
                      probe: Callable[[str], Probe], judge: Callable[[Probe], None],
                      ) -> list[Probe]:
    """Probe collections concurrently, judge each as it completes, fail what the budget ends."""
    started = time.monotonic()
    futures: dict[Future, str] = {pool.submit(probe, entity): entity for entity in entities}
    for entity in entities:
        checklist.start(entity)
    checklist.emit()
    probes: list[Probe] = []
    pending = set(futures)
    while pending and not checklist.stopped():
        done, pending = wait(pending, timeout=min(clock.remaining(), STOP_CHECK_S),
                             return_when=FIRST_COMPLETED)
        if not done:
            if clock.remaining() <= 0:
                break
            continue
        for future in done:
            entity = futures[future]
            try:
                result = future.result()
            except OneRosterError as error:
                checklist.fail(entity, collection_failure(error, entity, suggestion),
                               elapsed_s=time.monotonic() - started, emit=False)
                continue
            probes.append(result)
            judge(result)
        checklist.emit()
    for future in pending:
        future.cancel()
        entity = futures[future]
        if checklist.stopped():
            checklist.skip(entity, "Not tried: the test was cancelled")
        else:
            checklist.fail(entity, clock.exceeded(entity), elapsed_s=time.monotonic() - started,
                           emit=False)
    if pending:
        checklist.emit()
    return sorted(probes, key=lambda p: ENTITIES.index(p.entity))


def _complete_collection(checklist: Checklist, probe: Probe, version: str) -> None:
    summary = f"HTTP {probe.status} · {count_text(probe)}"  # the time has a column of its own
    if probe.sample_id is None:
        checklist.complete(probe.entity, WARNING, summary,
                           details=["The collection is empty: there is no record to check."],
                           elapsed_s=probe.elapsed_s, emit=False)
        return
    if probe.missing:
        checklist.complete(probe.entity, WARNING, summary, details=[
            f"Sample record {probe.sample_id} lacks fields the OneRoster {version} "
            f"specification requires: {', '.join(probe.missing)}."],
            elapsed_s=probe.elapsed_s, emit=False)
        return
    fields = required_fields(probe.entity, version)
    checklist.complete(probe.entity, OK, summary, details=[
        f"Sample record {probe.sample_id} has the {len(fields)} required fields."],
        elapsed_s=probe.elapsed_s, emit=False)


__all__ = ["FAILED", "OK", "SKIPPED", "WARNING", "initial_steps", "run_check"]
