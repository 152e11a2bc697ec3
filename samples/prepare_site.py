#!/usr/bin/env python3
"""Make a scratch copy of the sample old site, wired to the sandbox servers.

    python3 samples/prepare_site.py DEST [--site samples/site] [--sandbox DIR]

Writes DEST/site (a copy: the committed samples are never modified) and
DEST/mailmigrate.toml (the site, a tracker and output dir in DEST, and the
sandbox's [cyrus]/[postfix] sections).  The sandbox's stand-in for the old
Sendmail host is Postfix's virtual(8) agent, which writes as group ``mail``:
so, as on a Debian mail host, every mail user's spool /var/mail/USER exists
and is ``USER:mail 0660`` (root:mail when the user has no local account).
DEST must be reachable by other users (not under a 0700 directory).
"""

from __future__ import annotations

import argparse
import grp
import imaplib
import os
import shutil
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SANDBOX = os.environ.get("MAILMIGRATE_SANDBOX") or "/var/tmp/mailmigrate-sandbox"


def mail_users(site: Path) -> list[str]:
    """Login names with uid >= 1000 in the site's etc/passwd (the usual mail users)."""
    users = []
    for line in (site / "etc/passwd").read_text().splitlines():
        parts = line.split(":")
        if len(parts) >= 7 and parts[2].isdigit() and 1000 <= int(parts[2]) < 60000:
            users.append(parts[0])
    return users


def prepare(dest: Path, site: Path, sandbox: Path) -> Path:
    """Copy ``site`` to ``dest/site``, fix spool ownership, write the config; return it."""
    dest.mkdir(parents=True, exist_ok=True)
    dest.chmod(0o755)
    target = dest / "site"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(site, target, symlinks=True)
    spool = target / "var/mail"
    spool.mkdir(parents=True, exist_ok=True)
    mail_gid = grp.getgrnam("mail").gr_gid
    for user in mail_users(target):
        (spool / user).touch(exist_ok=True)
    for path in spool.iterdir():
        if path.is_file():
            os.chown(path, -1, mail_gid)
            path.chmod(0o660)
    config = dest / "mailmigrate.toml"
    config.write_text(config_text((sandbox / "servers.toml").read_text()))
    return config


def config_text(servers: str) -> str:
    """A config for a site copied to ``site/`` beside it, with the sandbox's server sections."""
    return ('[site]\nroot = "site"\n\n[tracker]\ndb = "sqlite:///tracker.sqlite"\n\n'
            '[output]\ndir = "out"\n\n' + servers)


def reset_cyrus(sandbox: Path, users: list[str]) -> list[str]:
    """Delete the sample users' Cyrus mailboxes (and their folders) left by earlier runs.

    Only for the sandbox: it lets the demo and the tests start from an empty
    Cyrus for these users.  Returns the users that were deleted.
    """
    cfg = tomllib.loads((sandbox / "servers.toml").read_text())["cyrus"]
    password = Path(cfg["password_file"]).read_text().strip()
    imap = imaplib.IMAP4(cfg["host"], cfg["imap_port"])
    imap.login(cfg["admin"], password)
    deleted = []
    try:
        for user in users:
            box = f"user/{user}"
            typ, data = imap.list(box)
            if typ != "OK" or data == [None]:
                continue
            imap.setacl(box, cfg["admin"], "lrswipkxtecda")
            typ, data = imap.delete(box)
            if typ != "OK":
                raise RuntimeError(f"cannot delete {box}: {data!r}")
            deleted.append(user)
    finally:
        imap.logout()
    return deleted


def main(argv: list[str] | None = None) -> int:
    """Command line entry."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("--site", type=Path, default=REPO / "samples/site")
    parser.add_argument("--sandbox", type=Path, default=Path(DEFAULT_SANDBOX))
    parser.add_argument("--reset-cyrus", action="store_true",
                        help="delete the sample users' mailboxes in the sandbox Cyrus first")
    args = parser.parse_args(argv)
    if not (args.sandbox / "servers.toml").is_file():
        print(f"prepare_site: no {args.sandbox}/servers.toml: start the sandbox first",
              file=sys.stderr)
        return 1
    config = prepare(args.dest.resolve(), args.site, args.sandbox)
    if args.reset_cyrus:
        gone = reset_cyrus(args.sandbox, mail_users(args.site))
        if gone:
            print(f"deleted from the sandbox Cyrus: {', '.join(gone)}")
    print(config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
