"""Errors of the CSD protocol layer, typed so that the sync loop can tell them apart.

* :class:`CsdServiceError` — the ROR answered, and said no (SOAP Fault or in-band ``error``): record
  the code and message in the run journal for that establishment and go on with the others.
* :class:`CsdResponseError` — the body is not what the protocol promises (not XML, truncated, another
  root element, too large, unsafe): a transport or server fault, never a business answer.
* :class:`ExtractionError` — a TR-Extraction / public ZIP that must not be parsed at all.
"""

from __future__ import annotations

from typing import Literal

FaultForm = Literal["fault", "in-band"]


class CsdError(Exception):
    """Base class of every error raised by ``rorsync.sources.csd``."""


class CsdServiceError(CsdError):
    """A business error sent by the ROR: SOAP 1.2 Fault (``form="fault"``) or ``careServicesResponse/error``."""

    def __init__(self, code: str, message: str, form: FaultForm) -> None:
        super().__init__(f"ROR CSD error {code} ({form}): {message}")
        self.code = code
        self.message = message
        self.form: FaultForm = form

    def __reduce__(self) -> tuple[type[CsdServiceError], tuple[str, str, FaultForm]]:
        return (type(self), (self.code, self.message, self.form))


class CsdResponseError(CsdError):
    """A body that cannot be a valid answer; the message says what was expected and what was found."""


class UnsafeXmlError(CsdResponseError):
    """XML refused before parsing: a DOCTYPE (entity bombs, external entities) or an oversized input."""


class ExtractionError(CsdError):
    """An extraction ZIP rejected before any record is produced; the message names the part."""
