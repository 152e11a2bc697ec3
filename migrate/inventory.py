"""``mailmigrate inventory``: read the old site into the tracker.

Domains and users come from the Sendmail tables (converters.sendmail); the
mailboxes of each user are found on disk: the spool ``/var/mail/USER`` (the
INBOX), and every mbox file or maildir under ``~/mail``, ``~/Mail`` and
``~/mbox``.  Anything found there that is neither (an MH folder, a binary) is
a finding, never silently passed over.  Re-running updates the rows in place
and never forgets what was copied.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from converters.finding import Finding, InputError
from converters.folders import FolderMapping, spool_side_name
from converters.mbox import folder_size, is_maildir
from converters.sendmail import SendmailSite, mail_domains, read_site
from migrate.config import Config
from migrate.sitefs import old_path, on_disk, path_text
from migrate.tracker import Domain, FindingRow, Mailbox, User
from migrate.tracker.findings import record_finding

FOLDER_DIRS = ("mail", "Mail")


def folder_dir(home: Path) -> Path | None:
    """The user's folder directory (procmail's usual MAILDIR), if there is one.

    Copy and Sieve translation both name folders relative to it, so a
    ``fileinto`` names the folder the copy created.
    """
    for name in FOLDER_DIRS:
        if (home / name).is_dir():
            return home / name
    return None


@dataclass(frozen=True)
class FoundMailbox:
    """An mbox file of a user and the folder it becomes."""

    source: str  # old absolute path
    folder: str
    size: int


def _looks_like_mbox(path: Path) -> bool:
    """An mbox is empty or starts (after an optional BOM) with ``From ``."""
    with path.open("rb") as fh:
        head = fh.read(8)
    return head == b"" or head.removeprefix(b"\xef\xbb\xbf").startswith(b"From ")


def find_mailboxes(
    site_root: Path, user: str, old_home: str, mapping: FolderMapping,
    others: frozenset[str] = frozenset(),
) -> Iterator[FoundMailbox | Finding]:
    """Yield the user's mbox files (spool first) and a finding for anything else.

    ``others`` are the site's user names: ``/var/mail/alice.smith`` is the
    spool of user alice.smith, not a folder beside alice's spool.
    """
    spool = on_disk(site_root, f"/var/mail/{user}")
    odd = _not_followed(site_root, spool, user)
    if odd is not None:
        yield odd
    elif spool.is_file():
        yield FoundMailbox(f"/var/mail/{user}", "INBOX", spool.stat().st_size)
    elif spool.is_dir() and is_maildir(spool):
        yield FoundMailbox(f"/var/mail/{user}", "INBOX", folder_size(spool))
    elif spool.is_dir():
        yield Finding("warning", f"/var/mail/{user}", None, "", "the spool is a directory "
                      "but not a maildir: not copied", "check what is in it; copy mail in it "
                      "by hand", code="INV006", subject=user)
    yield from _spool_side(site_root, user, mapping, others)
    home = on_disk(site_root, old_home)
    saved = home / "mbox"
    odd = _not_followed(site_root, saved, user)
    if odd is not None:
        yield odd
    elif saved.is_file() and _looks_like_mbox(saved):
        yield FoundMailbox(old_path(site_root, saved), mapping.folder("mbox"), saved.stat().st_size)
    for dirname in FOLDER_DIRS:
        top = home / dirname
        odd = _not_followed(site_root, top, user)
        if odd is not None:
            yield odd
        elif top.is_dir():
            yield from _walk(site_root, user, top, top, mapping)


def _not_followed(site_root: Path, path: Path, user: str) -> Finding | None:
    """A finding for a symbolic link or a special file where mail could be; else None.

    A link's target is a path on the old server (an absolute one would be
    read from this machine), it may point at a folder that is copied under
    its own name (mail twice), or at its own directory (an endless walk): so
    links are reported, never followed.  A FIFO would block the reader and a
    device is no mailbox.  Plain files, directories and absent paths give None.
    """
    if path.is_symlink():
        return Finding(
            "warning", old_path(site_root, path), None, f"-> {path_text(os.readlink(path))}",
            "symbolic link: not followed, so the mail it leads to is not copied from here",
            "copy what it points to by hand if it is not copied under its own name, or "
            "replace the link by the file or directory", code="INV005", subject=user)
    if path.exists() and not (path.is_file() or path.is_dir()):
        return Finding(
            "warning", old_path(site_root, path), None, path.name,
            "neither a file nor a directory (a FIFO, socket or device): not copied",
            "check it is not mail; replace it by an mbox file if it is",
            code="INV006", subject=user)
    return None


def _spool_side(site_root: Path, user: str, mapping: FolderMapping,
                others: frozenset[str]) -> Iterator[FoundMailbox | Finding]:
    """Folders beside the spool (``/var/mail/USER.NAME``), named as the Sieve side names them.

    procmail rules such as ``${DEFAULT}.Spam/`` deliver there; both sides use
    converters.folders.spool_side_name, so filtered and copied mail meet.
    """
    spool_dir = on_disk(site_root, "/var/mail")
    if not spool_dir.is_dir():
        return
    for path in sorted(spool_dir.iterdir()):
        name = spool_side_name(user, f"/var/mail/{path.name}")
        if name is None or path.name in others:
            continue
        folder = mapping.folder(name)
        odd = _not_followed(site_root, path, user)
        if odd is not None:
            yield odd
        elif path.is_dir() and is_maildir(path):
            yield FoundMailbox(old_path(site_root, path), folder, folder_size(path))
        elif path.is_file() and _looks_like_mbox(path):
            yield FoundMailbox(old_path(site_root, path), folder, path.stat().st_size)
        else:
            yield Finding("info", old_path(site_root, path), None, path.name,
                          "beside the spool, but neither an mbox nor a maildir: not copied",
                          "check it is not mail; copy it by hand if it is",
                          code="INV002", subject=user)


def _walk(site_root: Path, user: str, top: Path, here: Path,
          mapping: FolderMapping) -> Iterator[FoundMailbox | Finding]:
    """Depth-first over a folder directory; maildir and MH folders are not entered."""
    for path in sorted(here.iterdir()):
        rel = path.relative_to(top).as_posix()
        odd = _not_followed(site_root, path, user)
        if odd is not None:
            yield odd
            continue
        if path.is_dir():
            if is_maildir(path):
                yield FoundMailbox(old_path(site_root, path), mapping.folder(rel),
                                   folder_size(path))
            elif (path / ".mh_sequences").exists():
                yield Finding(
                    "warning", old_path(site_root, path), None, rel,
                    "MH folder: only mbox and maildir folders are copied",
                    "convert it to mbox (e.g. with 'inc' or 'packf') or copy it by hand",
                    code="INV001", subject=user)
            else:
                yield from _walk(site_root, user, top, path, mapping)
            continue
        if not _looks_like_mbox(path):
            yield Finding(
                "info", old_path(site_root, path), None, rel,
                "not an mbox file (no From_ line at the start): not copied",
                "check it is not mail; copy it by hand if it is",
                code="INV002", subject=user)
            continue
        yield FoundMailbox(old_path(site_root, path), mapping.folder(rel), path.stat().st_size)


def _store_findings(
    session: Session, stage: str, findings: list[tuple[str | None, str | None, Finding]]
) -> None:
    """Replace the stage's findings: a re-run reports the site as it is now."""
    session.execute(delete(FindingRow).where(FindingRow.stage == stage))
    for domain, user, f in findings:
        record_finding(session, stage, domain, user, f)


