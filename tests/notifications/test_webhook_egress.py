"""Webhooks connect to the very address the egress policy checked, and follow no redirect."""

from __future__ import annotations

import ssl
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from tests.notifications.test_notifications import add_webhook, ended_run
from webapp.extensions import db
from webapp.models import RunStatus
from webapp.models.common import utcnow
from webapp.models.notifications import Delivery, DeliveryState
from webapp.notifications import pinned
from webapp.schedules import scheduler


class Resolver:
    """A DNS of the test's own: each name answers its next scripted look, then its last."""

    def __init__(self) -> None:
        self.answers: dict[str, list[list[str]]] = {}
        self.looks: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.looks.append(host)
        script = self.answers[host]
        return script.pop(0) if len(script) > 1 else script[0]


@pytest.fixture
def dns():
    return Resolver()


@pytest.fixture
def app_config(app_config, dns):
    # Plain http:// to a made-up name, so the test's receiver on loopback can play the endpoint.
    return {**app_config, "EGRESS_RESOLVER": dns, "ALLOW_HTTP": True}


def hook_url(receiver, name: str) -> str:
    return receiver.url.replace("127.0.0.1", name)


def webhook_delivery():
    return db.session.scalar(select(Delivery).where(Delivery.channel == "webhook"))


def test_a_name_that_rebinds_is_connected_where_it_was_checked(app, ada, flows, receiver, dns):
    dns.answers["hooks.rebind.test"] = [["127.0.0.1"]]
    add_webhook(ada, hook_url(receiver, "hooks.rebind.test"))
    # From now on the name answers the receiver once, then the cloud metadata address.
    dns.answers["hooks.rebind.test"] = [["127.0.0.1"], ["169.254.169.254"]]
    dns.looks.clear()
    flow_id = flows.create()
    ended_run(app, flow_id, RunStatus.FAILED, error="Timeout")
    with app.app_context():
        scheduler.tick()
        hook = webhook_delivery()
        assert (hook.state, hook.attempts, hook.last_error) == (DeliveryState.DELIVERED, 1, None)
    [posted] = receiver.received  # reached through the address that was checked, by name
    assert posted["headers"]["Host"] == f"hooks.rebind.test:{urlsplit(receiver.url).port}"
    assert dns.looks == ["hooks.rebind.test"]  # one look decides and is connected to

    # The next attempt looks again, meets the refused address and connects nowhere.
    ended_run(app, flow_id, RunStatus.FAILED, error="Timeout again")
    with app.app_context():
        scheduler.tick()
        hook = db.session.scalars(select(Delivery).where(Delivery.channel == "webhook")
                                  .order_by(Delivery.id.desc())).first()
        assert hook.state == DeliveryState.RETRYING and hook.last_status is None
        assert "hooks.rebind.test (169.254.169.254)" in hook.last_error
        assert "never connects" in hook.last_error
    assert len(receiver.received) == 1


def test_a_name_with_one_refused_address_is_refused(app, ada, flows, receiver, dns):
    dns.answers["hooks.split.test"] = [["127.0.0.1"]]
    add_webhook(ada, hook_url(receiver, "hooks.split.test"))
    dns.answers["hooks.split.test"] = [["127.0.0.1", "10.0.0.8"]]
    ended_run(app, flows.create(), RunStatus.FAILED)
    with app.app_context():
        scheduler.tick()
        hook = webhook_delivery()
        assert hook.state == DeliveryState.RETRYING
        assert "hooks.split.test (10.0.0.8)" in hook.last_error
        assert "private network" in hook.last_error
    assert receiver.received == []


def test_a_redirect_to_a_refused_address_is_not_followed(app, ada, flows, receiver, dns):
    dns.answers["metadata.rebind.test"] = [["169.254.169.254"]]
    receiver.statuses = [302]
    receiver.location = "http://metadata.rebind.test/latest/meta-data/"
    add_webhook(ada, receiver.url)
    ended_run(app, flows.create(), RunStatus.FAILED)
    with app.app_context():
        scheduler.tick()
        hook = webhook_delivery()
        assert (hook.state, hook.attempts, hook.last_status) == (DeliveryState.RETRYING, 1, 302)
        assert "does not follow redirects" in hook.last_error
        assert "metadata.rebind.test" not in dns.looks  # the redirect's target was never asked
        assert "does not follow redirects" in ada.get("/notifications/").get_data(as_text=True)
        scheduler.tick(utcnow() + timedelta(minutes=1))  # the retry reaches the endpoint
        db.session.expire_all()
        assert webhook_delivery().state == DeliveryState.DELIVERED
    assert len(receiver.received) == 2


@pytest.fixture
def tls_receiver(tmp_path):
    """An HTTPS endpoint on loopback with a certificate for hooks.tls.test; yields (port, CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hooks.tls.test")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=1)).not_valid_after(now + timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("hooks.tls.test")]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    hosts: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            hosts.append(self.headers["Host"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_port, str(cert_path), hosts
    finally:
        server.shutdown()
        server.server_close()


def test_https_is_pinned_yet_checks_the_certificate_against_the_name(app, tls_receiver, dns,
                                                                    monkeypatch):
    port, ca, hosts = tls_receiver
    dns.answers = {"hooks.tls.test": [["127.0.0.1"]], "other.tls.test": [["127.0.0.1"]]}
    with app.app_context():
        with pytest.raises(pinned.Refused, match="SSLError"):  # not a trusted certificate
            pinned.post(f"https://hooks.tls.test:{port}/hook", b"{}", {})
        monkeypatch.setattr(pinned, "CA_BUNDLE", ca)
        assert pinned.post(f"https://hooks.tls.test:{port}/hook", b"{}", {}) == 204
        with pytest.raises(pinned.Refused, match="SSLError"):  # the certificate names another
            pinned.post(f"https://other.tls.test:{port}/hook", b"{}", {})
    assert hosts == [f"hooks.tls.test:{port}"]
