"""The egress rules SDM hands its sources, built from configuration."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import current_app

from webapp.plugin_api import EgressRules
from webapp.plugins import registry

PRIVATE, LOOPBACK = "private", "loopback"  # the rules a source names when it refuses
HINTS = {
    PRIVATE: "An administrator can allow servers on private networks (an on-premises SIS) "
             "by setting SDM_ALLOW_PRIVATE_NETWORKS=true.",
    LOOPBACK: "An administrator can allow this computer's own addresses by setting "
              "SDM_ALLOW_LOOPBACK=true.",
}


def policy_from(config: Mapping[str, Any]) -> EgressRules:
    """Return the egress rules a configuration asks for (SDM_ALLOW_LOOPBACK is on in demo)."""
    return EgressRules(allow_private=bool(config.get("ALLOW_PRIVATE_NETWORKS")),
                       allow_loopback=bool(config.get("ALLOW_LOOPBACK")), hints=HINTS,
                       resolver=config.get("EGRESS_RESOLVER"))


def egress_policy() -> EgressRules:
    """Return the running app's egress rules."""
    return policy_from(current_app.config)


def egress_problem(url: str) -> str | None:
    """Return why SDM would refuse to connect to a URL's host, or None."""
    return registry().connection_source().address_problem(url, egress_policy())
