"""mailertable: per-domain routing (``key mailer:host``), parsed into typed routes.

Keys are a full host name, ``.domain`` (any sub-domain, not the domain itself)
or ``.`` (everything else).  Values are ``mailer:host`` (``[host]`` skips MX),
``local:user``/``local:``, ``error:code text`` or ``error:D.S.N:code text``.
The Postfix side needs the mailer, host and error reply apart, so they are
split here once.

DIAGNOSTICS: SM040 value without ``mailer:``.
"""

from __future__ import annotations

from dataclasses import dataclass

from converters.finding import Finding
from converters.sendmail.maps import MapEntry
from converters.sendmail.virtusertable import ErrorValue, parse_error


@dataclass(frozen=True)
class MailerRoute:
    """One mailertable entry: ``mailer`` and ``host`` (``[h]`` kept) or ``error``."""

    key: str
    mailer: str
    host: str
    error: ErrorValue | None
    file: str
    line: int
    text: str

    @property
    def wildcard(self) -> bool:
        """True for ``.domain`` and ``.`` keys."""
        return self.key.startswith(".")


def parse_mailertable(entries: tuple[MapEntry, ...]
                      ) -> tuple[tuple[MailerRoute, ...], tuple[Finding, ...]]:
    """Typed routes in file order."""
    routes: list[MailerRoute] = []
    findings: list[Finding] = []
    for e in entries:
        if e.value.lower().startswith("error:"):
            routes.append(MailerRoute(e.key, "error", "", parse_error(e.value), e.file, e.line,
                                      e.text))
            continue
        if ":" not in e.value:
            findings.append(Finding(
                "error", e.file, e.line, e.text,
                "mailertable value without 'mailer:'; sendmail rejects it",
                "write it as mailer:host", code="SM040", subject=e.key))
            continue
        mailer, host = e.value.split(":", 1)
        routes.append(MailerRoute(e.key, mailer.strip().lower(), host.strip(), None, e.file,
                                  e.line, e.text))
    return tuple(routes), tuple(findings)


def route_for(routes: tuple[MailerRoute, ...], domain: str) -> MailerRoute | None:
    """The most specific route for ``domain``: exact, then ``.parent`` upwards, then ``.``."""
    by_key = {r.key: r for r in routes}
    domain = domain.lower().rstrip(".")
    if domain in by_key:
        return by_key[domain]
    labels = domain.split(".")
    for i in range(1, len(labels)):
        key = "." + ".".join(labels[i:])
        if key in by_key:
            return by_key[key]
    return by_key.get(".")
