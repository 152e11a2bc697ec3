"""``mailmigrate sieve``: put each user's script into Cyrus and make it active.

Folders a script files into are created first: Cyrus files into INBOX when a
``fileinto`` target is missing, which would silently put list mail in the
inbox.  Every script also gets, right after its ``require`` lines, a rule
that keeps the migration's own delivery probe (identified by a per-site
secret token) so the ``verified`` stage can find it whatever the user's
filters do.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
import warnings
from dataclasses import dataclass

from sievelib.managesieve import Client
from sqlalchemy import select
from sqlalchemy.orm import Session

from migrate.config import Config
from migrate.copy import ensure_users
from migrate.errors import SieveUploadError, UnknownDomain
from migrate.imap import connect, ensure_folder
from migrate.tracker import Domain, User

SCRIPT_NAME = "mailmigrate"
PROBE_HEADER = "X-Mailmigrate-Probe"


def probe_token(cfg: Config) -> str:
    """The site's probe token, created once and kept beside the output."""
    path = cfg.output_dir / "probe.token"
    if not path.exists():
        cfg.output_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(16))
        path.chmod(0o600)
    return path.read_text().strip()


def with_probe_rule(sieve: str, token: str) -> str:
    """Insert the probe-keeping rule after the script's leading require lines."""
    lines = sieve.splitlines()
    at = 0
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("require"):
            at = i + 1
        elif stripped and not stripped.startswith("#"):
            break
    rule = [
        '# delivery probe of the migration (kept whatever the rules below do)',
        f'if header :is "{PROBE_HEADER}" "{token}" {{ keep; stop; }}',
    ]
    return "\n".join(lines[:at] + rule + lines[at:]) + "\n"


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class UploadResult:
    """What happened to one user's script."""

    user: str
    action: str  # uploaded | unchanged | none
    folders_created: int


def upload_user(cfg: Config, session: Session, user: User, token: str) -> UploadResult:
    """Create the script's folders, upload and activate; skip when already live."""
    script = user.script
    if script is None:
        return UploadResult(user.name, "none", 0)
    text = with_probe_rule(script.sieve, token)
    sha1 = hashlib.sha1(text.encode()).hexdigest()
    created = 0
    folders = [f for f in script.folders.splitlines() if f]
    if folders:
        client = connect(cfg.cyrus, user.name)
        try:
            created = sum(ensure_folder(client, f) for f in folders)
        finally:
            client.logout()
    ms = Client(cfg.cyrus.host, cfg.cyrus.sieve_port)
    with warnings.catch_warnings():
        if is_loopback(cfg.cyrus.host):
            # Plain text on loopback exposes nothing; elsewhere the warning stands.
            warnings.filterwarnings("ignore", "Credentials are sent over an unencrypted")
        ok = ms.connect(cfg.cyrus.admin, cfg.cyrus.password(), authz_id=user.name,
                        authmech="PLAIN", starttls=cfg.cyrus.starttls)
    if not ok:
        raise SieveUploadError(f"ManageSieve login as {user.name} failed")
    try:
        active, _ = ms.listscripts()
        if script.uploaded_sha1 == sha1 and active == SCRIPT_NAME and created == 0:
            return UploadResult(user.name, "unchanged", 0)
        if not ms.putscript(SCRIPT_NAME, text):
            raise SieveUploadError(f"Cyrus refused the script of {user.name}: {ms.errmsg!r}")
        if not ms.setactive(SCRIPT_NAME):
            raise SieveUploadError(f"cannot activate the script of {user.name}: {ms.errmsg!r}")
    finally:
        ms.logout()
    script.uploaded_sha1 = sha1
    return UploadResult(user.name, "uploaded", created)


def upload_domain(cfg: Config, session: Session, domain: str) -> list[UploadResult]:
    """Upload the scripts of every user of ``domain``."""
    drow = session.scalar(select(Domain).where(Domain.name == domain))
    if drow is None:
        raise UnknownDomain(domain)
    token = probe_token(cfg)
    ensure_users(cfg, [u.name for u in drow.users])
    return [upload_user(cfg, session, u, token) for u in drow.users]
