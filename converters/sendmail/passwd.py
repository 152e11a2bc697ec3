"""/etc/passwd accounts and the policy that decides who is a mail user.

Sendmail delivers to any account, but a migration creates Cyrus mailboxes
only for people.  The default policy: uid in [min_uid, max_uid], not the
``nobody`` uid, and either a login shell or a home directory that exists in
the old tree (people who only read mail by POP/IMAP often had a nologin
shell).  Accounts that still got mail through an alias or virtusertable are
added later by the site reader, with a finding.

DIAGNOSTICS: SM070 malformed passwd line; SM071 duplicate account name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from converters.finding import Finding
from converters.sendmail.textfile import TextFile, old_path

NOLOGIN_SHELLS = frozenset({"/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false",
                            "/bin/sync", "/usr/bin/nologin", ""})


@dataclass(frozen=True)
class UnixUser:
    """One passwd account; ``home`` is the old absolute path."""

    name: str
    uid: int
    home: str
    shell: str


@dataclass(frozen=True)
class MailUserPolicy:
    """Who counts as a mail user; every knob an admin has asked to turn."""

    min_uid: int = 1000
    max_uid: int = 59999
    nobody_uid: int = 65534
    login_shell_counts: bool = True
    existing_home_counts: bool = True
    extra_users: frozenset[str] = frozenset()
    excluded_users: frozenset[str] = frozenset()

    def is_mail_user(self, user: UnixUser, root: Path) -> bool:
        """True when ``user`` gets a mailbox in the new system."""
        if user.name in self.excluded_users:
            return False
        if user.name in self.extra_users:
            return True
        if not self.min_uid <= user.uid <= self.max_uid or user.uid == self.nobody_uid:
            return False
        if self.login_shell_counts and user.shell not in NOLOGIN_SHELLS:
            return True
        return self.existing_home_counts and old_path(root, user.home).is_dir()


def parse_passwd(source: TextFile) -> tuple[tuple[UnixUser, ...], tuple[Finding, ...]]:
    """All well-formed accounts (first of a repeated name, as getpwnam finds it)."""
    users: dict[str, UnixUser] = {}
    findings: list[Finding] = list(source.findings)
    for ln in source.lines:
        text = ln.text
        if not text.strip() or text.startswith("#"):
            continue
        fields = text.split(":")
        if text.startswith(("+", "-")):
            findings.append(Finding(
                "warning", ln.file, ln.number, text,
                "NIS compat entry; accounts from NIS are not read",
                "add NIS users to the policy's extra_users", code="SM070"))
            continue
        if len(fields) != 7 or not fields[0] or not fields[2].isdigit():
            findings.append(Finding(
                "warning", ln.file, ln.number, text, "malformed passwd line; ignored",
                code="SM070"))
            continue
        name = fields[0]
        if name in users:
            findings.append(Finding(
                "warning", ln.file, ln.number, text,
                f"duplicate account {name!r}; the first line wins", code="SM071", subject=name))
            continue
        users[name] = UnixUser(name, int(fields[2]), fields[5], fields[6].strip())
    return tuple(users.values()), tuple(findings)
