"""What sendmail did with one recipient address: the deliveries it ended in.

This is the single place that knows sendmail's routing order, so the Postfix
translation, the home-domain policy and (later) the parity check against a
real sendmail all ask the same question the same way:

1. a domain in class w or VirtHost goes through virtusertable (proto.m4
   order, see ``virtusertable.lookup``); a value with ``@`` is routed again
   from the top, a bare value is a local name, ``error:`` is a rejection;
2. no entry: a class-w domain falls through to the local part as a local
   name; a VirtHost-only domain has no local namespace (unknown);
3. other domains: mailertable (``local:``/``error:``), else remote;
4. a local name: alias ``name``, or for ``user+detail`` the aliases
   ``user+*`` then ``user``; otherwise the passwd account, with the +detail
   kept for the local mailer ($h, which procmail receives as an argument);
5. alias items recurse; an item naming the alias itself, or ``\\name``,
   goes to the account without another alias lookup; ``:include:`` files are
   expanded from the old tree; ``|cmd``/``/file`` are deliveries of their own.

LIMITS: ``.forward`` files are not followed; FEATURE(virtuser_entire_domain)
is not reproduced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from converters.sendmail.aliases import Alias, AliasTarget
from converters.sendmail.mailertable import route_for
from converters.sendmail.virtusertable import ErrorValue, lookup, parse_error

if TYPE_CHECKING:
    from converters.sendmail.site import SendmailSite

DeliveryKind = Literal["mailbox", "remote", "program", "file", "include", "error", "unknown",
                       "loop"]
MAX_DEPTH = 25


@dataclass(frozen=True)
class Delivery:
    """One end point: an account's mailbox, a remote address, a program, a file, an error.

    ``alias`` names the alias whose value held a program, file or include;
    ``detail`` is the +detail sendmail passed on to a mailbox delivery.
    """

    kind: DeliveryKind
    target: str
    detail: str | None = None
    alias: str = ""
    error: ErrorValue | None = None


@dataclass(frozen=True)
class Resolution:
    """All deliveries for one address, plus the steps taken (for reports)."""

    address: str
    deliveries: tuple[Delivery, ...]
    trace: tuple[str, ...]

    def mailboxes(self) -> set[str]:
        """Accounts whose mailbox received a copy."""
        return {d.target for d in self.deliveries if d.kind == "mailbox"}

    @property
    def only_errors(self) -> bool:
        """True when sendmail rejected the address outright."""
        return bool(self.deliveries) and all(d.kind == "error" for d in self.deliveries)


@dataclass
class _Walk:
    site: SendmailSite
    trace: list[str] = field(default_factory=list)
    #: Aliases already expanded for this address.  sendmail suppresses a
    #: recipient it has already queued, so an alias reached twice (a diamond
    #: of lists naming each other) is expanded once; without this a few dozen
    #: such aliases take exponential time.
    expanded: set[str] = field(default_factory=set)

    def address(self, address: str, stack: tuple[str, ...], depth: int) -> list[Delivery]:
        if depth > MAX_DEPTH:
            return [Delivery("loop", address)]
        if "@" not in address:
            return self.local(address, stack, verbatim=False)
        local, domain = address.rsplit("@", 1)
        domain = domain.lower().rstrip(".")
        site = self.site
        if domain in site.routed_domains:
            match = lookup(site.virtuser_index, local, domain)
            if match is not None:
                e = match.entry
                self.trace.append(f"{e.file}:{e.line}: {address} -> {match.value}")
                if match.value.lower().startswith("error:"):
                    return [Delivery("error", address, error=parse_error(match.value))]
                if "@" in match.value:
                    return self.address(match.value, stack, depth + 1)
                return self.local(match.value, stack, verbatim=False, depth=depth + 1)
        if domain in site.class_w:
            return self.local(local, stack, verbatim=False, depth=depth)
        if domain in site.routed_domains:
            return [Delivery("unknown", address)]
        route = route_for(site.mailertable, domain)
        if route is not None and route.error is not None:
            self.trace.append(f"{route.file}:{route.line}: {address} -> error")
            return [Delivery("error", address, error=route.error)]
        if route is not None and route.mailer == "local":
            self.trace.append(f"{route.file}:{route.line}: {address} -> local:{route.host}")
            return self.local(route.host or local, stack, verbatim=False, depth=depth)
        return [Delivery("remote", address)]

    def local(self, name: str, stack: tuple[str, ...], *, verbatim: bool,
              depth: int = 0) -> list[Delivery]:
        name = name.lower()
        user, plus, detail = name.partition("+")
        if not verbatim:
            alias = self.site.alias(name)
            if alias is None and plus:
                alias = self.site.alias(f"{user}+*") or self.site.alias(user)
            if alias is not None:
                if alias.name in stack:
                    return [Delivery("loop", name)]
                if alias.name in self.expanded:
                    return []
                self.expanded.add(alias.name)
                return self.expand(alias, stack + (alias.name,), depth)
        account = self.site.account(user)
        if account is None:
            return [Delivery("unknown", name)]
        return [Delivery("mailbox", account.name, detail if plus else None)]

    def expand(self, alias: Alias, stack: tuple[str, ...], depth: int) -> list[Delivery]:
        self.trace.append(f"{alias.file}:{alias.line}: alias {alias.name}")
        out: list[Delivery] = []
        for target in alias.targets:
            out += self.item(alias, target, stack, depth, ())
        return out

    def item(self, alias: Alias, target: AliasTarget, stack: tuple[str, ...], depth: int,
             includes: tuple[str, ...]) -> list[Delivery]:
        if depth > MAX_DEPTH:
            return [Delivery("loop", target.value)]
        kind = target.kind
        if kind == "local":
            self_ref = target.value == alias.name
            return self.local(target.value, stack, verbatim=target.verbatim or self_ref,
                              depth=depth + 1)
        if kind == "address":
            return self.address(target.value, stack, depth + 1)
        if kind in ("program", "file"):
            return [Delivery(kind, target.value, alias=alias.name)]
        if kind == "error":
            return [Delivery("error", alias.name, alias=alias.name,
                             error=parse_error("error:" + target.value))]
        if kind == "include":
            inc = self.site.include(target.value)
            if inc is None or target.value in includes:
                return [Delivery("include", target.value, alias=alias.name)]
            out: list[Delivery] = []
            for t in inc.targets:
                out += self.item(alias, t, stack, depth + 1, includes + (target.value,))
            return out
        return [Delivery("unknown", target.value, alias=alias.name)]


def resolve(site: SendmailSite, address: str) -> Resolution:
    """Every delivery sendmail made for ``address`` (duplicates removed, order kept)."""
    walk = _Walk(site)
    deliveries = walk.address(address, (), 0)
    unique = tuple(dict.fromkeys(deliveries))
    return Resolution(address, unique, tuple(walk.trace))
