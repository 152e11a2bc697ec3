"""Deliveries of the old site as addresses of the new one.

A mailbox delivery becomes ``user@home-domain``; a system account that has
no mailbox becomes ``user@localhost`` (local(8) on the frontend); programs,
files and unreadable ``:include:`` files become ``alias@localhost`` plus a
local(8) alias holding just those items, because only local(8) can run them.
Unknown users and loops produced nothing in sendmail and are reported, not
written.

DIAGNOSTICS: PF001 program/file delivery moved to local(8) on the frontend;
PF002 unknown local name dropped; PF003 alias loop; PF004 an error mixed
with deliveries; PF005 :include: file now fixed in the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from converters.finding import Finding
from converters.sendmail.resolve import Delivery
from converters.sendmail.site import SendmailSite

LOCAL_DOMAIN = "localhost"


@dataclass
class TargetWriter:
    """Turns deliveries into new-site addresses and collects local(8) aliases."""

    site: SendmailSite
    homes: dict[str, str]
    local8: dict[str, list[str]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    _reported: set[tuple[str, str]] = field(default_factory=set)

    def mailbox(self, user: str, detail: str | None) -> str:
        """The new address of ``user``'s mailbox, +detail kept only for procmail sites."""
        domain = self.homes.get(user) if self.site.is_mail_user(user) else None
        base = user if not (detail is not None and self.site.local_procmail) else (
            f"{user}+{detail}")
        return f"{base}@{domain or LOCAL_DOMAIN}"

    def addresses(self, deliveries: tuple[Delivery, ...], where: tuple[str, int | None],
                  text: str) -> list[str]:
        """New addresses for ``deliveries`` in order, without repeats."""
        out: list[str] = []
        errors = [d for d in deliveries if d.kind == "error"]
        for d in deliveries:
            if d.kind == "mailbox":
                out.append(self.mailbox(d.target, d.detail))
            elif d.kind == "remote":
                out.append(d.target)
            elif d.kind in ("program", "file", "include"):
                out.append(self._local8(d))
            elif d.kind in ("unknown", "loop"):
                self._once("PF002" if d.kind == "unknown" else "PF003", d.target, Finding(
                    "warning", where[0], where[1], text,
                    f"{d.target!r} is unknown to sendmail (delivery bounced); not carried over"
                    if d.kind == "unknown" else f"alias loop through {d.target!r}; sendmail"
                    " broke it; not carried over",
                    "fix the alias by hand", code="PF002" if d.kind == "unknown" else "PF003",
                    subject=d.target))
        if errors and out:
            self.findings.append(Finding(
                "warning", where[0], where[1], text,
                "an error item mixed with deliveries: sendmail bounced that part only;"
                " the rest is carried over", "remove the error item", code="PF004"))
        return list(dict.fromkeys(out))

    def _local8(self, d: Delivery) -> str:
        spec = {"program": f'"|{d.target}"', "file": d.target,
                "include": f":include:{d.target}"}[d.kind]
        items = self.local8.setdefault(d.alias, [])
        if spec not in items:
            items.append(spec)
            alias = self.site.alias(d.alias)
            self.findings.append(Finding(
                "warning", alias.file if alias else "/etc/mail/aliases",
                alias.line if alias else None, alias.text if alias else spec,
                f"{d.kind} delivery of alias {d.alias!r} now runs in local(8) on every frontend"
                " (as default_privs unless the aliases file is owned by another user)",
                "check that the program or file exists on the frontends, or replace it",
                code="PF001", subject=d.alias))
        return f"{d.alias}@{LOCAL_DOMAIN}"

    def _once(self, code: str, subject: str, finding: Finding) -> None:
        if (code, subject) not in self._reported:
            self._reported.add((code, subject))
            self.findings.append(finding)
