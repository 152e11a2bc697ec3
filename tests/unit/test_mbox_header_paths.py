"""The header cleaner's two ways agree: the regex way for plain headers, the line way
for everything else.  Every header of the fixtures and the public corpus, and crafted
ones around the fields the reader takes out, goes through both."""

from __future__ import annotations

from pathlib import Path

import pytest

from converters.mbox.headers import _BAD_LINE, _HIGH, _clean_lines, _clean_plain
from converters.mbox.reader import _split_header
from converters.mbox.splitter import split_messages

REPO = Path(__file__).resolve().parents[2]
SOURCES = sorted((REPO / "tests/data/mbox").glob("*.mbox")) + sorted(
    (REPO / "tests/data/corpus/mbox").glob("*.mbox")) + sorted(
    p for p in (REPO / "samples/site").rglob("*") if p.is_file()
    and ("var/mail" in str(p) or "/mail/" in str(p)))

CRAFTED = [
    b"Status: RO\nSubject: hi\nX-Status: AF\n",
    b"status: O\nX-UID: 5\nX-IMAPbase: 1234 0000000003 $Label1\n NonJunk\nDate: x\n",
    b"X-Keywords: $Label1\n\t$Label2\nSubject: a\n folded\n\tmore\nReceived: by a\n",
    b"Received: by a;\n Mon, 1 Jan 2001\nReceived: by b\nCONTENT-LENGTH: 12\nX-IMAP: 1 2\n",
    b"Subject: first\nSubject: second\nDATE: Tue, 2 Jan 2001\nX-Statusline: kept\n",
    b" leading continuation\nFrom someone Mon Jan  1 00:00:00 2001\nSubject: x\n",
    b"Subject: crlf\r\nStatus: R\r\n continued\r\nX-Other: y\r\n",
    b"Subject: lone\rcr\nX-Status: \n",
    b"Content-Length:5\nx-imap:\n",
]


def _sections() -> list[bytes]:
    out = list(CRAFTED)
    for path in SOURCES:
        with open(path, "rb") as f:
            size = path.stat().st_size
            try:
                raws = list(split_messages(f, start=0, first_line=1, size=size))
            except ValueError:
                continue
        out += [_split_header(bytes(r.content))[0] for r in raws if not r.junk]
    return [s for s in out if s.endswith(b"\n") and not _BAD_LINE.search(s)
            and not _HIGH.search(s)]


@pytest.mark.parametrize("has_end", [True, False])
def test_plain_headers_come_out_the_same_both_ways(has_end: bool) -> None:
    sections = _sections()
    assert len(sections) > 50
    for section in sections:
        fast, slow = _clean_plain(section, has_end), _clean_lines(section, has_end)
        assert (fast.header, fast.has_end, fast.rest, fast.metadata, fast.first) == (
            slow.header, slow.has_end, slow.rest, slow.metadata, slow.first), section
        assert not slow.notes
