"""A fake OneRoster server for the connection-test routes, over `responses` (no network)."""

from __future__ import annotations

import base64
import json
import threading

import responses

from oneroster.model import ENTITIES
from tests.connections.scripted_client import GOOD

BASE = "https://sis.example.org/ims/oneroster/rostering/v1p2"
TOKEN_URL = "https://sis.example.org/oauth/token"
CLIENT_ID = "sdm-client"
SECRET = "Tst-s3cret-Never-Shown-7c1e"
SCOPE = "https://purl.imsglobal.org/spec/or/v1p2/scope/"


class FakeSis:
    """Answer the token endpoint and the five collections; knobs for the failure cases."""

    def __init__(self, mock: responses.RequestsMock, secret: str = SECRET) -> None:
        self.secret = secret
        self.forbid: set[str] = set()
        self.hang = threading.Event()  # set() makes the collections answer at once again
        self.hang.set()
        self.tokens = 0
        mock.add_callback(responses.POST, TOKEN_URL, callback=self._token)
        for entity in ENTITIES:
            mock.add_callback(responses.GET, f"{BASE}/{entity}",
                              callback=self._collection(entity))

    def _token(self, request):
        self.tokens += 1
        expected = base64.b64encode(f"{CLIENT_ID}:{self.secret}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return 401, {}, json.dumps({"error": "invalid_client"})
        scopes = " ".join(SCOPE + s for s in ("roster-core.readonly", "roster.readonly"))
        return 200, {"Content-Type": "application/json"}, json.dumps(
            {"access_token": "tok-123", "token_type": "bearer", "expires_in": 3600,
             "scope": scopes})

    def _collection(self, entity: str):
        def answer(request):
            self.hang.wait(10)
            if entity in self.forbid:
                body = {"imsx_codeMajor": "failure", "imsx_severity": "error",
                        "imsx_description": f"The token lacks {SCOPE}roster.readonly",
                        "imsx_CodeMinor": {"imsx_codeMinorField": [
                            {"imsx_codeMinorFieldName": "TargetEndSystem",
                             "imsx_codeMinorFieldValue": "forbidden"}]}}
                return 403, {"Content-Type": "application/json"}, json.dumps(body)
            records = [{**GOOD[entity], "sourcedId": f"{entity}-{i}"} for i in range(3)]
            return 200, {"Content-Type": "application/json", "X-Total-Count": "3"}, \
                json.dumps({entity: records})
        return answer
