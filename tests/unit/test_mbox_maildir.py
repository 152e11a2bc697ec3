"""Maildir folders: flags from file names, delivery dates, stable ledger keys."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path

from converters.mbox import folder_size, is_maildir, read_folder
from converters.mbox.maildir import message_key


def make_maildir(root: Path) -> Path:
    box = root / "cron"
    for sub in ("cur", "new", "tmp"):
        (box / sub).mkdir(parents=True)
    (box / "cur" / "1698902701.4000_0.host:2,RS").write_bytes(
        b"Subject: one\nFrom: a@example.org\n\nbody one\n")
    (box / "cur" / "1698991321.4017_0.host:2,FTa").write_bytes(
        b"Subject: two\n\nbody\x00two\n")
    (box / "new" / "1705714202.4034_0.host").write_bytes(b"Subject: three\n\nthree\n")
    (box / "dovecot-keywords").write_text("0 $Label1\n")
    return box


def test_flags_dates_and_bytes(tmp_path: Path):
    box = make_maildir(tmp_path)
    assert is_maildir(box) and not is_maildir(tmp_path)
    msgs = list(read_folder(box, display_name="/home/u/mail/cron"))
    assert [m.flags for m in msgs] == [("\\Answered", "\\Seen"),
                                       ("\\Flagged", "\\Deleted", "$Label1"), ()]
    assert msgs[0].internaldate == datetime(2023, 11, 2, 5, 25, 1, tzinfo=UTC)
    assert msgs[0].data == b"Subject: one\r\nFrom: a@example.org\r\n\r\nbody one\r\n"
    assert all(m.sha1 == hashlib.sha1(m.data).hexdigest() for m in msgs)
    # the NUL is removed by the shared output policy, with a finding naming the file
    assert b"\0" not in msgs[1].data
    assert msgs[1].findings and msgs[1].findings[0].file.endswith(
        "/home/u/mail/cron/cur/1698991321.4017_0.host:2,FTa")
    assert folder_size(box) == sum(
        os.path.getsize(p) for p in box.glob("*/*") if p.parent.name != "tmp")


def test_key_survives_flag_change_and_move(tmp_path: Path):
    box = make_maildir(tmp_path)
    before = {m.offset for m in read_folder(box)}
    (box / "new" / "1705714202.4034_0.host").rename(box / "cur" / "1705714202.4034_0.host:2,S")
    after = {m.offset for m in read_folder(box)}
    assert before == after
    assert message_key("1705714202.4034_0.host") in after
    assert all(0 <= k < 2**63 for k in after)


def test_delivery_is_read_back_with_the_same_key(tmp_path: Path):
    from converters.mbox.maildir import deliver_maildir

    box = make_maildir(tmp_path)
    when = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    key = deliver_maildir(box, b"Subject: back\r\n\r\nreturned\r\n", when)
    back = [m for m in read_folder(box) if m.offset == key]
    assert len(back) == 1
    assert back[0].data == b"Subject: back\r\n\r\nreturned\r\n"
    assert back[0].internaldate == when and back[0].flags == ()
    assert not list((box / "tmp").iterdir())
