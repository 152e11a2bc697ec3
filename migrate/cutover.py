"""``mailmigrate cutover``: move one domain through its stages, journalling each step.

    inventoried -> prestaged -> frozen -> delta -> switched -> verified
    (any of prestaged..verified) -- rollback --> rolled_back -> prestaged ...

prestaged  the initial copy and the Sieve upload are complete; the domain's
           address rows are published to Postfix, still routed to the old host.
frozen     Postfix holds the domain's mail in its queue (a ``retry:``
           transport): nothing reaches either side, nothing is lost.
delta      a copy pass takes what reached the old spools since the initial copy.
switched   UIDNEXT of every Cyrus folder is recorded (what rollback returns
           starts there), the transport points at Cyrus and the queue is flushed.
verified   a probe per user went through Postfix by SMTP and was found in Cyrus.

Each step first checks whether it is already done, so re-running a cutover
after a failure continues where it stopped.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from checks.delivery_probe import probe
from converters.finding import InputError
from migrate.config import Config
from migrate.convert import postfix_translation
from migrate.copy import copy_domain
from migrate.errors import UnknownDomain
from migrate.imap import connect
from migrate.routing import RoutingTable
from migrate.sieve_upload import probe_token, upload_domain
from migrate.sitefs import on_disk
from migrate.tracker import Domain, FolderMark, Transition, User
from migrate.tracker.session import actor

ORDER = ("inventoried", "prestaged", "frozen", "delta", "switched", "verified")
ROLLED_BACK = "rolled_back"


class StepFailed(Exception):
    """A stage could not be reached; the domain stays where it was."""


def next_state(state: str) -> str | None:
    """The stage after ``state`` on the way to verified."""
    if state == ROLLED_BACK:
        return "prestaged"
    i = ORDER.index(state)
    return ORDER[i + 1] if i + 1 < len(ORDER) else None


def journal(session: Session, drow: Domain, to: str, result: str, detail: str) -> Transition:
    """Record one transition (or failed attempt) and move the state on success."""
    t = Transition(domain=drow, from_state=drow.state, to_state=to, actor=actor(),
                   result=result, detail=detail)
    session.add(t)
    if result == "ok":
        drow.state = to
    session.commit()
    return t


def reroute(cfg: Config, domain: str, transport: str) -> None:
    """Change the domain's transport and wait until Postfix no longer uses the old one.

    Without the wait, a message to an address resolved moments before could
    still take the old route: after a freeze that would put it in the old
    spool behind the delta copy's back.
    """
    RoutingTable(cfg.postfix.routing_db).set_transport(domain, transport)
    time.sleep(cfg.postfix.settle_seconds)


def flush_queue(cfg: Config) -> None:
    """Ask Postfix to retry deferred mail now (held mail goes to its new route)."""
    subprocess.run(["postqueue", "-c", cfg.postfix.config_dir, "-f"], check=False,
                   capture_output=True, timeout=60)


def publish(cfg: Config, session: Session, drow: Domain) -> str:
    """Publish the domain's address rows, routed to the old host, to Postfix.

    Mailbox domains that Postfix does not know yet are published too (routed
    to the old host), so the rest of the site keeps flowing; mailbox domains
    already published are left as they are (their transport may be mid-cutover).
    Alias domains (no user's home domain, see routing.py) have no cutover of
    their own, so each publication brings them up to date; they come last, so
    no alias is accepted while the domain it forwards to is not routed yet.
    """
    _, pf = postfix_translation(cfg, session)
    table = RoutingTable(cfg.postfix.routing_db)
    domains = sorted(session.scalars(select(Domain).order_by(Domain.id)),
                     key=lambda d: not d.users)
    mailbox = alias = 0
    for d in domains:
        if not d.users:
            table.publish_alias_domain(d.name, pf.virtual_alias)
            alias += 1
            continue
        if d.id != drow.id and table.transport(d.name) is not None:
            continue
        spools = [(f"{u.name}@{d.name}", str(on_disk(cfg.site_root, f"/var/mail/{u.name}")))
                  for u in d.users]
        table.publish_domain(d.name, cfg.postfix.old_transport, pf.virtual_alias, spools)
        mailbox += 1
    return (f"{mailbox} mailbox domain(s) and {alias} alias domain(s) published to "
            f"{cfg.postfix.routing_db}")


def _prestage(cfg: Config, session: Session, drow: Domain, progress: bool) -> str:
    missing = [m.source for u in drow.users for m in u.mailboxes
               if m.scanned_to == 0 and m.source_bytes > 0 or m.copied_messages < m.source_messages]
    if missing:
        raise StepFailed(f"{len(missing)} mailbox(es) not fully copied (e.g. {missing[0]}): "
                         f"run 'mailmigrate copy --domain {drow.name}' and fix its findings")
    stale = [u.name for u in drow.users if u.script and not u.script.uploaded_sha1]
    if stale:
        raise StepFailed(f"Sieve scripts not uploaded for {', '.join(stale)}: "
                         f"run 'mailmigrate sieve --domain {drow.name}'")
    return publish(cfg, session, drow)


def _freeze(cfg: Config, session: Session, drow: Domain, progress: bool) -> str:
    reroute(cfg, drow.name, cfg.postfix.hold_transport)
    return f"transport {cfg.postfix.hold_transport!r}: mail is held in the Postfix queue"


def _delta(cfg: Config, session: Session, drow: Domain, progress: bool) -> str:
    results = copy_domain(cfg, drow.name, progress=progress)
    bad = [r for r in results if not r.complete]
    if bad:
        raise StepFailed(f"delta copy incomplete for {len(bad)} mailbox(es), e.g. "
                         f"{bad[0].source}: see 'mailmigrate report'")
    uploads = upload_domain(cfg, session, drow.name)
    new = sum(r.appended + r.reconciled for r in results)
    return f"{new} new message(s) copied; {sum(u.action == 'uploaded' for u in uploads)} " \
           f"script(s) re-uploaded"


def record_marks(cfg: Config, session: Session, user: User) -> int:
    """Store UIDVALIDITY/UIDNEXT of every folder of ``user``; return how many."""
    client = connect(cfg.cyrus, user.name)
    n = 0
    try:
        for _flags, _sep, name in client.list_folders():
            st = client.folder_status(name, ["UIDVALIDITY", "UIDNEXT"])
            mark = session.scalar(select(FolderMark).where(
                FolderMark.user_id == user.id, FolderMark.folder == name))
            if mark is None:
                mark = FolderMark(user_id=user.id, folder=name, uidvalidity=0, uidnext=0)
                session.add(mark)
            mark.uidvalidity, mark.uidnext = int(st[b"UIDVALIDITY"]), int(st[b"UIDNEXT"])
            n += 1
    finally:
        client.logout()
    return n


def _switch(cfg: Config, session: Session, drow: Domain, progress: bool) -> str:
    marks = sum(record_marks(cfg, session, u) for u in drow.users)
    session.commit()
    reroute(cfg, drow.name, cfg.cyrus.lmtp_transport)
    flush_queue(cfg)
    return f"{marks} folder mark(s) recorded; transport {cfg.cyrus.lmtp_transport!r}"


def _verify(cfg: Config, session: Session, drow: Domain, progress: bool) -> str:
    token = probe_token(cfg)
    results = [probe(cfg, f"{u.name}@{drow.name}", u.name, token) for u in drow.users]
    lost = [r.address for r in results if not r.ok]
    if lost:
        raise StepFailed(f"probe not found in Cyrus for {', '.join(lost)}")
    return "; ".join(f"{r.address} -> {r.folder} in {r.seconds}s" for r in results)


STEPS: dict[str, Callable[[Config, Session, Domain, bool], str]] = {
    "prestaged": _prestage,
    "frozen": _freeze,
    "delta": _delta,
    "switched": _switch,
    "verified": _verify,
}


@dataclass(frozen=True)
class StepResult:
    """One journalled step, as shown to the operator."""

    from_state: str
    to_state: str
    result: str
    detail: str


def cutover(cfg: Config, session: Session, domain: str, to: str = "verified",
            progress: bool = True) -> list[StepResult]:
    """Advance ``domain`` stage by stage up to ``to``; stop at the first failure."""
    drow = session.scalar(select(Domain).where(Domain.name == domain))
    if drow is None:
        raise UnknownDomain(domain)
    if not drow.users:
        # Nothing of its own to copy, hold or switch: its addresses follow the
        # domains they forward to, and every publish() brings its rows up to date.
        raise InputError(cfg.source, None, f"{domain} is an alias domain (no user's home "
                         "domain): it is published whenever a domain is prestaged and its "
                         "addresses follow the domains they forward to; nothing to cut over "
                         "(give it users in [home_domains] to cut it over)")
    if to not in ORDER[1:]:
        raise ValueError(f"unknown stage {to!r}; stages: {', '.join(ORDER[1:])}")
    done: list[StepResult] = []
    while drow.state != to:
        nxt = next_state(drow.state)
        if nxt is None or (drow.state != ROLLED_BACK
                           and ORDER.index(drow.state) > ORDER.index(to)):
            break
        before = drow.state
        try:
            detail = STEPS[nxt](cfg, session, drow, progress)
        except StepFailed as exc:
            session.rollback()
            journal(session, drow, nxt, "failed", str(exc))
            done.append(StepResult(before, nxt, "failed", str(exc)))
            break
        journal(session, drow, nxt, "ok", detail)
        done.append(StepResult(before, nxt, "ok", detail))
    return done
