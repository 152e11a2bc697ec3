"""Recognising mbox From_ separator lines, and reading the delivery date in them.

A body line that merely starts with ``From `` (unquoted, as mboxo writers leave
them) must not split a message, so a line only counts as a separator when it
carries a date in one of the shapes local delivery agents have written.  The
accepted shapes are those UW c-client's ``VALID`` macro knows (asctime with or
without seconds, with a zone before or after the year, a ``remote from`` tail),
plus what later tools write: any run of spaces between fields, two-digit
years, an RFC 822 style date (``Wed, 6 Dec 92 05:53:22``), and the dateless
``From -`` line some mail clients write.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo

_WDAY = rb"(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*"
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MON = rb"(?P<mon>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*"
_ZONE = rb"[+-]\d{4}|[a-z]{1,5}"
_TIME = rb"(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?"
_REMOTE = rb"(?:[ \t]+remote[ \t]+from[ \t].*)?"

#: ``From sender Wed Dec  2 05:53:22 [zone] 1992 [zone] [remote from host]``
_ASCTIME = re.compile(
    rb"(?-i:From) (?P<sender>.*?)[ \t]+" + _WDAY + rb",?[ \t]+" + _MON
    + rb"[ \t]+(?P<day>\d{1,2})[ \t]+" + _TIME
    + rb"(?:[ \t]+(?P<zone1>" + _ZONE + rb"))?[ \t]+(?P<year>\d{4}|\d{2})"
    + rb"(?:[ \t]+(?P<zone2>" + _ZONE + rb"))?" + _REMOTE + rb"[ \t]*",
    re.IGNORECASE,
)

#: ``From sender Wed, 6 Dec 92 05:53:22 [zone]`` (RFC 822 date, seen from some Amiga and
#: Windows tools).
_RFC822 = re.compile(
    rb"(?-i:From) (?P<sender>.*?)[ \t]+" + _WDAY + rb",[ \t]*(?P<day>\d{1,2})[ \t]+" + _MON
    + rb"[ \t]+(?P<year>\d{4}|\d{2})[ \t]+" + _TIME
    + rb"(?:[ \t]+(?P<zone1>" + _ZONE + rb"))?" + _REMOTE + rb"[ \t]*",
    re.IGNORECASE,
)

#: ``From -`` with no date at all (written as a separator by some mail clients).
_DATELESS = re.compile(rb"(?-i:From) -[ \t]*")

#: Zone abbreviations with one unambiguous meaning in mail; others are treated as absent.
ZONE_ABBREVIATIONS: dict[str, int] = {
    "UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "WET": 0,
    "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
    "AKST": -9, "AKDT": -8, "HST": -10,
    "BST": 1, "CET": 1, "MET": 1, "WEST": 1, "CEST": 2, "MEST": 2, "EET": 2, "EEST": 3,
    "MSK": 3, "IST": 5, "JST": 9, "KST": 9, "AEST": 10, "AEDT": 11, "NZST": 12, "NZDT": 13,
}


@dataclass(frozen=True)
class FromStamp:
    """What a separator line says: the envelope sender and, if given, the date.

    ``when`` is naive wall-clock time; ``zone`` is the offset written on the
    line, or None when the line has no (known) zone and the reader must assume one.
    ``zone_text`` keeps an unknown abbreviation so a finding can name it.
    """

    sender: bytes
    when: datetime | None
    zone: tzinfo | None
    zone_text: str = ""


def _year(text: bytes) -> int:
    """Four-digit year; two-digit years follow RFC 5322 (00-49 -> 20xx, 50-99 -> 19xx)."""
    year = int(text)
    if len(text) == 2:
        year += 2000 if year < 50 else 1900
    return year


def _zone(text: bytes | None) -> tuple[tzinfo | None, str]:
    """A numeric or known alphabetic zone, else (None, the text) for the caller to report."""
    if not text:
        return None, ""
    word = text.decode("ascii")
    if word[0] in "+-":
        minutes = int(word[1:3]) * 60 + int(word[3:5])
        if minutes >= 24 * 60:
            return None, word
        return timezone(timedelta(minutes=-minutes if word[0] == "-" else minutes)), word
    hours = ZONE_ABBREVIATIONS.get(word.upper())
    if hours is None:
        return None, word
    return timezone(timedelta(hours=hours), word.upper()), word


def parse_from_line(line: bytes) -> FromStamp | None:
    """The stamp of a From_ separator line (line end allowed), or None if it is not one.

    A line whose date fields do not make a real calendar date (``Feb 30``,
    ``25:00``) is not a separator: that is what keeps ordinary prose starting
    with ``From`` inside its message.
    """
    if not line.startswith(b"From "):
        return None
    text = line.rstrip(b"\r\n")
    if _DATELESS.fullmatch(text):
        return FromStamp(sender=b"-", when=None, zone=None)
    match = _ASCTIME.fullmatch(text) or _RFC822.fullmatch(text)
    if match is None:
        return None
    groups = match.groupdict()
    try:
        when = datetime(
            _year(groups["year"]),
            _MONTHS.index(groups["mon"][:3].decode("ascii").lower()) + 1,
            int(groups["day"]),
            int(groups["hour"]),
            int(groups["minute"]),
            int(groups["second"] or 0),
        )
    except ValueError:
        return None
    zone, zone_text = _zone(groups.get("zone1") or groups.get("zone2"))
    return FromStamp(sender=groups["sender"], when=when, zone=zone, zone_text=zone_text)


def is_separator(line: bytes) -> bool:
    """True when ``line`` is a From_ separator (date-validated)."""
    return parse_from_line(line) is not None
