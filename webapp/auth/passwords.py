"""Password choice in the manner of NIST SP 800-63B: length, guessability, no composition rules."""

from __future__ import annotations

from zxcvbn import zxcvbn

MIN_SCORE = 3  # zxcvbn: "safely unguessable", moderate protection against offline guessing
SCORED_LENGTH = 72  # zxcvbn scores at most this many characters; longer is only stronger


def password_problem(password: str, *, email: str = "", name: str = "") -> str | None:
    """Return why a new password is too easy to guess, or None when it will do."""
    lowered = password.lower()
    context = [part for part in (email.lower(), email.split("@")[0].lower(),
                                 *name.lower().split()) if len(part) >= 3]
    if any(part in lowered for part in context):
        return "Choose a password that does not contain your email address or name."
    result = zxcvbn(password[:SCORED_LENGTH], user_inputs=[*context, "sdm", "oneroster"])
    if result["score"] >= MIN_SCORE:
        return None
    warning = (result.get("feedback") or {}).get("warning") or \
        "This password is among the easiest to guess."
    return (f"{warning.rstrip('.')}. Choose something longer and less common: a few unrelated "
            "words make a good password.")
