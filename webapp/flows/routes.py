"""Routes of the flows area."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("flows", __name__, url_prefix="/flows")
