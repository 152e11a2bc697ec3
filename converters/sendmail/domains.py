"""Home domains: the unit of a staged cutover and every user's one mailbox address.

In the new system a mailbox is addressed ``user@home-domain``; the old site
let the same account be reached as ``user@`` every class-w domain and through
any number of virtusertable keys.  The policy (``mail_domains``):

* the primary local domain is the first local-host-names entry that is a
  domain rather than a bare host name (it has a dot, is not localhost, not
  an address literal, not the server's own host name and not below another
  class-w entry); failing that, the host name;
* a user gets a virtual domain V as home when every address that reached
  their mailbox through virtusertable is in V, no alias or class-w entry
  named them, and they are not a mail user by the passwd policy (a policy
  user is always reachable as user@local-domain, so stays there);
* everybody else gets the primary local domain.

DIAGNOSTICS: SM090 user reachable in several domains (info).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

from converters.finding import Finding
from converters.sendmail.resolve import MAX_DEPTH, resolve
from converters.sendmail.site import SendmailSite, probe_address
from converters.sendmail.virtusertable import lookup


@dataclass(frozen=True)
class MailDomain:
    """One domain of the new system and the users whose home it is."""

    name: str
    kind: Literal["local", "virtual"]
    users: tuple[str, ...]


def is_routable_domain(site: SendmailSite, name: str) -> bool:
    """False for names that are only the machine itself (localhost, [1.2.3.4], bare names)."""
    return "." in name and not name.startswith("[") and not name.startswith("localhost") \
        and not name.replace(".", "").isdigit()


def primary_domain(site: SendmailSite) -> str:
    """First local-host-names entry that is a mail domain rather than a host name.

    A host name is the server's own name or a name below another class-w
    entry (mx.example.org when example.org is local too).
    """
    names = [n for n in site.local_domains if is_routable_domain(site, n)]
    for name in names:
        below = any(name.endswith("." + other) for other in names)
        if name != site.hostname and not below:
            return name
    return site.hostname


def reach(site: SendmailSite) -> dict[str, dict[str, list[str]]]:
    """user -> domain -> addresses (virtusertable keys and aliases) that reached the mailbox."""
    found: dict[str, dict[str, list[str]]] = {}
    primary = primary_domain(site)
    for entry in site.virtusertable:
        for user in resolve(site, probe_address(entry)).mailboxes():
            found.setdefault(user, {}).setdefault(entry.domain, []).append(entry.key)
    for alias in site.aliases:
        for user in _named_accounts(site, alias.name, ()):
            found.setdefault(user, {}).setdefault(primary, []).append(alias.name)
    return found


def _named_accounts(site: SendmailSite, name: str, stack: tuple[str, ...],
                    seen: set[str] | None = None) -> set[str]:
    """Accounts an alias names by local name (directly, via aliases or include files).

    An address in a class-w domain that no virtusertable entry answers is the
    same local name; other addresses reach the account through their own
    domain, which ``reach`` counts from the virtusertable side.  ``seen``
    holds the aliases and include files already walked from the same start:
    each is walked once, so include files that include themselves end and
    lists naming each other in a diamond stay linear.
    """
    seen = set() if seen is None else seen
    alias = site.alias(name)
    if len(stack) > MAX_DEPTH:  # sendmail gives up on deeper aliasing too
        return set()
    if alias is None or name in stack:
        return {name} if site.account(name) else set()
    if name in seen:
        return set()
    seen.add(name)
    out: set[str] = set()
    targets = deque(alias.targets)
    while targets:
        t = targets.popleft()
        if t.kind == "include" and site.include(t.value) is not None:
            if f":include:{t.value}" not in seen:
                seen.add(f":include:{t.value}")
                targets += site.include(t.value).targets
        elif t.kind == "address":
            local, domain = t.value.rsplit("@", 1)
            if domain in site.class_w and lookup(site.virtuser_index, local, domain) is None:
                out |= _named_accounts(site, local.lower(), stack + (name,), seen)
        elif t.kind == "local":
            if t.verbatim or t.value == name:
                out |= {t.value} if site.account(t.value) else set()
            else:
                out |= _named_accounts(site, t.value, stack + (name,), seen)
    return out


def home_domains(site: SendmailSite) -> tuple[dict[str, str], tuple[Finding, ...]]:
    """user -> home domain by the policy above, plus one info finding per multi-domain user."""
    primary = primary_domain(site)
    routes = reach(site)
    virtual = set(site.virtual_domains)
    homes: dict[str, str] = {}
    findings: list[Finding] = []
    for user in site.users:
        domains = routes.get(user.name, {})
        home = primary
        if (user.name in site.referenced_users and len(domains) == 1
                and next(iter(domains)) in virtual):
            home = next(iter(domains))
        homes[user.name] = home
        everywhere = set(domains) | ({primary} if home == primary else set())
        if len(everywhere) > 1:
            keys = sorted(k for d in domains.values() for k in d)
            findings.append(Finding(
                "info", "/etc/mail/virtusertable", None, ", ".join(keys),
                f"{user.name} was reachable in {len(everywhere)} domains"
                f" ({', '.join(sorted(everywhere))}); mailbox is {user.name}@{home}",
                "the other addresses become aliases of the mailbox", code="SM090",
                subject=user.name))
    return homes, tuple(findings)


def mail_domains(site: SendmailSite) -> tuple[MailDomain, ...]:
    """Every domain of the old site with the users whose home it is (policy above).

    Local domains come first in local-host-names order, then virtual domains;
    host-only names (localhost, address literals, bare names) are left out.
    The per-user findings are in ``home_domains``.
    """
    homes, _ = home_domains(site)
    out: list[MailDomain] = []
    for name in site.local_domains:
        if is_routable_domain(site, name):
            users = tuple(u for u, h in homes.items() if h == name)
            out.append(MailDomain(name, "local", users))
    for name in site.virtual_domains:
        users = tuple(u for u, h in homes.items() if h == name)
        out.append(MailDomain(name, "virtual", users))
    return tuple(out)
