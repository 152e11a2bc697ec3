"""Storing Findings in the tracker, so the report reads every stage's findings in one place."""

from __future__ import annotations

from sqlalchemy.orm import Session

from converters.finding import Finding
from migrate.tracker.models import FindingRow


def record_finding(session: Session, stage: str, domain: str | None, user: str | None,
                   f: Finding) -> None:
    """Store ``f`` tagged with the stage that found it and the domain/user it concerns."""
    session.add(FindingRow(stage=stage, domain=domain, user=user, severity=f.severity,
                           file=_text(f.file), line=f.line, text=_text(f.text),
                           reason=_text(f.reason), suggestion=f.suggestion, code=f.code,
                           subject=_text(f.subject)))


def _text(value: str) -> str:
    """``value`` storable as UTF-8: bytes of a non-UTF-8 file name read from the disk
    (surrogates) are shown as ``\\xNN``."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
