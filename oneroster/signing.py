"""Credentials that need no token endpoint: a static bearer token, OAuth 1.0a signing."""

from __future__ import annotations

import math
import threading

import requests
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA1, SIGNATURE_HMAC_SHA256, SIGNATURE_TYPE_AUTH_HEADER
from requests.auth import AuthBase
from requests_oauthlib import OAuth1

from oneroster.model import ClientSettings, TokenInfo

SIGNATURE_METHODS = {"HMAC-SHA256": SIGNATURE_HMAC_SHA256, "HMAC-SHA1": SIGNATURE_HMAC_SHA1}


class Bearer(AuthBase):
    """Send a bearer token."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


class StaticBearer:
    """A long-lived bearer token: the Client Secret is the token."""

    refreshable = False

    def __init__(self, settings: ClientSettings) -> None:
        self._auth = Bearer(settings.client_secret)

    def token(self, cancel: threading.Event | None = None) -> TokenInfo:
        return TokenInfo(expires_at=math.inf, scopes=None, token_type="bearer")

    def authorizer(self, cancel: threading.Event | None) -> tuple[AuthBase, None]:
        return self._auth, None

    def invalidate(self, used: str | None) -> None:
        """Nothing to refresh: the token is fixed."""


class OAuth1Signer:
    """Two-legged OAuth 1.0a: every request signed with the Client ID and Secret."""

    refreshable = False

    def __init__(self, settings: ClientSettings) -> None:
        try:
            self.method = SIGNATURE_METHODS[settings.signature_method.upper()]
        except KeyError:
            raise ValueError(f"Unknown OAuth 1 signature method {settings.signature_method!r}; "
                             f"use one of {', '.join(SIGNATURE_METHODS)}") from None
        self.settings = settings

    def token(self, cancel: threading.Event | None = None) -> TokenInfo:
        return TokenInfo(expires_at=math.inf, scopes=None, token_type="oauth1")

    def authorizer(self, cancel: threading.Event | None) -> tuple[AuthBase, None]:
        signer = OAuth1(self.settings.client_id, client_secret=self.settings.client_secret,
                        signature_method=self.method, signature_type=SIGNATURE_TYPE_AUTH_HEADER)
        return signer, None

    def invalidate(self, used: str | None) -> None:
        """Nothing to refresh: each request carries its own signature."""
