"""Carrying a user's old folder subscriptions over to Cyrus.

Subscriptions are per user in Cyrus, so this runs on the copy's connection,
which acts as the user.  Every folder the copy fills is subscribed anyway
(most clients show only subscribed folders); the old list adds INBOX and
reports names that lead nowhere.  Findings replace those of the last run
(stage ``subscriptions``), so a re-run does not repeat them.
"""

from __future__ import annotations

from imapclient import IMAPClient
from sqlalchemy import delete
from sqlalchemy.orm import Session

from converters.finding import Finding
from converters.subscriptions import SUBSCRIPTION_FILES, read_subscriptions
from migrate.config import Config
from migrate.imap import subscribe
from migrate.inventory import FOLDER_DIRS
from migrate.sitefs import on_disk
from migrate.tracker import FindingRow, User
from migrate.tracker.findings import record_finding

STAGE = "subscriptions"


def subscribe_listed(cfg: Config, session: Session, client: IMAPClient, domain: str,
                     user: User, copied: set[str]) -> list[Finding]:
    """SUBSCRIBE (as the user) every folder of the user's old subscription lists.

    ``copied`` are the folders this copy filled; a listed folder that is not
    one of them is reported rather than created empty.  Each copied folder is
    subscribed when it is created, but a user's folders may be copied on several
    connections at once and Cyrus 3.6 can lose one of two concurrent updates of
    a user's subscriptions (seen in test runs), so every copied folder the
    server does not list as subscribed is subscribed again here.
    """
    present = {name for _flags, _delim, name in client.list_sub_folders()}
    for folder in sorted(copied - present - {"INBOX"}):
        subscribe(client, folder)
    session.execute(delete(FindingRow).where(FindingRow.stage == STAGE,
                                             FindingRow.user == user.name))
    findings: list[Finding] = []
    home = on_disk(cfg.site_root, user.old_home)
    for name, in_mail_dir in SUBSCRIPTION_FILES:
        path = home / name
        if not path.is_file():
            continue
        display = f"{user.old_home.rstrip('/')}/{name}"
        subs, notes = read_subscriptions(path.read_bytes(), display, user.old_home, FOLDER_DIRS,
                                         cfg.mapping, in_mail_dir)
        findings += notes
        for sub in subs:
            if sub.folder in copied or sub.folder == "INBOX":
                subscribe(client, sub.folder)
                continue
            findings.append(Finding(
                "info", sub.file, sub.line, sub.folder,
                f"subscribed folder {sub.folder} has no old mbox that was copied: not created",
                "create and subscribe it by hand if the user still wants it", code="SUB002",
                subject=sub.folder))
    for f in findings:
        record_finding(session, STAGE, domain, user.name, f)
    session.commit()
    return findings