def run_inventory(cfg: Config, session: Session) -> tuple[SendmailSite, dict[str, list[str]]]:
    """Record the site's domains, users and mailboxes; return the site and domain->users."""
    if not (cfg.site_root / "etc").is_dir():
        raise InputError(cfg.source, None, f"[site] root {cfg.site_root} does not look like an "
                         "old server's tree (no etc/ directory)")
    site = read_site(cfg.site_root)
    domains = mail_domains(site)
    if not domains:
        raise InputError("/etc/mail/local-host-names", None,
                         "no mail domains found (local-host-names and virtusertable are empty)")
    homes = {u.name: u.home for u in site.users}
    findings: list[tuple[str | None, str | None, Finding]] = [
        (None, f.subject or None, f) for f in site.findings
    ]
    assignment: dict[str, str] = {}
    for d in domains:
        for user in d.users:
            assignment[user] = d.name
    assignment.update({u: d for u, d in cfg.home_domains.items() if u in homes})

    by_domain: dict[str, list[str]] = {}
    for d in domains:
        row = session.scalar(select(Domain).where(Domain.name == d.name))
        if row is None:
            row = Domain(name=d.name, kind=d.kind)
            session.add(row)
        row.kind = d.kind
        by_domain[d.name] = sorted(u for u, dom in assignment.items() if dom == d.name)
    session.flush()
    domain_rows = {r.name: r for r in session.scalars(select(Domain))}
    for user, dom in sorted(assignment.items()):
        if dom not in domain_rows:
            findings.append((None, user, Finding(
                "error", cfg.source, None, f"{user} = {dom!r}",
                f"home domain {dom!r} of user {user} is not a mail domain of the site",
                "fix [home_domains] in the config", code="INV003", subject=user)))
            continue
        urow = session.scalar(select(User).where(User.name == user))
        if urow is None:
            urow = User(name=user, old_home=homes[user], domain=domain_rows[dom])
            session.add(urow)
        urow.domain = domain_rows[dom]
        urow.old_home = homes[user]
        session.flush()
        existing = {m.source: m for m in urow.mailboxes}
        targets: dict[str, str] = {}
        for found in find_mailboxes(cfg.site_root, user, homes[user], cfg.mapping,
                                    frozenset(homes)):
            if isinstance(found, Finding):
                findings.append((dom, user, found))
                continue
            if found.folder in targets:
                findings.append((dom, user, Finding(
                    "warning", found.source, None, found.folder,
                    f"{found.source} and {targets[found.folder]} both become folder "
                    f"{found.folder}; their messages are merged there",
                    "rename one of the old folders first if they must stay apart",
                    code="INV004", subject=found.folder)))
            targets[found.folder] = found.source
            mb = existing.get(found.source)
            if mb is None:
                mb = Mailbox(user=urow, source=found.source, folder=found.folder)
                session.add(mb)
            mb.folder = found.folder
            mb.source_bytes = found.size
    _store_findings(session, "inventory", findings)
    return site, by_domain
