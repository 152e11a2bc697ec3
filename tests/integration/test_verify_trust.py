"""``verify`` reads an old mbox again only when it may have changed, and the copy's own
check of what Cyrus stored.

A file unchanged since a complete copy pass (same device, inode, size, mtime
and ctime) is verified from the ledger's SHA-1s against Cyrus's digests; any
change to the file, any difference in the folder, or ``--reread`` makes
verify read the file again and report exactly.  Which files were read is seen
by wrapping ``checks.parity.read_folder`` (the real reader still runs): the
reports themselves must be the same either way, and that is checked too.
"""

from __future__ import annotations

import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

import checks.parity
from converters.mbox.writer import append_message
from migrate.config import load_config
from migrate.copy import MailboxCopier
from migrate.imap import connect
from migrate.tracker import Mailbox, open_tracker
from migrate.verify import verify_domain
from tests.integration.conftest import REPO
from tests.integration.scratch import ScratchSite, new_site, remove, token

pytestmark = [
    pytest.mark.servers,
    pytest.mark.filterwarnings("ignore:Credentials are sent over an unencrypted connection"),
]

MBOX = REPO / "tests/data/mbox"
OLD = time.time() - 86400  # mtime of the old spools: well past the racy window


@pytest.fixture(scope="module")
def site():
    s = new_site("trust")
    user = f"trust{token()}"
    home = s.add_user(user)
    spool = s.site / "var/mail" / user
    shutil.copy(MBOX / "formats.mbox", spool)
    (home / "mail").mkdir()
    shutil.copy(MBOX / "content_length.mbox", home / "mail/lists")
    for path in (spool, home / "mail/lists"):
        os.utime(path, (OLD, OLD))
    assert s.mm("inventory").rc == 0
    run = s.mm("copy", "--domain", s.domain, "--json")
    assert run.rc == 0, run.out + run.err
    s.user, s.spool = user, spool
    yield s
    remove(s)


def _verify(s: ScratchSite, monkeypatch, reread: bool = False) -> tuple[dict, list[str]]:
    """verify_domain in this process: {folder: parity}, and the sources it read again."""
    read: list[str] = []
    real = checks.parity.read_folder

    def spy(path, display_name=None):
        read.append(display_name)
        return real(path, display_name=display_name)

    monkeypatch.setattr(checks.parity, "read_folder", spy)
    rows = verify_domain(load_config(s.config), s.domain, reread=reread)
    return {r.folder: r for r in rows}, read


def test_unchanged_files_are_verified_from_the_ledger(site, monkeypatch):
    trusted, read = _verify(site, monkeypatch)
    assert read == []
    assert not any(r.differs for r in trusted.values())
    full, read = _verify(site, monkeypatch, reread=True)
    assert len(read) == len(full) == 2
    for folder, r in full.items():  # the same counts either way
        t = trusted[folder]
        assert (r.source_messages, r.target_messages, r.differs) == (
            t.source_messages, t.target_messages, False) and r.source_messages > 0


def test_a_difference_in_cyrus_is_reported_exactly_after_a_reread(site, monkeypatch):
    client = site.imap(site.user)
    try:
        client.select_folder("INBOX")
        uids = client.search("ALL")
        client.delete_messages(uids[-1:])
        client.expunge()
    finally:
        client.logout()
    rows, read = _verify(site, monkeypatch)
    assert read == [str(Path("/var/mail") / site.user)]
    inbox = rows["INBOX"]
    assert inbox.differs and len(inbox.missing) == 1 and inbox.missing[0]["line"] > 1
    assert site.mm("verify", "--domain", site.domain).rc == 3


def test_a_changed_file_is_read_again(site, monkeypatch):
    lists = site.site / "home" / site.user / "mail/lists"
    append_message(lists, b"Subject: new on the old host\r\n\r\nhello\r\n",
                   sender="someone@example.com", date=datetime(2026, 1, 2, tzinfo=UTC))
    os.utime(lists, (OLD, OLD))  # even with its old mtime back: size and ctime differ
    rows, read = _verify(site, monkeypatch)
    assert f"/home/{site.user}/mail/lists" in read
    assert len(rows["INBOX/lists"].missing) == 1


def test_copy_records_a_stamp_only_for_a_whole_unchanged_pass(site):
    with open_tracker(load_config(site.config).db_url) as session:
        stamps = {m.source: m.source_stamp for m in session.query(Mailbox)}
    assert all(stamps.values()), stamps
    fresh = new_site("stamp")
    try:
        user = f"stamp{token()}"
        fresh.add_user(user)
        spool = fresh.site / "var/mail" / user
        shutil.copy(MBOX / "formats.mbox", spool)
        # modified "just now" however long inventory and copy take to start on a busy
        # machine: an mtime ahead of the clock is as racy as one within RACY_SECONDS
        ahead = time.time() + 3600
        os.utime(spool, (ahead, ahead))
        assert fresh.mm("inventory").rc == 0
        assert fresh.mm("copy", "--domain", fresh.domain).rc == 0
        with open_tracker(load_config(fresh.config).db_url) as session:
            assert [m.source_stamp for m in session.query(Mailbox)] == [None]
    finally:
        remove(fresh)


def test_copy_reports_a_message_cyrus_does_not_hold_as_sent(site):
    """The copy's own check after each folder (CP010).  Cyrus stores what the reader
    sends byte for byte, so a mismatch cannot be provoked through a copy: the test
    plants a wrong SHA-1 for a real UID and lets the check ask the real Cyrus."""
    cfg = load_config(site.config)
    client = connect(cfg.cyrus, site.user)
    try:
        client.select_folder("INBOX/lists", readonly=True)
        uid = max(client.search("ALL"))
        with open_tracker(cfg.db_url) as session:
            mb = session.query(Mailbox).filter_by(folder="INBOX/lists").one()
            copier = MailboxCopier(cfg, session, client, site.domain, mb, lambda n: None)
            copier.stored = {uid: ("0" * 40, 7, b"From x", 1), uid + 1000: ("1" * 40, 9,
                                                                          b"From y", 1)}
            copier._check_stored()
            codes = [(f.code, f.line) for f in copier.result.findings]
            session.rollback()
    finally:
        client.logout()
    assert codes == [("CP010", 7), ("CP010", 9)]
    assert copier.result.altered == 2
