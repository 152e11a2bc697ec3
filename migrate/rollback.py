"""``mailmigrate rollback``: route a domain back to the old system, losing nothing.

Order matters.  First the domain's mail is held in the Postfix queue, so
nothing lands anywhere while we work; then every message that reached Cyrus
after the switch (UID at or above the folder's recorded UIDNEXT, and not put
there by our own copy) is appended to the matching old mbox, spool for the
INBOX; only then is the old transport restored and the queue flushed.  Each
returned message is entered in the ledger, so a second rollback does not
return it twice and a later delta pass does not copy it back again.

The old mbox gets what the old delivery agent would have written
(``converters.mbox.writer``), which is not always the message byte for byte
(``From `` lines quoted, a last line ended): the ledger keeps both digests,
Cyrus's and the one the returned copy reads back as, and ``verify`` and a
resync know the returned copy by the latter.
"""

from __future__ import annotations

import hashlib
from datetime import UTC

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from converters.finding import Finding
from converters.mbox import read_mbox
from converters.mbox.maildir import deliver_maildir
from converters.mbox.writer import append_message, envelope_sender
from migrate.config import Config
from migrate.cutover import ORDER, ROLLED_BACK, StepResult, flush_queue, journal, reroute
from migrate.errors import UnknownDomain
from migrate.imap import connect
from migrate.routing import RoutingTable
from migrate.sitefs import on_disk
from migrate.tracker import Domain, FolderMark, Mailbox, Message, User
from migrate.tracker.findings import record_finding

FETCH = [b"BODY.PEEK[]", b"INTERNALDATE"]


def _destination(cfg: Config, session: Session, user: User, folder: str) -> Mailbox:
    """The old mbox for a Cyrus folder: the one it was copied from, else a guess.

    A folder that did not exist on the old side (created by a Sieve rule) goes
    to ``~/mail/<name>`` when that directory exists, otherwise to the spool.
    """
    for mb in user.mailboxes:
        if mb.folder == folder:
            return mb
    rel = folder.removeprefix(cfg.mapping.prefix) if folder != "INBOX" else ""
    source = f"/var/mail/{user.name}"
    if rel:
        for d in ("mail", "Mail"):
            candidate = f"{user.old_home.rstrip('/')}/{d}/{rel}"
            if on_disk(cfg.site_root, candidate).parent.is_dir():
                source = candidate
                break
    for mb in user.mailboxes:
        if mb.source == source:
            return mb
    mb = Mailbox(user=user, source=source, folder=folder)
    session.add(mb)
    session.flush()
    return mb


def return_new_mail(cfg: Config, session: Session, drow: Domain) -> int:
    """Append every post-switch Cyrus message of the domain's users to the old mboxes."""
    returned = 0
    for user in drow.users:
        marks = session.scalars(select(FolderMark).where(FolderMark.user_id == user.id)).all()
        if not marks:
            continue
        mark_of = {m.folder: m for m in marks}
        client = connect(cfg.cyrus, user.name)
        try:
            for _flags, _sep, name in client.list_folders():
                info = client.select_folder(name, readonly=True)
                uidvalidity = int(info[b"UIDVALIDITY"])
                mark = mark_of.get(name)
                start = mark.uidnext if mark and mark.uidvalidity == uidvalidity else 1
                uids = [u for u in client.search(["UID", f"{start}:*"]) if u >= start]
                if not uids:
                    continue
                ours = set(session.scalars(select(Message.uid).join(Mailbox).where(
                    Mailbox.user_id == user.id, Message.uidvalidity == uidvalidity,
                    func.coalesce(Message.cyrus_folder, Mailbox.folder) == name,
                    Message.uid.in_(uids))))
                dest = _destination(cfg, session, user, name)
                path = on_disk(cfg.site_root, dest.source)
                for uid, data in client.fetch([u for u in uids if u not in ours],
                                              FETCH).items():
                    raw = data[b"BODY[]"]
                    when = data[b"INTERNALDATE"]
                    if when.tzinfo is None:
                        when = when.replace(tzinfo=UTC)
                    mbox_sha1 = None
                    if path.is_dir():
                        offset = deliver_maildir(path, raw, when)
                        length = len(raw)
                    else:
                        offset = append_message(path, raw, sender=envelope_sender(raw),
                                                date=when)
                        back = next(read_mbox(path, start=offset))
                        length, mbox_sha1 = back.length, back.sha1
                    session.add(Message(mailbox_id=dest.id, offset=offset, length=length,
                                        sha1=hashlib.sha1(raw).hexdigest(),
                                        uidvalidity=uidvalidity, uid=uid, origin="rollback",
                                        cyrus_folder=name, mbox_sha1=mbox_sha1))
                    # now in the old mailbox and in Cyrus, as a copied message is
                    dest.source_messages += 1
                    dest.copied_messages += 1
                    session.commit()
                    returned += 1
                if name != "INBOX" and dest.folder != name:
                    record_finding(session, "rollback", drow.name, user.name, Finding(
                        "warning", dest.source, None, name,
                        f"mail filed by Sieve into {name}, which has no old mbox, was returned "
                        f"to {dest.source}", "tell the user where to find it", code="RB001",
                        subject=name))
        finally:
            client.logout()
    return returned


def rollback(cfg: Config, session: Session, domain: str) -> list[StepResult]:
    """Take ``domain`` back to the old system from any stage after inventory."""
    drow = session.scalar(select(Domain).where(Domain.name == domain))
    if drow is None:
        raise UnknownDomain(domain)
    if drow.state in (ORDER[0], ROLLED_BACK):
        return []
    before = drow.state
    reroute(cfg, domain, cfg.postfix.hold_transport)
    returned = return_new_mail(cfg, session, drow)
    RoutingTable(cfg.postfix.routing_db).set_transport(domain, cfg.postfix.old_transport)
    flush_queue(cfg)
    detail = (f"{returned} message(s) delivered to Cyrus after the switch returned to the old "
              f"mboxes; transport {cfg.postfix.old_transport!r}")
    journal(session, drow, ROLLED_BACK, "ok", detail)
    return [StepResult(before, ROLLED_BACK, "ok", detail)]
