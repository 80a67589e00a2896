"""Plugin configuration: the fields a plugin declares, their parsing, defaults and validation.

Part of the plugin contract (webapp/plugin_api.py re-exports every name).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

FORM_TEMPLATE = "plugins/_config_form.html"


@dataclass(frozen=True)
class Field:
    """One setting of a plugin's configuration, as the form shows it."""

    name: str
    label: str
    kind: str = "text"  # int | text | choice | multichoice | list | connection
    default: Any = None
    help: str = ""
    required: bool = False
    choices: tuple[tuple[str, str], ...] = ()  # (value, label)
    min: int | None = None
    max: int | None = None

    def parse(self, raw: Any) -> Any:
        """Turn a submitted value into the configuration value; raise ValueError with a reason."""
        if self.kind == "int":
            return self._parse_int(raw)
        if self.kind == "connection":
            if raw in (None, ""):
                if self.required:
                    raise ValueError("Choose a connection.")
                return None
            try:
                return int(raw)
            except (TypeError, ValueError):
                raise ValueError("Choose a connection from the list.") from None
        if self.kind == "multichoice":
            values = [raw] if isinstance(raw, str) else list(raw or [])
            allowed = {value for value, _ in self.choices}
            unknown = [v for v in values if v not in allowed]
            if unknown:
                raise ValueError(f"Unknown choice: {', '.join(map(str, unknown))}.")
            if self.required and not values:
                raise ValueError(f"Choose at least one of {self.label.lower()}.")
            return [value for value, _ in self.choices if value in values]
        if self.kind == "choice":
            value = self.default if raw in (None, "") else str(raw)
            if value not in {v for v, _ in self.choices}:
                raise ValueError(f"Choose one of: {', '.join(label for _, label in self.choices)}.")
            return value
        if self.kind == "list":
            items = raw.replace(",", "\n").splitlines() if isinstance(raw, str) else list(raw or [])
            return [str(item).strip() for item in items if str(item).strip()]
        value = "" if raw is None else str(raw).strip()
        if self.required and not value:
            raise ValueError(f"Enter {self.label.lower()}.")
        return value

    def _parse_int(self, raw: Any) -> int:
        if raw in (None, ""):
            if self.default is None:
                raise ValueError(f"Enter {self.label.lower()}.")
            return int(self.default)
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise ValueError("Enter a whole number.") from None
        if self.min is not None and value < self.min:
            raise ValueError(f"Enter at least {self.min}.")
        if self.max is not None and value > self.max:
            raise ValueError(f"Enter at most {self.max}.")
        return value


class ConfigInvalid(ValueError):
    """A configuration a plugin cannot use, with a message per field."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = dict(errors)


class Configurable:
    """Configuration fields, defaults and validation shared by source and output plugins."""

    id: ClassVar[str]
    name: ClassVar[str]
    description: ClassVar[str] = ""
    # The plugin's own settings, rendered by form_template.
    fields: ClassVar[tuple[Field, ...]] = ()
    # Settings every plugin of a kind shares, rendered by the flow's own steps.
    options: ClassVar[tuple[Field, ...]] = ()
    form_template: ClassVar[str] = FORM_TEMPLATE

    @classmethod
    def all_fields(cls) -> tuple[Field, ...]:
        return cls.fields + cls.options

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Return the configuration of a new node."""
        return {f.name: copy.deepcopy(f.default) for f in cls.all_fields()}

    @classmethod
    def parse(cls, values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """Read a configuration from submitted values; return it with the errors per field.

        ``values`` may be a werkzeug MultiDict (lists come from ``getlist``) or a plain dict.
        """
        config: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for f in cls.all_fields():
            if f.kind == "multichoice" and hasattr(values, "getlist"):
                raw = values.getlist(f.name)
            else:
                raw = values.get(f.name, f.default)
            try:
                config[f.name] = f.parse(raw)
            except ValueError as exc:
                errors[f.name] = str(exc)
                config[f.name] = raw
        return config, errors

    @classmethod
    def clean(cls, config: Mapping[str, Any] | None) -> dict[str, Any]:
        """Return a complete, valid configuration (defaults filled in); raise ConfigInvalid."""
        merged = {**cls.defaults(), **dict(config or {})}
        parsed, errors = cls.parse(merged)
        if errors:
            raise ConfigInvalid(errors)
        return {**merged, **parsed}
