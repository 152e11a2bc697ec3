"""Publishing a site with an alias domain to the live (sandbox) Postfix, asked over SMTP.

The scratch site has a mailbox domain (one user) and an alias domain: a
virtusertable domain whose addresses only forward, to that user and to an
outside address, and which no user has as home.  After ``cutover --to
prestaged`` of the mailbox domain, Postfix itself must treat the alias domain
as sendmail did: its aliased addresses are accepted and rewritten to their
targets (a message reaches the user's old spool through the mailbox domain's
transport), and any other address of it is refused with 550 at RCPT time,
not accepted and bounced later, which is what a relay domain would do.
"""

from __future__ import annotations

import grp
import os
import re
import smtplib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from converters.mbox import read_mbox
from tests.integration.conftest import wait_for
from tests.integration.scratch import ScratchSite, new_site, remove, token

pytestmark = [
    pytest.mark.servers,
    pytest.mark.filterwarnings("ignore:Credentials are sent over an unencrypted connection"),
]


@dataclass
class Published:
    """The scratch site after its mailbox domain was prestaged."""

    site: ScratchSite
    user: str
    alias_domain: str

    @property
    def routing_db(self) -> str:
        return self.site.servers["postfix"]["routing_db"]

    def rows(self, table: str, column: str, value: str) -> list[tuple]:
        with sqlite3.connect(self.routing_db) as db:
            return db.execute(f"SELECT * FROM {table} WHERE {column} = ?", (value,)).fetchall()

    def rcpt(self, address: str) -> tuple[int, str]:
        """The sandbox smtpd's reply to RCPT TO (nothing is sent)."""
        pf = self.site.servers["postfix"]
        with smtplib.SMTP(pf["smtp_host"], pf["smtp_port"], timeout=30) as smtp:
            smtp.ehlo("tester.example")
            smtp.mail("tester@sender.example")
            code, msg = smtp.rcpt(address)
        return code, msg.decode()


@pytest.fixture(scope="module")
def published() -> Iterator[Published]:
    s = new_site("rp")
    user = f"ann{token()}"
    s.add_user(user)
    spool = s.site / "var/mail" / user
    spool.write_text("")
    # the oldsite service (virtual(8)) appends as group mail, as on a Debian host
    os.chown(spool, 0, grp.getgrnam("mail").gr_gid)
    spool.chmod(0o660)
    alias_domain = f"rpa{token()}.example"
    (s.site / "etc/mail/virtusertable").write_text(
        f"sales@{alias_domain}\t{user}\n"
        f"partner@{alias_domain}\tpartner@outside.example\n")
    p = Published(s, user, alias_domain)
    try:
        for args in (("inventory",), ("convert",), ("copy", "--domain", s.domain),
                     ("sieve", "--domain", s.domain),
                     ("cutover", s.domain, "--to", "prestaged")):
            run = s.mm(*args)
            assert run.rc == 0, (args, run.out, run.err)
        yield p
    finally:
        with sqlite3.connect(p.routing_db) as db:
            for domain in (s.domain, alias_domain):
                for table, column in (("domains", "domain"), ("transport", "domain"),
                                      ("virtual_alias_domains", "domain")):
                    db.execute(f"DELETE FROM {table} WHERE {column} = ?", (domain,))
                for table in ("virtual_alias", "old_mailbox"):
                    db.execute(f"DELETE FROM {table} WHERE address LIKE ?", (f"%@{domain}",))
        remove(s)


def test_alias_domain_is_published_as_virtual_alias_domain_only(published: Published):
    p, mailbox = published, published.site.domain
    assert p.rows("domains", "domain", mailbox) == [(mailbox,)]
    assert p.rows("virtual_alias_domains", "domain", mailbox) == []
    assert p.rows("virtual_alias_domains", "domain", p.alias_domain) == [(p.alias_domain,)]
    assert p.rows("domains", "domain", p.alias_domain) == []
    assert p.rows("transport", "domain", p.alias_domain) == []


def test_unknown_address_of_alias_domain_is_refused_at_rcpt(published: Published):
    code, msg = published.rcpt(f"nobody{token()}@{published.alias_domain}")
    assert code == 550, msg
    assert "User unknown in virtual alias table" in msg
    for known in ("sales", "partner"):
        code, msg = published.rcpt(f"{known}@{published.alias_domain}")
        assert code == 250, (known, msg)


def test_aliased_address_is_rewritten_to_the_mailbox(published: Published):
    # The mailbox domain is still routed to the old host (oldsite: appends to the
    # spool), so the message shows where Postfix's rewriting sent it.
    p = published
    subject = f"to the alias domain {token()}"
    pf = p.site.servers["postfix"]
    with smtplib.SMTP(pf["smtp_host"], pf["smtp_port"], timeout=30) as smtp:
        refused = smtp.sendmail("tester@sender.example", [f"Sales@{p.alias_domain}"],
                                f"Subject: {subject}\r\n\r\nHello.\r\n".encode())
    assert refused == {}
    spool = p.site.site / "var/mail" / p.user

    def arrived():
        return [m.data for m in read_mbox(spool) if subject.encode() in m.data]

    (data,) = wait_for(arrived, timeout=60)
    assert re.search(rb"^Delivered-To: " + re.escape(f"{p.user}@{p.site.domain}".encode()),
                     data, re.M | re.I), data[:400]
    assert re.search(rb"^X-Original-To: " + re.escape(f"sales@{p.alias_domain}".encode()),
                     data, re.M | re.I), data[:400]


def test_status_cutover_and_rollback_of_an_alias_domain(published: Published):
    p = published
    status = p.site.mm("status", "--json")
    assert status.rc == 0, status.err
    by_name = {r["domain"]: r for r in status.json()}
    assert by_name[p.alias_domain]["alias_domain"] is True
    assert by_name[p.site.domain]["alias_domain"] is False
    assert "alias domain" in p.site.mm("status").out
    # it has no cutover of its own: refused as input (exit 2), and nothing is changed
    cut = p.site.mm("cutover", p.alias_domain, "--to", "prestaged")
    assert cut.rc == 2 and "alias domain" in cut.err, (cut.out, cut.err)
    back = p.site.mm("rollback", p.alias_domain)
    assert back.rc == 0 and "nothing to do" in back.out, (back.out, back.err)
    assert p.rows("virtual_alias_domains", "domain", p.alias_domain) == [(p.alias_domain,)]
    assert p.rows("transport", "domain", p.alias_domain) == []
