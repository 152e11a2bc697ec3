"""append_message: what rollback writes is what procmail writes, reads back as the reader
sees it, and lives beside procmail."""

import os
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from converters.mbox import read_mbox
from converters.mbox.writer import (
    STALE_LOCK_SECONDS,
    append_message,
    envelope_sender,
    from_line,
    mbox_entry,
)
from tests.mbox_delivery_oracle import procmail_entry

WHEN = datetime(2021, 6, 1, 12, 30, 5, tzinfo=UTC)

MESSAGES = [
    b"From: a@example.org\r\nSubject: plain\r\n\r\nhello\r\n",
    b"From: b@example.org\r\nSubject: from lines\r\n\r\nFrom here\r\n>From there\r\n"
    b"\r\nFrom x@y Wed Dec  2 05:53:22 1992\r\n>>From deep\r\n",
    b"Subject: ends with blank lines\r\n\r\nbody\r\n\r\n\r\n",
    b"Subject: no final newline\r\n\r\nlast line",
]


@pytest.fixture
def local_tz_utc(monkeypatch):
    """Pin the host zone so From_ lines are written in UTC."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_round_trip_through_the_reader(tmp_path, local_tz_utc):
    spool = tmp_path / "alice"
    for n, data in enumerate(MESSAGES):
        append_message(spool, data, sender=f"s{n}@example.org", date=WHEN + timedelta(hours=n))
    msgs = list(read_mbox(spool))
    # mboxo: a line that began "From " reads back quoted, one that began ">From" as it was
    expected = [MESSAGES[0],
                b"From: b@example.org\r\nSubject: from lines\r\n\r\n>From here\r\n"
                b">From there\r\n\r\n>From x@y Wed Dec  2 05:53:22 1992\r\n>>From deep\r\n",
                MESSAGES[2], MESSAGES[3] + b"\r\n"]   # a final line end is added
    assert [m.data for m in msgs] == expected
    assert [[f.code for f in m.findings] for m in msgs] == [["mbox-date-zone"], [], [], []]
    assert [m.internaldate for m in msgs] == [WHEN + timedelta(hours=n) for n in range(4)]
    assert [m.from_line.split()[1] for m in msgs] == [b"s0@example.org", b"s1@example.org",
                                                      b"s2@example.org", b"s3@example.org"]
    assert not (tmp_path / "alice.lock").exists()
    assert spool.stat().st_mode & 0o777 == 0o600


def test_entry_layout_and_mboxo_quoting():
    entry = mbox_entry(MESSAGES[1], sender="b@example.org", date=WHEN.replace(tzinfo=None))
    assert entry == (
        b"From b@example.org  Tue Jun  1 12:30:05 2021\n"
        b"From: b@example.org\nSubject: from lines\n\n>From here\n>From there\n"
        b"\n>From x@y Wed Dec  2 05:53:22 1992\n>>From deep\n\n")


def test_from_line_uses_host_local_time(monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        assert from_line("x@y", WHEN) == b"From x@y  Tue Jun  1 08:30:05 2021\n"
        odd = datetime(2021, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=5)))
        assert from_line("we ird\x01@y", odd) == b"From weird@y  Fri Jan  1 17:04:05 2021\n"
    finally:
        monkeypatch.undo()
        time.tzset()
    assert from_line("", WHEN.replace(tzinfo=None)).startswith(b"From MAILER-DAEMON  Tue Jun  1")


@pytest.mark.parametrize(
    ("existing", "gap"),
    [(b"", b""), (b"\n", b""), (b"x\n\n", b""), (b"x\n", b"\n"), (b"x", b"\n\n")],
)
def test_separator_before_the_new_message(tmp_path, existing, gap):
    spool = tmp_path / "spool"
    spool.write_bytes(existing)
    offset = append_message(spool, MESSAGES[0], sender="a@b", date=WHEN)
    assert offset == len(existing) + len(gap)
    assert spool.read_bytes() == existing + gap + mbox_entry(MESSAGES[0], sender="a@b",
                                                             date=WHEN)


def test_waits_for_a_held_dotlock(tmp_path):
    spool = tmp_path / "spool"
    lock = tmp_path / "spool.lock"
    lock.write_bytes(b"")
    with pytest.raises(TimeoutError):
        append_message(spool, MESSAGES[0], sender="a@b", date=WHEN, lock_timeout=0.3)
    assert not spool.exists()
    assert lock.exists()          # someone else's lock is never removed while fresh


def test_stale_dotlock_is_broken(tmp_path):
    spool = tmp_path / "spool"
    lock = tmp_path / "spool.lock"
    lock.write_bytes(b"")
    old = time.time() - STALE_LOCK_SECONDS - 10
    os.utime(lock, (old, old))
    append_message(spool, MESSAGES[0], sender="a@b", date=WHEN, lock_timeout=0.3)
    assert len(list(read_mbox(spool))) == 1
    assert not lock.exists()


@pytest.mark.skipif(shutil.which("procmail") is None, reason="procmail not installed")
def test_shares_a_spool_with_real_procmail(tmp_path, local_tz_utc):
    """procmail deliveries and our appends interleave into one readable spool."""
    spool = tmp_path / "spool"
    rc = tmp_path / "rc"
    rc.write_text(f"SHELL=/bin/sh\nMAILDIR={tmp_path}\nDEFAULT={spool}\nLOGFILE={tmp_path}/log\n")

    def procmail(data: bytes, sender: str) -> None:
        subprocess.run(["procmail", "-m", "-f", sender, str(rc)], input=data, check=True,
                       env={"PATH": os.environ["PATH"], "TZ": "UTC"})

    procmail(b"From: p1@example.org\nSubject: by procmail\n\nFrom Mars\nbye\n", "p1@example.org")
    append_message(spool, MESSAGES[1], sender="back@example.org", date=WHEN)
    # a message without a final newline: procmail writes no empty line after it
    procmail(b"From: p2@example.org\nSubject: no newline\n\nlast", "p2@example.org")
    procmail(b"From: p3@example.org\nSubject: third\n\nok\n", "p3@example.org")
    append_message(spool, MESSAGES[0], sender="back2@example.org", date=WHEN)
    msgs = list(read_mbox(spool))
    assert [m.from_line.split()[1] for m in msgs] == [
        b"p1@example.org", b"back@example.org", b"p2@example.org", b"p3@example.org",
        b"back2@example.org"]
    assert msgs[0].data == (b"From: p1@example.org\r\nSubject: by procmail\r\n\r\n"
                            b">From Mars\r\nbye\r\n")
    assert msgs[2].data.endswith(b"\r\n\r\nlast\r\n")
    assert [f.code for f in msgs[3].findings] == ["mbox-unspaced-from"]
    assert msgs[4].data == MESSAGES[0]


#: Messages as Cyrus holds them (CRLF), with what procmail must be shown to quote or end.
CYRUS_FORMS = {
    "from-lines": b"From: a@example.com\r\nSubject: s\r\n\r\nline one\r\nFrom the start\r\n"
                  b">From quoted already\r\n>>From deeper\r\nFromage\r\nFrom\r\n From x\r\n",
    "from-first-in-body": b"Subject: s\r\n\r\nFrom at the start of the body\r\nsecond\r\n",
    "no-final-newline": b"Subject: s\r\n\r\nline one\r\nFrom x\r\nno final newline",
    "content-length": b"Subject: s\r\nContent-Length: 2\r\n\r\nFrom x\r\n>From y\r\nabc\r\n",
    "from-in-header": b"Subject: s\r\nFrom odd header line\r\n\r\nbody\r\n",
    "header-only": b"Subject: just a header",
}


@pytest.mark.skipif(shutil.which("procmail") is None, reason="procmail not installed")
@pytest.mark.parametrize("name", sorted(CYRUS_FORMS))
def test_entry_is_what_procmail_writes(local_tz_utc, name):
    """Byte for byte the real procmail's entry (its delivery time on our From_ line), but
    for the empty line procmail leaves out after a last line without a line end.  This
    site's local mailer is ``procmail -Y`` (see tests/mbox_delivery_oracle.py)."""
    data = CYRUS_FORMS[name]
    real, when = procmail_entry(data, "rp@example.net")
    ours = mbox_entry(data, sender="rp@example.net", date=when)
    assert ours == (real if data.endswith(b"\n") else real + b"\n")


