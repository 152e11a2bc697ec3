"""Storing Findings in the tracker, so the report reads every stage's findings in one place."""

from __future__ import annotations

from sqlalchemy.orm import Session

from converters.finding import Finding
from migrate.tracker.models import FindingRow


def record_finding(session: Session, stage: str, domain: str | None, user: str | None,
                   f: Finding) -> None:
    """Store ``f`` tagged with the stage that found it and the domain/user it concerns."""
    session.add(FindingRow(stage=stage, domain=domain, user=user, severity=f.severity,
                           file=f.file, line=f.line, text=f.text, reason=f.reason,
                           suggestion=f.suggestion, code=f.code, subject=f.subject))
