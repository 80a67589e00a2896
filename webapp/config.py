"""Configuration: defaults in one mapping, overridden by SDM_* environment variables."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from dotenv import dotenv_values

PREFIX = "SDM_"

# Every setting SDM reads, with its default. Keys are the environment names without "SDM_".
DEFAULTS: dict[str, Any] = {
    "SECRET_KEY": None,
    "DATABASE_URL": None,  # None: SQLite file instance/sdm.db
    "ENCRYPTION_KEYS": None,  # comma-separated Fernet keys, newest first
    "DEMO": False,  # demo mode: local keys, seeded demo organization, sandbox SIS on
    "DEBUG": False,
    "DEMO_EMAIL": "admin@example.com",
    "DEMO_PASSWORD": "sdm-demo-password",
    "SANDBOX": None,  # None: on in demo mode, off otherwise
    "SANDBOX_USERS": 600,  # size of the in-app sandbox district
    "ALLOW_HTTP": False,  # allow plain http:// base URLs for hosts other than loopback
    "ALLOW_PRIVATE_NETWORKS": False,  # let connections reach private addresses (on-premises SIS)
    "ALLOW_LOOPBACK": None,  # let connections reach this machine; None: on in demo and tests
    "JOBS": "thread",  # thread (in-process) | sync (inline, tests) | rq (Redis workers)
    "JOB_WORKERS": 4,
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    # embedded: a scheduler thread in every app process; off: only `flask sdm scheduler`.
    # None: embedded with in-process jobs (SDM_JOBS=thread), off otherwise.
    "SCHEDULER": None,
    "SMTP_HOST": None,  # None: no email (notifications go to webhooks only)
    "SMTP_PORT": 587,
    "SMTP_SECURITY": "starttls",  # starttls | ssl | none
    "SMTP_USERNAME": None,
    "SMTP_PASSWORD": None,
    "SMTP_FROM": "SDM <sdm@localhost>",
    "TEST_BUDGET_S": 30.0,  # time budget of one connection test
    "PROXY_EU": None,  # forward proxy for connections whose proxy country is EU
    "PAGE_SIZE": 1000,
    "MAX_IN_FLIGHT": 8,
    # Processes that decode a run's pages beside it; None: one per core in the web process
    # and `flask sdm worker` alike, 0: a run decodes its pages itself.
    "DECODE_PROCESSES": None,
    "LOG_LEVEL": "INFO",
    "APP_URL": "http://127.0.0.1:8000/",  # where people reach SDM; the demo seed points at it
    "SESSION_IDLE_MINUTES": 120,  # a session unused this long ends
    "SESSION_HOURS": 12,  # a session ends this long after sign-in, however busy
    "TRUSTED_PROXIES": 0,  # reverse proxies in front of SDM whose X-Forwarded-* to trust
    "MAX_BODY_MB": 2,  # largest request body SDM reads
    "PASSWORD_HASH_METHOD": "scrypt",  # werkzeug hash method for passwords
    "ARTIFACTS_DIR": None,  # None: instance/artifacts (run downloads, e.g. CSV bundles)
    "RUN_RETENTION": 0,  # runs kept per flow, records included, after a success; 0: all
}

_BOOL = {"1": True, "true": True, "yes": True, "on": True,
         "0": False, "false": False, "no": False, "off": False, "": False}


class ConfigError(RuntimeError):
    """Raised when the app cannot start with the configuration given."""


def _coerce(name: str, raw: str) -> Any:
    default = DEFAULTS[name]
    if isinstance(default, bool):
        try:
            return _BOOL[raw.strip().lower()]
        except KeyError:
            raise ConfigError(f"{PREFIX}{name} must be true or false, not {raw!r}") from None
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{PREFIX}{name} must be a whole number, not {raw!r}") from None
    if isinstance(default, float):
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{PREFIX}{name} must be a number, not {raw!r}") from None
    return raw


def load(environ: Mapping[str, str] | None = None, dotenv_path: str | None = ".env") -> dict:
    """Return the settings: defaults, then .env, then the process environment."""
    env: dict[str, str] = {}
    if dotenv_path and Path(dotenv_path).is_file():
        env.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    env.update(os.environ if environ is None else environ)
    settings = dict(DEFAULTS)
    for name in DEFAULTS:
        if f"{PREFIX}{name}" in env:
            settings[name] = _coerce(name, env[f"{PREFIX}{name}"])
    return settings


def _read_or_create(path: Path, make: callable) -> str:
    """Read a local key file, creating it once (safe when several workers start at once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(make())
    return path.read_text().strip()


def _keys(config: dict, instance: Path) -> None:
    """Require the signing and encryption keys; a local app makes its own, once."""
    local = config["DEMO"] or config["DEBUG"] or config.get("TESTING")
    if not config.get("SECRET_KEY"):
        if not local:
            raise ConfigError("Set SDM_SECRET_KEY: a long random string that signs sessions.")
        config["SECRET_KEY"] = _read_or_create(instance / "secret_key",
                                               lambda: secrets.token_urlsafe(48))
    if not config.get("ENCRYPTION_KEYS"):
        if not local:
            raise ConfigError(
                "Set SDM_ENCRYPTION_KEYS: comma-separated Fernet keys, newest first "
                '(make one with: python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())").'
            )
        config["ENCRYPTION_KEYS"] = _read_or_create(
            instance / "encryption.key", lambda: Fernet.generate_key().decode()
        )


def finalize(config: dict, instance_path: str) -> None:
    """Fill derived settings and refuse to start on a configuration that is not safe."""
    _keys(config, Path(instance_path))
    if config.get("SQLALCHEMY_DATABASE_URI") is None:
        url = config.get("DATABASE_URL") or f"sqlite:///{Path(instance_path) / 'sdm.db'}"
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        config["SQLALCHEMY_DATABASE_URI"] = url
    if isinstance(config.get("ALLOW_LOOPBACK"), str):
        raw = config["ALLOW_LOOPBACK"].strip().lower()
        if raw not in _BOOL:
            raise ConfigError(f"SDM_ALLOW_LOOPBACK must be true or false, not {raw!r}")
        config["ALLOW_LOOPBACK"] = _BOOL[raw]
    if config.get("ALLOW_LOOPBACK") is None:
        config["ALLOW_LOOPBACK"] = bool(config["DEMO"] or config.get("TESTING"))
    if config.get("SANDBOX") is None:
        config["SANDBOX"] = bool(config["DEMO"])
    if config.get("SCHEDULER") is None:
        config["SCHEDULER"] = "embedded" if config["JOBS"] == "thread" else "off"
    if config["SCHEDULER"] not in ("embedded", "off"):
        raise ConfigError("SDM_SCHEDULER must be 'embedded' (a scheduler in every app process) "
                          f"or 'off' (run `flask sdm scheduler`), not {config['SCHEDULER']!r}.")
    if config["SMTP_SECURITY"] not in ("starttls", "ssl", "none"):
        raise ConfigError("SDM_SMTP_SECURITY must be starttls, ssl or none, not "
                          f"{config['SMTP_SECURITY']!r}.")
    config["DECODE_PROCESSES"] = _decode_processes(config.get("DECODE_PROCESSES"))
    if int(config.get("RUN_RETENTION") or 0) < 0:
        raise ConfigError("SDM_RUN_RETENTION must be 0 (keep every run) or the number of runs "
                          f"to keep per flow, not {config['RUN_RETENTION']}.")


def _decode_processes(raw: Any) -> int:
    """Return SDM_DECODE_PROCESSES as a number: unset, one per core."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return os.cpu_count() or 1
    try:
        found = int(raw)
    except (TypeError, ValueError):
        found = -1
    if not 0 <= found <= 64:
        raise ConfigError("SDM_DECODE_PROCESSES must be a whole number from 0 (a run decodes "
                          f"its pages itself) to 64, not {raw!r}.")
    return found
