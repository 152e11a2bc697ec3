"""Postfix maps and main.cf settings that reproduce a Sendmail site's routing.

Public interface: ``translate(site, home_domain=...)`` -> ``PostfixTranslation``.
The file contents are sources for ``postmap``/``postalias`` (hash) or pcre
tables; ``virtual_alias`` holds the same rows as ``virtual`` for the live
SQLite table.  See ``virtual`` for the address model and the +detail rules.
"""

from __future__ import annotations

from dataclasses import dataclass

from converters.finding import Finding
from converters.postfix.access import translate_access
from converters.postfix.aliases import render_aliases
from converters.postfix.generic import translate_generics
from converters.postfix.maincf import main_cf_lines
from converters.postfix.rejections import rejection_transports
from converters.postfix.targets import TargetWriter
from converters.postfix.transport import translate_mailertable
from converters.postfix.virtual import build_virtual
from converters.sendmail.domains import primary_domain
from converters.sendmail.site import SendmailSite


@dataclass(frozen=True)
class PostfixTranslation:
    """Generated files (name -> content), the live virtual_alias rows and findings."""

    files: dict[str, str]
    virtual_alias: tuple[tuple[str, str], ...]
    findings: tuple[Finding, ...]


def _table(lines: list[str], header: str) -> str:
    return "".join(f"# {h}\n" for h in header.splitlines()) + "".join(f"{ln}\n" for ln in lines)


def translate(site: SendmailSite, *, home_domain: dict[str, str],
              config_dir: str = "/etc/postfix") -> PostfixTranslation:
    """All Postfix tables for ``site``; ``home_domain`` maps each mail user to its domain.

    Users missing from ``home_domain`` get the primary local domain (with a
    finding), so a partial mapping never loses a mailbox.
    """
    findings: list[Finding] = []
    homes = dict(home_domain)
    for user in site.users:
        if user.name not in homes:
            homes[user.name] = primary_domain(site)
            findings.append(Finding(
                "warning", "/etc/passwd", None, user.name,
                f"no home domain given for {user.name}; using {homes[user.name]}",
                code="PF050", subject=user.name))
    writer = TargetWriter(site, homes)
    virtual = build_virtual(site, writer)
    transport, mt_rejections, f = translate_mailertable(site.mailertable)
    findings += f
    access = translate_access(site.access)
    findings += access.findings
    generic, f = translate_generics(site.generics, site.generics_domains or (site.hostname,))
    findings += f

    hash_rows = [(a, t) for a, t in virtual.rows.items() if not any(c.isspace() for c in a)]
    rejections = {**mt_rejections, **virtual.rejections}
    recipient = []
    for line in access.recipient:
        key = line.split("\t", 1)[0]
        if key in rejections:
            findings.append(Finding(
                "info", "/etc/mail/access", None, line,
                f"To:{key} repeats a virtusertable/mailertable answer; that one is kept",
                code="PF032", subject=key))
            continue
        recipient.append(line)
    transport += rejection_transports(
        list(virtual.rejections.values()) + [r.reject for r in virtual.rules if r.reject])
    files = {
        "virtual": _table([f"{a}\t{', '.join(t)}" for a, t in hash_rows],
                          "virtual_alias_maps (hash): exact addresses of the old site"),
        "virtual.pcre": _table([r.virtual_line() for r in virtual.rules],
                               "virtual_alias_maps (pcre): +detail and catch-all patterns,"
                               "\nfirst match wins; after the hash/SQLite table"),
        "aliases": render_aliases(writer.local8),
        "recipient_rejections": _table(
            [f"{k}\t{v}" for k, v in rejections.items()],
            "check_recipient_access (hash), before any permit: error answers of"
            "\nvirtusertable and mailertable, refused for every client as sendmail did"),
        "recipient_access": _table(recipient, "check_recipient_access (hash): To: entries"),
        "transport": _table(transport, "transport_maps (hash) from mailertable, and the reserved"
                                       "\naddresses of rejections (rejections.py)"),
        "generic": _table(generic, "smtp_generic_maps (hash) from genericstable"),
        "client_access": _table(access.client, "check_client_access (hash): Connect: entries"),
        "sender_access": _table(access.sender, "check_sender_access (hash): From: entries"),
        "domains": _table([f"{d}\t{'mailbox' if d in homes.values() else 'alias'}"
                           for d in virtual.domains],
                          "domain<TAB>mailbox (a home domain) | alias (addresses only)"),
    }
    if virtual.access_rules:
        files["recipient_rejections.pcre"] = _table(
            [r.access_line() for r in virtual.access_rules],
            "check_recipient_access (pcre): rejections of patterns, DUNNO keeps the"
            "\nmore specific patterns of the same domain from being rejected")
    has = {name for name, text in files.items()
           if any(ln and not ln.startswith("#") for ln in text.splitlines())}
    relay = [r for r in dict.fromkeys(list(site.relay_domains) + access.relay_domains)
             if not r.replace(".", "").isdigit()]
    ours = [r for r in relay if r in site.routed_domains]
    if ours:
        findings.append(Finding(
            "info", "/etc/mail/access", None, ", ".join(ours),
            "relaying to our own domains needs no relay_domains entry (Postfix forbids a"
            " domain in both relay_domains and a virtual domain class); left out",
            code="PF033"))
    relay = [r for r in relay if r not in ours]
    files["relay_recipients"] = _table(
        [f"@{r}\tOK" for r in relay],
        "relay_recipient_maps (hash): relayed partner domains accept every local part")
    files["main.cf.postconf"] = "\n".join(main_cf_lines(config_dir, relay_domains=relay,
                                                        has=has)) + "\n"
    rows = tuple((a, ",".join(t)) for a, t in virtual.rows.items())
    return PostfixTranslation(files, rows, tuple(findings) + tuple(writer.findings))
