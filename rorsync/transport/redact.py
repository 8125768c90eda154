"""URLs fit for logs and error messages: no credentials, no secret-looking query values.

FHIR search URLs carry nothing secret, but export file URLs may be pre-signed (``X-Amz-Signature``,
``sig``) and a misconfigured base URL may embed ``user:password@``. Parameter names stay visible so a
log line still says which request it was.
"""

from __future__ import annotations

import re

from yarl import URL

REDACTED = "***"
_SECRET_PARAMETER = re.compile(
    r"token|secret|passw|pwd|api[-_]?key|^key$|signature|^sig$|credential|^auth|session|jwt", re.IGNORECASE
)


def safe_url(url: str | URL) -> str:
    """``url`` without user information and with the values of secret-looking parameters replaced."""
    try:
        parsed = url if isinstance(url, URL) else URL(str(url))
    except (ValueError, TypeError):
        return "<unparsable URL>"
    if parsed.user is not None or parsed.password is not None:
        parsed = parsed.with_user(None)
    if any(_SECRET_PARAMETER.search(name) for name in parsed.query):
        parsed = parsed.with_query(
            [(name, REDACTED if _SECRET_PARAMETER.search(name) else value) for name, value in parsed.query.items()]
        )
    return str(parsed)
