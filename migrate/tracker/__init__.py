"""The migration's memory: what exists, what was copied where, and every state change."""

from migrate.tracker.models import (
    Base,
    Domain,
    FilterScript,
    FindingRow,
    FolderMark,
    Mailbox,
    Message,
    Transition,
    User,
)
from migrate.tracker.session import open_tracker

__all__ = [
    "Base",
    "Domain",
    "FilterScript",
    "FindingRow",
    "FolderMark",
    "Mailbox",
    "Message",
    "Transition",
    "User",
    "open_tracker",
]
