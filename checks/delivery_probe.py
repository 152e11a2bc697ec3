"""Prove routing end to end: a message sent to Postfix by SMTP lands in Cyrus.

The probe carries the site's probe token in a header that every uploaded
script keeps (see migrate.sieve_upload), is sent with a null envelope sender
so no vacation or bounce ever answers it, and is deleted from Cyrus once
found so the user never sees it.
"""

from __future__ import annotations

import smtplib
import time
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

from migrate.config import Config
from migrate.imap import connect

PROBE_HEADER = "X-Mailmigrate-Probe"


@dataclass(frozen=True)
class ProbeResult:
    """Where (if anywhere) the probe for one address was found."""

    address: str
    user: str
    folder: str | None
    seconds: float

    @property
    def ok(self) -> bool:
        """The probe reached the user's mailbox."""
        return self.folder is not None


def send_probe(cfg: Config, address: str, token: str) -> str:
    """Send one probe through Postfix's SMTP port; return its Message-ID."""
    msg = EmailMessage()
    msgid = f"<probe-{uuid.uuid4().hex}@mailmigrate.invalid>"
    msg["From"] = "mailmigrate probe <MAILER-DAEMON@mailmigrate.invalid>"
    msg["To"] = address
    msg["Subject"] = "mailmigrate delivery probe (deleted automatically)"
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = msgid
    msg["Auto-Submitted"] = "auto-generated"
    msg[PROBE_HEADER] = token
    msg.set_content("Delivery probe of the mail migration. It is removed once found.\n")
    with smtplib.SMTP(cfg.postfix.smtp_host, cfg.postfix.smtp_port, timeout=30) as smtp:
        smtp.send_message(msg, from_addr="", to_addrs=[address])
    return msgid


def find_and_remove(cfg: Config, user: str, msgid: str, timeout: float) -> str | None:
    """Poll every folder of ``user`` for the probe; delete it and return the folder."""
    deadline = time.monotonic() + timeout
    client = connect(cfg.cyrus, user)
    try:
        while True:
            for _flags, _sep, name in client.list_folders():
                client.select_folder(name)
                uids = client.search(["HEADER", "Message-ID", msgid])
                if uids:
                    client.add_flags(uids, [b"\\Deleted"])
                    client.uid_expunge(uids)
                    return name
            if time.monotonic() > deadline:
                return None
            time.sleep(0.5)
    finally:
        client.logout()


def probe(cfg: Config, address: str, user: str, token: str, timeout: float = 60) -> ProbeResult:
    """Send a probe to ``address`` and wait until it is in ``user``'s mailbox."""
    start = time.monotonic()
    msgid = send_probe(cfg, address, token)
    folder = find_and_remove(cfg, user, msgid, timeout)
    return ProbeResult(address, user, folder, round(time.monotonic() - start, 2))
