"""Rollback returns mail to the old mbox as the old delivery agent would have, and
nothing it returned is reported by verify or copied a second time afterwards.

One scratch domain and user, against the real Cyrus and Postfix: cut over to
verified, one message through Postfix whose body has lines ``From ...`` and
``>From ...`` and no final line end, one appended by a mail client to a
folder that exists only in Cyrus, then rollback.  The real procmail (the old
host's local mailer) says what the spool must hold; verify, a new cutover's
delta pass and a resync after the old mail client rewrote the spool must
then find every message exactly once.  The tests run in file order.
"""

from __future__ import annotations

import grp
import os
import smtplib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import pytest

from converters.mbox import read_mbox
from tests.integration.conftest import wait_for
from tests.integration.scratch import ScratchSite, new_site, remove, token
from tests.mbox_delivery_oracle import PROCMAIL, procmail_entry

pytestmark = [
    pytest.mark.servers,
    pytest.mark.skipif(PROCMAIL is None, reason="procmail not installed"),
    pytest.mark.filterwarnings("ignore:Credentials are sent over an unencrypted connection"),
]

OLD_MAIL = (b"From old@example.org  Mon Jan  1 10:00:00 2024\nFrom: old@example.org\n"
            b"Subject: before the migration\nMessage-ID: <old-%s@example.org>\n\nold mail\n\n")
PROJECTS = "INBOX/Projects"


@dataclass
class Returned:
    """The site after the rollback, and the two messages as Cyrus holds them."""

    site: ScratchSite
    user: str
    spool: Path
    old_id: str
    smtp_id: str
    client_id: str
    old_entry: bytes
    smtp_bytes: bytes = b""
    client_bytes: bytes = b""


def _fetch(s: ScratchSite, user: str, folder: str, msgid: str) -> list[tuple[bytes, object]]:
    """(bytes, INTERNALDATE) of every message of ``folder`` with this Message-ID."""
    client = s.imap(user)
    try:
        client.select_folder(folder, readonly=True)
        uids = client.search(["HEADER", "Message-ID", msgid])
        got = client.fetch(uids, ["BODY.PEEK[]", "INTERNALDATE"]) if uids else {}
    finally:
        client.logout()
    return [(d[b"BODY[]"], d[b"INTERNALDATE"]) for d in got.values()]


def _mm(s: ScratchSite, *args: str) -> None:
    run = s.mm(*args)
    assert run.rc == 0, (args, run.out, run.err)


@pytest.fixture(scope="module")
def returned() -> Iterator[Returned]:
    s = new_site("rb")
    user = f"rb{token()}"
    s.add_user(user)  # no ~/mail: a folder only Cyrus has goes back to the spool
    spool = s.site / "var/mail" / user
    tag = token()
    old_entry = OLD_MAIL % tag.encode()
    spool.write_bytes(old_entry)
    os.chown(spool, 0, grp.getgrnam("mail").gr_gid)  # the oldsite service writes as mail
    spool.chmod(0o660)
    r = Returned(s, user, spool, f"<old-{tag}@example.org>", f"<smtp-{tag}@example.com>",
                 f"<client-{tag}@example.com>", old_entry)
    try:
        for args in (("inventory",), ("convert",), ("copy", "--domain", s.domain),
                     ("sieve", "--domain", s.domain), ("cutover", s.domain)):
            _mm(s, *args)
        pf = s.servers["postfix"]
        with smtplib.SMTP(pf["smtp_host"], pf["smtp_port"], timeout=30) as smtp:
            smtp.sendmail("bounces@example.com", [f"{user}@{s.domain}"], (
                f"From: a@example.com\r\nTo: {user}@{s.domain}\r\nSubject: after the switch\r\n"
                f"Message-ID: {r.smtp_id}\r\n\r\nline one\r\nFrom the start of a line\r\n"
                ">From quoted already\r\nno final newline").encode())
        ((r.smtp_bytes, _),) = wait_for(lambda: _fetch(s, user, "INBOX", r.smtp_id))
        client = s.imap(user)
        try:
            client.create_folder(PROJECTS)
            client.append(PROJECTS, (
                f"From: Carol <carol@example.com>\r\nSubject: saved by hand\r\n"
                f"Message-ID: {r.client_id}\r\n\r\nFrom the Projects folder\r\n").encode())
        finally:
            client.logout()
        ((r.client_bytes, _),) = _fetch(s, user, PROJECTS, r.client_id)
        _mm(s, "rollback", s.domain)
        yield r
    finally:
        with sqlite3.connect(s.servers["postfix"]["routing_db"]) as db:
            for table in ("domains", "transport", "virtual_alias_domains"):
                db.execute(f"DELETE FROM {table} WHERE domain = ?", (s.domain,))
            for table in ("virtual_alias", "old_mailbox"):
                db.execute(f"DELETE FROM {table} WHERE address LIKE ?", (f"%@{s.domain}",))
        remove(s)


