"""Encryption of secrets at rest. The only module that touches key material."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app


class SecretUnreadable(RuntimeError):
    """A stored secret cannot be decrypted with any configured key."""


def _fernet() -> MultiFernet:
    keys = [k.strip() for k in current_app.config["ENCRYPTION_KEYS"].split(",") if k.strip()]
    return MultiFernet([Fernet(k.encode()) for k in keys])


def check_keys(keys: str) -> None:
    """Raise ValueError naming the problem when SDM_ENCRYPTION_KEYS is malformed."""
    parts = [k.strip() for k in keys.split(",") if k.strip()]
    if not parts:
        raise ValueError("SDM_ENCRYPTION_KEYS is empty")
    for position, key in enumerate(parts, start=1):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            raise ValueError(
                f"SDM_ENCRYPTION_KEYS entry {position} is not a valid Fernet key "
                "(32 url-safe base64-encoded bytes)"
            ) from None


def encrypt(plaintext: str) -> str:
    """Encrypt a secret with the newest key."""
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    """Decrypt a secret with whichever configured key made it."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "The stored secret cannot be decrypted with the configured SDM_ENCRYPTION_KEYS; "
            "add the key it was encrypted with, or enter the secret again."
        ) from None


def rotate(token: str) -> str:
    """Re-encrypt a secret under the newest key."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "The stored secret cannot be decrypted with the configured SDM_ENCRYPTION_KEYS."
        ) from None
