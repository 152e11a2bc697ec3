"""append_message: what rollback writes must read back the same, and live beside procmail."""

import os
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from converters.mbox import read_mbox
from converters.mbox.writer import STALE_LOCK_SECONDS, append_message, from_line, mbox_entry

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
    msgs = list(read_mbox(spool, unescape_mboxrd=True))
    expected = [*MESSAGES[:3], MESSAGES[3] + b"\r\n"]   # a final line end is added
    assert [m.data for m in msgs] == expected
    assert [m.internaldate for m in msgs] == [WHEN + timedelta(hours=n) for n in range(4)]
    assert [m.from_line.split()[1] for m in msgs] == [b"s0@example.org", b"s1@example.org",
                                                      b"s2@example.org", b"s3@example.org"]
    assert not (tmp_path / "alice.lock").exists()
    assert spool.stat().st_mode & 0o777 == 0o600


def test_entry_layout_and_mboxrd_quoting():
    entry = mbox_entry(MESSAGES[1], sender="b@example.org", date=WHEN.replace(tzinfo=None))
    assert entry == (
        b"From b@example.org Tue Jun  1 12:30:05 2021\n"
        b"From: b@example.org\nSubject: from lines\n\n>From here\n>>From there\n"
        b"\n>From x@y Wed Dec  2 05:53:22 1992\n>>>From deep\n\n")


def test_from_line_uses_host_local_time(monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        assert from_line("x@y", WHEN) == b"From x@y Tue Jun  1 08:30:05 2021\n"
        odd = datetime(2021, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=5)))
        assert from_line("we ird\x01@y", odd) == b"From weird@y Fri Jan  1 17:04:05 2021\n"
    finally:
        monkeypatch.undo()
        time.tzset()
    assert from_line("", WHEN.replace(tzinfo=None)).startswith(b"From MAILER-DAEMON Tue Jun  1")


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