def _entries(spool: Path) -> list[bytes]:
    """The bytes of each message of the spool, From_ line and separator included."""
    data = spool.read_bytes()
    return [data[m.offset:m.offset + m.length] for m in read_mbox(spool)]


def test_the_spool_holds_what_procmail_would_have_written(returned: Returned):
    r = returned
    old, smtp, saved = _entries(r.spool)
    assert old == r.old_entry
    for ours, data, sender, folder, msgid in (
            (smtp, r.smtp_bytes, "bounces@example.com", "INBOX", r.smtp_id),
            (saved, r.client_bytes, "carol@example.com", PROJECTS, r.client_id)):
        real, _when = procmail_entry(data, sender)
        ((_, internaldate),) = _fetch(r.site, r.user, folder, msgid)
        stamp = internaldate.astimezone(UTC).strftime("%a %b %e %H:%M:%S %Y")
        # the delivery time is Cyrus's; the rest is procmail's, byte for byte
        assert ours.split(b"\n", 1)[0] == f"From {sender}  {stamp}".encode()
        assert ours.split(b"\n", 1)[1] == real.split(b"\n", 1)[1]
    assert b"\n>From the start of a line\n>From quoted already\n" in smtp
    assert b"\n>From the Projects folder\n" in saved


def test_verify_reports_nothing_the_rollback_returned(returned: Returned):
    r = returned
    # the copies read back otherwise than Cyrus holds them: that is what is checked here
    back = {m.data for m in read_mbox(r.spool)}
    assert r.smtp_bytes not in back and r.client_bytes not in back
    run = r.site.mm("verify", "--domain", r.site.domain, "--json")
    assert run.rc == 0, run.out + run.err
    (inbox,) = run.json()["folders"]
    assert (inbox["folder"], inbox["source_messages"], inbox["missing"], inbox["extra"],
            inbox["different"]) == ("INBOX", 3, [], [], [])
    # status counts the returned messages as in both places, like copied ones
    run = r.site.mm("status", "--json")
    (row,) = [d for d in run.json() if d["domain"] == r.site.domain]
    assert row["copied_messages"] == row["source_messages"] == 3, row


def _counts(r: Returned) -> dict[tuple[str, str], int]:
    return {(folder, msgid): len(_fetch(r.site, r.user, folder, msgid))
            for folder in ("INBOX", PROJECTS) for msgid in (r.old_id, r.smtp_id, r.client_id)}


ONCE = {("INBOX", "old"): 1, ("INBOX", "smtp"): 1, ("INBOX", "client"): 0,
        (PROJECTS, "old"): 0, (PROJECTS, "smtp"): 0, (PROJECTS, "client"): 1}


def _named(r: Returned) -> dict[tuple[str, str], int]:
    names = {r.old_id: "old", r.smtp_id: "smtp", r.client_id: "client"}
    return {(folder, names[msgid]): n for (folder, msgid), n in _counts(r).items()}


def test_a_new_cutover_copies_nothing_it_returned(returned: Returned):
    r = returned
    _mm(r.site, "cutover", r.site.domain, "--to", "delta")
    assert _named(r) == ONCE
    run = r.site.mm("verify", "--domain", r.site.domain)
    assert run.rc == 0, run.out + run.err


def test_a_resync_after_the_old_client_rewrote_the_spool_copies_nothing_twice(
        returned: Returned):
    r = returned
    old, smtp, saved = _entries(r.spool)
    r.spool.write_bytes(smtp + saved)  # the user deleted the old message on the old host
    refused = r.site.mm("copy", "--domain", r.site.domain)
    assert refused.rc == 3 and "source mailbox was rewritten" in refused.err
    run = r.site.mm("copy", "--domain", r.site.domain, "--resync", "--json")
    assert run.rc in (0, 3), run.out + run.err
    assert [b["appended"] for b in run.json()["mailboxes"]] == [0]
    assert _named(r) == ONCE
    verify = r.site.mm("verify", "--domain", r.site.domain, "--json")
    (inbox,) = verify.json()["folders"]
    # only the message deleted on the old host is left over, in Cyrus
    assert (len(inbox["extra"]), inbox["missing"], inbox["different"]) == (1, [], [])