@pytest.mark.parametrize(("name", "read_back"), [
    ("from-lines", b"From: a@example.com\r\nSubject: s\r\n\r\nline one\r\n>From the start\r\n"
                   b">From quoted already\r\n>>From deeper\r\nFromage\r\nFrom\r\n From x\r\n"),
    ("from-first-in-body", b"Subject: s\r\n\r\n>From at the start of the body\r\nsecond\r\n"),
    ("no-final-newline", b"Subject: s\r\n\r\nline one\r\n>From x\r\nno final newline\r\n"),
    # Content-Length is mbox bookkeeping to the reader (removed); a wrong one is ignored
    ("content-length", b"Subject: s\r\n\r\n>From x\r\n>From y\r\nabc\r\n"),
    # the quoted line is no header field: it ends the header section, as the reader does
    ("from-in-header", b"Subject: s\r\n\r\n>From odd header line\r\n\r\nbody\r\n"),
    ("header-only", b"Subject: just a header\r\n"),
])
def test_what_the_reader_reads_back(tmp_path, name, read_back):
    """An mbox cannot hold every message byte for byte: the reader gets back the quoted
    From lines, an ended last line, no Content-Length; the next message is untouched."""
    spool = tmp_path / "spool"
    offset = append_message(spool, CYRUS_FORMS[name], sender="a@b", date=WHEN)
    append_message(spool, MESSAGES[0], sender="a@b", date=WHEN)
    first, second = read_mbox(spool)
    assert (first.offset, first.data, second.data) == (offset, read_back, MESSAGES[0])
    assert next(read_mbox(spool, start=offset)).sha1 == first.sha1


