"""Errors of the FHIR parser, split by what the caller can do about them.

* :class:`ResourceError` — one resource cannot become a record: quarantine it and go on. It is a
  :class:`rorsync.model.RecordError`, so callers that handle every source alike need nothing more.
* :class:`FhirParseError` — the body or the file as a whole is unusable (malformed JSON, not a
  Bundle, truncated): nothing after the failure point can be trusted, so the fetch or the load fails.
* :class:`OperationOutcomeError` — the server answered with an ``OperationOutcome`` instead of data.
"""

from __future__ import annotations

from dataclasses import dataclass

from rorsync.model import RecordError


class ResourceError(RecordError):
    """A resource that cannot become a record; ``where`` is ``Type/id`` (plus its place in a page/file)."""

    def __init__(
        self,
        where: str,
        reason: str,
        payload: bytes = b"",
        resource_type: str | None = None,
        resource_id: str | None = None,
    ) -> None:
        super().__init__(where, reason, payload)
        self.resource_type = resource_type
        self.resource_id = resource_id

    def located(self, place: str) -> ResourceError:
        """The same error, prefixed with where the resource sat (``page entry[3]``, ``file.json:12``)."""
        return ResourceError(
            f"{place} {self.where}" if self.where else place,
            self.reason,
            self.payload,
            resource_type=self.resource_type,
            resource_id=self.resource_id,
        )


class FhirParseError(ValueError):
    """A response body or export file that cannot be read at all; the message names it and the place."""


@dataclass(frozen=True, slots=True)
class OutcomeIssue:
    severity: str | None
    code: str | None
    diagnostics: str | None


class OperationOutcomeError(FhirParseError):
    """The server sent an ``OperationOutcome`` where data was expected."""

    def __init__(self, issues: list[OutcomeIssue]) -> None:
        summary = "; ".join(
            f"{issue.severity or '?'}/{issue.code or '?'}: {issue.diagnostics or 'no diagnostics'}" for issue in issues
        )
        super().__init__(f"server returned an OperationOutcome: {summary or 'no issue'}")
        self.issues = issues

    def __reduce__(self) -> tuple[type[OperationOutcomeError], tuple[list[OutcomeIssue]]]:
        return (type(self), (self.issues,))
