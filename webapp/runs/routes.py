"""Routes of the runs area."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("runs", __name__, url_prefix="/runs")