def test_a_crlf_message_reads_back_byte_for_byte(tmp_path):
    spool = tmp_path / "spool"
    data = b"Subject: crlf\r\n\r\nline\r\n\r\n>From kept\r\nlast\r\n"
    append_message(spool, data, sender="a@b", date=WHEN)
    assert b"\r" not in spool.read_bytes()
    assert [m.data for m in read_mbox(spool)] == [data]


def test_a_content_length_that_happens_to_fit_is_trusted(tmp_path):
    """Content-Length: 5 counted "abc" with CRLF; in the LF file the 5 bytes are "abc" and
    the empty line after the message, which is where the next message starts: the reader
    takes the length (mboxcl), so the copy reads back with one more empty line (and,
    as every copy, without the Content-Length header)."""
    spool = tmp_path / "spool"
    data = b"Subject: cl\r\nContent-Length: 5\r\n\r\nabc\r\n"
    append_message(spool, data, sender="a@b", date=WHEN)
    append_message(spool, MESSAGES[0], sender="a@b", date=WHEN)
    assert [m.data for m in read_mbox(spool)] == [b"Subject: cl\r\n\r\nabc\r\n\r\n",
                                                  MESSAGES[0]]


@pytest.mark.parametrize(("data", "sender"), [
    (b"Return-Path: <bounce@lists.example>\r\nFrom: Ann <ann@example.org>\r\n\r\nx\r\n",
     "bounce@lists.example"),
    (b"Return-Path: <>\r\nFrom: Mail Delivery <postmaster@example.org>\r\n\r\nx\r\n",
     "MAILER-DAEMON"),
    (b"From: Ann <ann@example.org>\r\nSubject: saved by a mail client\r\n\r\nx\r\n",
     "ann@example.org"),
    (b"Subject: neither\r\n\r\nx\r\n", "MAILER-DAEMON"),
])
def test_envelope_sender(data, sender):
    """Return-Path is the envelope; a message appended by a client has none, and its
    author is named rather than a bounce's MAILER-DAEMON."""
    assert envelope_sender(data) == sender
