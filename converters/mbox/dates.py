"""The INTERNALDATE of an mbox message: when it was delivered, as a tz-aware datetime.

The From_ line is written by the delivery agent at delivery, so it is the
truest arrival time; it is in the server's local time and usually has no
zone, so a zone must be assumed (``default_tz``).  Without a dated From_
line, the topmost Received header (added last, by the final hop) is the next
best, then the Date header, then the mbox file's modification time.  A naive
datetime must never reach IMAP: imapclient would give it today's DST offset.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from email.utils import parsedate_to_datetime

from converters.mbox.fromline import FromStamp
from converters.mbox.splitter import Note


def _header_date(value: bytes | None) -> datetime | None:
    """An RFC 5322 date (aware; ``-0000`` read as UTC), or None if it does not parse."""
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value.decode("latin-1").strip())
    except (ValueError, TypeError, IndexError):
        return None
    if when is None:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def internal_date(stamp: FromStamp | None, first: dict[bytes, bytes], default_tz: tzinfo,
                  file_mtime: float) -> tuple[datetime, list[Note]]:
    """The INTERNALDATE and a note when it did not come from a zoned From_ line date."""
    if stamp is not None and stamp.when is not None:
        if stamp.zone is not None:
            return stamp.when.replace(tzinfo=stamp.zone), []
        notes = []
        if stamp.zone_text:
            notes.append(Note(
                "mbox-date-zone",
                f"unknown time zone {stamp.zone_text!r} on the From_ line; read as "
                f"{default_tz}", "",
            ))
        return stamp.when.replace(tzinfo=default_tz), notes
    received = first.get(b"received", b"")
    for source, value in (("Received", received.rpartition(b";")[2]),
                          ("Date", first.get(b"date"))):
        when = _header_date(value)
        if when is not None:
            return when, [Note("mbox-date-fallback",
                               f"no date on the From_ line; INTERNALDATE taken from the "
                               f"{source} header")]
    return datetime.fromtimestamp(file_mtime, UTC), [Note(
        "mbox-date-fallback",
        "no date on the From_ line nor in Received/Date headers; INTERNALDATE is the mbox "
        "file's modification time", "set the date by hand if it matters",
    )]
