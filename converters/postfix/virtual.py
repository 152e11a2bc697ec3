"""virtusertable + aliases + class-w fall-through -> Postfix virtual_alias rows and pcre rules.

The new system addresses every mailbox as ``user@home-domain`` and routes per
domain, so every address the old site accepted is written out as a
virtual_alias row whose targets are what sendmail finally delivered to
(``converters.sendmail.resolve``): mailbox addresses, remote addresses and
``@localhost`` local(8) aliases.  Flattening keeps Postfix's recursion and
nesting limits out of the picture and keeps a bare local name in a value
from being looked up in virtusertable again, which sendmail never did.

+detail (Postfix must run with ``recipient_delimiter = +`` and
``propagate_unmatched_extensions = canonical`` so a hash match on
``user@domain`` drops the detail, as sendmail does unless ``%3`` is used):
where sendmail's answer for ``name+detail@domain`` differs from what the
hash rows give, or a plus/catch-all pattern could otherwise win, a pcre rule
is written in sendmail's precedence order.  Postfix asks pcre tables only
with the full address and after the exact rows, and before the partial
``user@domain``/``@domain`` lookups, which is the order these rules rely on.

``error:`` answers are never delivered: exact ones become
recipient_rejections entries, pattern ones recipient_rejections.pcre rules
(with DUNNO lines for the more specific patterns of the same domain), and
both are rewritten to the reserved address of their reply
(``rejections``), in the row or in the pcre rule's place, so that no
catch-all takes them from a permitted client or the ``sendmail`` command.

Every mail user gets an identity row ``user@home -> user@home``, so no
catch-all can swallow a mailbox.

DIAGNOSTICS: PF010 home address that sendmail routed elsewhere (an error
when it stays so: the mailbox is then unreachable); PF011
pattern whose result depends on a local lookup of the detail; PF012 key
that cannot be written to a hash file; PF005 :include: file now fixed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from converters.finding import Finding
from converters.postfix.pcre import PcreRule, literal, rhs_literal
from converters.postfix.rejections import rejection_address
from converters.postfix.targets import TargetWriter
from converters.sendmail.domains import is_routable_domain, primary_domain
from converters.sendmail.resolve import Resolution, resolve
from converters.sendmail.site import SendmailSite
from converters.sendmail.virtusertable import VirtuserEntry, lookup

DEFAULT_FORMS = frozenset({"domain", "default_plus", "default_star"})
#: What sendmail answered at RCPT time for a local name that led nowhere.
UNKNOWN_USER = "550 5.1.1 User unknown"
P_USER = "zzuserzz"
P_DETAIL = "zzdetailzz"


@dataclass
class VirtualTables:
    """Rows (exact addresses), pcre rules per domain, exact rejections."""

    rows: dict[str, list[str]] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)
    rules: list[PcreRule] = field(default_factory=list)
    access_rules: list[PcreRule] = field(default_factory=list)
    rejections: dict[str, str] = field(default_factory=dict)
    domains: list[str] = field(default_factory=list)


@dataclass
class _Builder:
    site: SendmailSite
    writer: TargetWriter
    out: VirtualTables = field(default_factory=VirtualTables)

    @property
    def findings(self) -> list[Finding]:
        return self.writer.findings

    def domains(self) -> list[str]:
        local = [d for d in self.site.local_domains if is_routable_domain(self.site, d)]
        return list(dict.fromkeys(local + list(self.site.virtual_domains)))

    def entries(self, domain: str) -> list[VirtuserEntry]:
        return [e for e in self.site.virtusertable if e.domain == domain]

    def exact_names(self, domain: str) -> list[str]:
        """Local parts written as exact rows for ``domain``."""
        names = [e.user for e in self.entries(domain) if e.form in ("user", "exact")]
        if domain in self.site.class_w:
            names += [u.name for u in self.site.users]
            names += [a.name for a in self.site.aliases if not a.name.endswith("+*")]
        # a name that is not ASCII is reported by the reader (SM028) and has no address
        return list(dict.fromkeys(n for n in names if n.isascii()))

    def emit(self, address: str, res: Resolution, origin: tuple[str, int | None], text: str
             ) -> None:
        if res.only_errors:
            self.out.rejections[address] = res.deliveries[0].error.reply()
            self.out.origins[address] = f"{origin[0]}:{origin[1]}"
            return
        targets = self.writer.addresses(res.deliveries, origin, text)
        if targets:
            self.out.rows[address] = targets
        else:
            self.out.rejections[address] = UNKNOWN_USER
        self.out.origins[address] = f"{origin[0]}:{origin[1]}" if origin[1] else origin[0]

    def origin_of(self, local: str, domain: str) -> tuple[tuple[str, int | None], str]:
        entry = self.site.virtuser_index.get(f"{local}@{domain}")
        if entry is not None:
            return (entry.file, entry.line), entry.text
        alias = self.site.alias(local)
        if alias is not None and domain in self.site.class_w:
            return (alias.file, alias.line), alias.text
        return ("/etc/passwd", None), local

    def local_origin(self, name: str) -> str:
        """Where a class-w local name was defined: its alias (``name+*`` first), or passwd."""
        alias = self.site.alias(f"{name}+*") or self.site.alias(name)
        return f"{alias.file}:{alias.line}" if alias else "/etc/passwd"

    def exact_rows(self, domain: str) -> None:
        keys = {e.user for e in self.entries(domain) if e.form in ("user", "exact")}
        for name in self.exact_names(domain):
            address = f"{name}@{domain}"
            res = resolve(self.site, address)
            if res.only_errors and name not in keys and self.by_default(name, domain):
                continue
            origin, text = self.origin_of(name, domain)
            self.emit(address, res, origin, text)
        catch = self.site.virtuser_index.get(f"@{domain}")
        if catch is not None and catch.error is not None:
            self.findings.append(Finding(
                "info", catch.file, catch.line, catch.text,
                f"addresses of {domain} without an entry are rejected as unknown users"
                f" ('User unknown in virtual alias table') instead of '{catch.error.reply()}'",
                code="PF013", subject=catch.key))
        elif catch is not None and "%" not in catch.value:
            self.emit(f"@{domain}", resolve(self.site, f"{P_USER}@{domain}"),
                      (catch.file, catch.line), catch.text)

    def by_default(self, local: str, domain: str) -> bool:
        """True when sendmail answered ``local@domain`` with a domain-wide default entry."""
        m = lookup(self.site.virtuser_index, local, domain) \
            if domain in self.site.routed_domains else None
        return m is not None and m.entry.form in DEFAULT_FORMS

    def identity_rows(self) -> None:
        """user@home -> itself, unless sendmail gave that very address its own meaning."""
        for user in self.site.users:
            domain = self.writer.homes[user.name]
            address = f"{user.name}@{domain}"
            res = resolve(self.site, address)
            if user.name in res.mailboxes():
                self.out.rows.setdefault(address, [address])
                continue
            if res.deliveries and not self.by_default(user.name, domain) and (
                    address in self.out.rows or address in self.out.rejections):
                # sendmail delivered a bare local name (an alias member) to the account
                # without asking virtusertable; Postfix expands every row target again,
                # so all of them follow the entry too
                lists = [a for a, t in self.out.rows.items() if address in t and a != address]
                self.findings.append(Finding(
                    "error", self.origins_file(address), None, address,
                    f"the mailbox address {address} was routed elsewhere by sendmail and still"
                    f" is; {user.name}'s mailbox becomes unreachable: every address that"
                    f" reached it ({len(lists)}, e.g. {', '.join(lists[:3]) or 'none'}) now"
                    " goes where that entry says", "choose another home domain for"
                    f" {user.name} or delete the entry", code="PF010", subject=user.name))
                continue
            if res.deliveries:
                self.findings.append(Finding(
                    "info", self.origins_file(address), None, address,
                    f"{address} is now {user.name}'s mailbox address; sendmail routed it"
                    f" to {', '.join(d.target for d in res.deliveries)}",
                    "tell correspondents of the old meaning", code="PF010", subject=user.name))
            self.out.rejections.pop(address, None)
            self.out.rows[address] = [address]
            self.out.origins[address] = "/etc/passwd"

    def origins_file(self, address: str) -> str:
        return self.out.origins.get(address, "/etc/passwd").split(":")[0]

    def pattern_result(self, address: str, groups: dict[str, str], value_entry: VirtuserEntry
                       | None, pattern: str) -> PcreRule | None:
        """The rule for ``pattern``: sendmail's answer for a placeholder address."""
        res = resolve(self.site, address)
        origin = f"{value_entry.file}:{value_entry.line}" if value_entry else \
            self.local_origin(address.split("+", 1)[0])
        if res.only_errors:
            return PcreRule(pattern, None, res.deliveries[0].error.reply(), origin)
        dynamic = any(d.kind == "unknown" and any(p in d.target for p in groups)
                      for d in res.deliveries)
        if dynamic and value_entry is not None:
            value = value_entry.value.replace("%%", "\0")
            for p, ref in (("%1", groups.get(P_USER, value_entry.user)),
                           ("%2", groups.get(P_DETAIL, "")),
                           ("%3", "+" + groups.get(P_DETAIL, "") if P_DETAIL in groups else "")):
                value = value.replace(p, ref if ref.startswith("$") else rhs_literal(ref))
            value = value.replace("\0", "%")
            if "@" not in value:
                value += "@" + primary_domain(self.site)
            self.findings.append(Finding(
                "warning", value_entry.file, value_entry.line, value_entry.text,
                "the result names a local user built from the address; Postfix resolves"
                f" {value} through the rows of {primary_domain(self.site)}",
                "list the users this should reach explicitly", code="PF011",
                subject=value_entry.key))
            return PcreRule(pattern, value, None, origin)
        where = (value_entry.file, value_entry.line) if value_entry else ("/etc/mail/aliases",
                                                                           None)
        targets = self.writer.addresses(res.deliveries, where,
                                        value_entry.text if value_entry else address)
        if not targets:
            return PcreRule(pattern, None, UNKNOWN_USER, origin)
        rhs = ", ".join(rhs_literal(t) for t in targets)
        for placeholder, ref in groups.items():
            rhs = rhs.replace(placeholder, ref)
        return PcreRule(pattern, rhs, None, origin)

    def domain_rules(self, domain: str) -> list[PcreRule]:
        site = self.site
        idx = site.virtuser_index
        dom = literal(domain)
        catch = idx.get(f"@{domain}")
        defaults_plus = bool(idx.get(f"++@{domain}") or idx.get(f"+*@{domain}")
                             or (catch and "%" in catch.value))
        names = [e.user for e in self.entries(domain)
                 if e.form in ("user", "user_plus", "user_star")]
        if domain in site.class_w:
            names += [u.name for u in site.users]
            names += [a.name[:-2] if a.name.endswith("+*") else a.name for a in site.aliases]
        names += [u.name for u in site.users if self.writer.homes.get(u.name) == domain]
        keys = {e.key for e in self.entries(domain)}
        rules: list[PcreRule] = []
        for name in dict.fromkeys(n for n in names
                                  if " " not in n and "+" not in n and n.isascii()):
            user = literal(name)
            plus = idx.get(f"{name}++@{domain}")
            if plus is not None:
                rule = self.pattern_result(f"{name}+{P_DETAIL}@{domain}", {P_DETAIL: "${1}"},
                                           plus, rf"^{user}\+([^@]+)@{dom}$")
                rules += [rule] if rule else []
            star = idx.get(f"{name}+*@{domain}") or idx.get(f"{name}@{domain}")
            address = f"{name}@{domain}"
            home = self.writer.homes.get(name) == domain and site.is_mail_user(name)
            res = resolve(site, f"{name}+{P_DETAIL}@{domain}")
            if home and name not in res.mailboxes() and self.by_default(f"{name}+x", domain):
                target = self.writer.mailbox(name, None)
                rules.append(PcreRule(rf"^{user}\+([^@]*)@{dom}$", rhs_literal(target), None,
                                      "/etc/passwd"))
                continue
            if plus is None:
                rule = self.pattern_result(f"{name}+{P_DETAIL}@{domain}", {P_DETAIL: "${1}"},
                                           star, rf"^{user}\+([^@]*)@{dom}$")
            else:
                rule = self.pattern_result(f"{name}+@{domain}", {}, star, rf"^{user}\+@{dom}$")
            fallback = self.out.rows.get(address) or (None if defaults_plus else
                                                      self.out.rows.get(f"@{domain}"))
            if rule is None or (rule.reject and f"{name}@{domain}" not in keys
                                and self.by_default(f"{name}+x", domain)):
                continue
            same = rule.rhs is not None and fallback is not None and \
                rule.rhs == ", ".join(rhs_literal(t) for t in fallback)
            rejected_alike = rule.reject is not None and address in self.out.rejections
            if defaults_plus or idx.get(f"{name}+*@{domain}") or not (same or rejected_alike):
                rules.append(rule)
        groups2 = {P_USER: "${1}", P_DETAIL: "${2}"}
        for key, pattern in ((f"++@{domain}", rf"^([^+@]*)\+([^@]+)@{dom}$"),
                             (f"+*@{domain}", rf"^([^+@]*)\+([^@]*)@{dom}$")):
            if idx.get(key):
                rule = self.pattern_result(f"{P_USER}+{P_DETAIL}@{domain}", groups2, idx[key],
                                           pattern)
                rules += [rule] if rule else []
        if catch is not None and "%" in catch.value:
            variants = [(f"{P_USER}@{domain}", {P_USER: "${1}"}, rf"^([^+@]+)@{dom}$")]
            if not idx.get(f"+*@{domain}"):
                variants.insert(0, (f"{P_USER}+{P_DETAIL}@{domain}", groups2,
                                    rf"^([^+@]*)\+([^@]*)@{dom}$"))
            for address, groups, pattern in variants:
                rule = self.pattern_result(address, groups, catch, pattern)
                rules += [rule] if rule else []
        return rules

    def include_findings(self) -> None:
        for alias in self.site.aliases:
            for t in alias.targets:
                if t.kind == "include" and self.site.include(t.value) is not None:
                    self.findings.append(Finding(
                        "warning", alias.file, alias.line, alias.text,
                        f"the members of {t.value} are copied into the table; later edits of"
                        " that file no longer take effect",
                        "maintain the list in the new system", code="PF005", subject=alias.name))

    def hash_keys_check(self) -> None:
        for address in list(self.out.rows):
            if any(c.isspace() for c in address):
                self.findings.append(Finding(
                    "warning", self.origins_file(address), None, address,
                    f"{address!r} contains white space: kept in the database rows but not"
                    " in the hash file", code="PF012", subject=address))


def build_virtual(site: SendmailSite, writer: TargetWriter) -> VirtualTables:
    """All rows, rules and rejections for the site (see module docstring)."""
    b = _Builder(site, writer)
    b.out.domains = b.domains()
    for domain in b.out.domains:
        b.exact_rows(domain)
    b.identity_rows()
    for domain in b.out.domains:
        rules = b.domain_rules(domain)
        b.out.rules += rules
        if any(r.reject for r in rules):
            b.out.access_rules += rules
    for address, reply in b.out.rejections.items():
        b.out.rows.setdefault(address, [rejection_address(reply)])
    b.include_findings()
    b.hash_keys_check()
    return b.out
