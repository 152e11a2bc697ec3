"""``mailmigrate verify``: compare every copied mailbox of a domain with its Cyrus folder.

The comparison itself is ``checks.parity``; this module walks the tracker's
users and mailboxes, logs in as each user (read-only: EXAMINE and FETCH
DIGEST.SHA1 change no flag) and hands over the ledger and the switch marks.
Users are verified in parallel on ``[cyrus] connections`` connections, as
copy runs: most of a user's time is waiting for Cyrus or the disk.

A file unchanged since a complete copy pass read it is not read again
unless ``reread`` is asked for: its ledger is compared with the folder's
digests (``checks.parity.matches_ledger``), and read again only if anything
differs, so that the report says exactly what and where.

Mail a rollback returned is compared as what it became: the old mbox holds
what the old delivery agent wrote, which may differ from Cyrus's bytes by
the quoting of ``From `` lines (the ledger's ``mbox_sha1``), and mail from a
folder that only exists in Cyrus went to another old mbox, so its original
is looked up in the folder it came from.  Either is fine while Cyrus still
holds the message it returned and the old mbox the copy it wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from imapclient import IMAPClient
from sqlalchemy import Row, func, select

from checks.parity import FolderParity, compare, matches_ledger, target_digests
from migrate.config import Config
from migrate.errors import UnknownDomain
from migrate.imap import connect
from migrate.sitefs import on_disk
from migrate.source_check import file_stamp
from migrate.tracker import Domain, FolderMark, Message, User, open_tracker


def verify_domain(cfg: Config, domain: str, reread: bool = False) -> list[FolderParity]:
    """One FolderParity per mailbox of every user of ``domain``, users in tracker order;
    ``reread``: read every source again even where the ledger may be trusted."""
    with open_tracker(cfg.db_url) as session:
        drow = session.scalar(select(Domain).where(Domain.name == domain))
        if drow is None:
            raise UnknownDomain(domain)
        user_ids = [u.id for u in drow.users]
    out: list[FolderParity] = []
    with ThreadPoolExecutor(max_workers=max(1, cfg.cyrus.connections)) as pool:
        for rows in pool.map(lambda uid: _verify_user(cfg, uid, reread), user_ids):
            out += rows
    return out


def _verify_user(cfg: Config, user_id: int, reread: bool) -> list[FolderParity]:
    """Every mailbox of one user, on one connection acting as the user."""
    out: list[FolderParity] = []
    with open_tracker(cfg.db_url) as session:
        user = session.get(User, user_id)
        assert user is not None
        marks = {m.folder: m for m in session.scalars(
            select(FolderMark).where(FolderMark.user_id == user.id))}
        client = connect(cfg.cyrus, user.name)
        try:
            for mb in user.mailboxes:
                parity = FolderParity(user.name, mb.source, mb.folder)
                out.append(parity)
                path = on_disk(cfg.site_root, mb.source)
                found = target_digests(client, mb.folder)
                if not path.exists():
                    parity.problem = "the source mailbox does not exist any more"
                    continue
                if found is None:
                    found = (0, {})
                    parity.problem = "the Cyrus folder does not exist"
                uidvalidity, target = found
                rows = session.execute(
                    select(Message.offset, Message.uid, Message.sha1, Message.origin,
                           Message.mbox_sha1).where(
                        Message.mailbox_id == mb.id, Message.uidvalidity == uidvalidity,
                        func.coalesce(Message.cyrus_folder, mb.folder) == mb.folder)).all()
                elsewhere = session.scalars(select(Message).where(
                    Message.mailbox_id == mb.id, Message.origin == "rollback",
                    Message.cyrus_folder != mb.folder)).all()
                mark = marks.get(mb.folder)
                arrived = mark.uidnext if mark and mark.uidvalidity == uidvalidity else None
                # the ledger is trusted only for copied mail: a returned message may read
                # back other than Cyrus's bytes, or come from another folder
                unchanged = (not reread and mb.source_stamp is not None
                             and file_stamp(path) == mb.source_stamp and not elsewhere
                             and all(r.origin == "copy" for r in rows))
                if unchanged and matches_ledger(parity, target, [(r.uid, r.sha1) for r in rows],
                                                mb.source_messages, arrived):
                    continue
                compare(parity, path, _as_read_back(target, rows),
                        {r.offset: r.uid for r in rows if r.uid is not None}, arrived)
                for extra in parity.extra:
                    extra["sha1"] = target[extra["uid"]]
                held = _held_elsewhere(client, elsewhere)
                parity.missing = [m for m in parity.missing if m["offset"] not in held
                                  or held[m["offset"]] != m["sha1"]]
        finally:
            client.logout()
    return out


def _as_read_back(target: dict[int, str], rows: Sequence[Row]) -> dict[int, str]:
    """The folder's digests, with each message a rollback returned to this mbox as its
    copy there reads back, as long as Cyrus still holds what was returned."""
    out = dict(target)
    for r in rows:
        if r.origin == "rollback" and r.mbox_sha1 and out.get(r.uid) == r.sha1:
            out[r.uid] = r.mbox_sha1
    return out


def _held_elsewhere(client: IMAPClient, rows: Sequence[Message]) -> dict[int, str]:
    """Offset -> read-back digest of the returned messages (``rows``: rollback rows
    from folders other than the mailbox's own) whose original Cyrus still holds,
    under the same UIDVALIDITY and UID, byte for byte."""
    folders: dict[str, tuple[int, dict[int, str]] | None] = {}
    held: dict[int, str] = {}
    for r in rows:
        if r.cyrus_folder not in folders:
            folders[r.cyrus_folder] = target_digests(client, r.cyrus_folder)
        found = folders[r.cyrus_folder]
        if found and found[0] == r.uidvalidity and found[1].get(r.uid) == r.sha1:
            held[r.offset] = r.mbox_sha1 or r.sha1
    return held


def render(rows: list[FolderParity]) -> str:
    """Human text: one line per folder, then each difference with where it is."""
    lines = []
    for r in rows:
        state = "DIFFERS" if r.differs else "ok"
        lines.append(f"{r.user:<12} {r.source:<40} -> {r.folder:<28} {r.source_messages:>6} "
                     f"source, {r.target_messages:>6} Cyrus"
                     + (f" ({r.arrived} new since the switch)" if r.arrived else "")
                     + f"  {state}")
        if r.problem:
            lines.append(f"  {r.problem}")
        lines += [f"  missing: {r.source}:{m['line']} {m['from']}" for m in r.missing]
        lines += [f"  extra: {r.folder} UID {e['uid']} (SHA-1 {e['sha1']})" for e in r.extra]
        lines += [f"  different: {r.source}:{d['line']} vs {r.folder} UID {d['uid']}"
                  for d in r.different]
    return "\n".join(lines)
