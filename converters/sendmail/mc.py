"""sendmail.mc: which tables are live and which domain classes come from where.

A table file in /etc/mail means nothing unless the .mc enabled it: an old
virtusertable left behind after ``FEATURE(virtusertable)`` was removed must
not be migrated.  Only the macros that decide that are read (FEATURE,
VIRTUSER_DOMAIN[_FILE], LOCAL_DOMAIN, RELAY_DOMAIN[_FILE], GENERICS_DOMAIN
[_FILE] and a few ``define``s); this is not an m4 interpreter.

DIAGNOSTICS: SM060 no sendmail.mc (every table present is assumed live);
SM061 map type that is not a local hash/btree/dbm file; SM062 include() not
followed; SM063 FEATURE, define or rule set that changes routing in a way
not reproduced (every FEATURE that is neither reproduced nor known to act on
sessions or headers only, the routing defines such as LUSER_RELAY and
MAIL_HUB, LOCAL_USER and custom rule sets).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from converters.finding import Finding
from converters.sendmail.textfile import TextFile

DEFAULT_MAPS = {
    "virtusertable": "/etc/mail/virtusertable",
    "mailertable": "/etc/mail/mailertable",
    "access_db": "/etc/mail/access",
    "genericstable": "/etc/mail/genericstable",
    "domaintable": "/etc/mail/domaintable",
}
_MACRO = re.compile(r"\b(FEATURE|VIRTUSER_DOMAIN_FILE|VIRTUSER_DOMAIN|LOCAL_DOMAIN|"
                    r"RELAY_DOMAIN_FILE|RELAY_DOMAIN|GENERICS_DOMAIN_FILE|GENERICS_DOMAIN|define|"
                    r"include|LOCAL_USER)\(")
#: Custom rule sets: they can route any address, and are m4 diversions, not macros.
_RULES = re.compile(r"^\s*(LOCAL_RULE_\d|LOCAL_RULESETS|LOCAL_NET_CONFIG)\b", re.MULTILINE)
#: Features the translation reproduces (tables, classes, local delivery).
REPRODUCED_FEATURES = frozenset({"use_cw_file", "virtusertable", "mailertable", "access_db",
                                 "genericstable", "local_procmail", "smrsh"})
#: Features that change what happens to an address in a way the translation does not
#: reproduce but that do not route it (relaying, header rewriting); reported only.
_UNREPRODUCED = {"relay_hosts_only", "generics_entire_domain", "allmasquerade",
                 "limited_masquerade"}
#: Features that decide sessions, senders or headers, never where an address goes.
SESSION_FEATURES = frozenset({
    "greet_pause", "delay_checks", "conncontrol", "ratecontrol", "no_default_msa",
    "masquerade_envelope", "masquerade_entire_domain", "local_no_masquerade",
    "always_add_domain", "use_ct_file", "blocklist_recipients", "blacklist_recipients",
    "dnsbl", "enhdnsbl", "badmx", "require_rdns", "block_bad_helo", "compat_check", "mtamark",
    "relay_entire_domain", "relay_based_on_MX", "relay_local_from", "relay_mail_from",
    "promiscuous_relay", "accept_unqualified_senders", "accept_unresolvable_domains",
    "lookupdotdomain", "loose_relay_check", "authinfo", "msp", "queuegroup", "nouucp",
    "nocanonical", "use_client_ptr", "check_other", "tls_session_features", "tls_failures",
    } | _UNREPRODUCED)
#: defines that decide where an address goes; every other define is a daemon option
#: or a file this package reads itself (confCW_FILE, ALIAS_FILE, ...).
ROUTING_DEFINES = frozenset({"LUSER_RELAY", "MAIL_HUB", "SMART_HOST", "LOCAL_RELAY",
                             "confFALLBACK_MX", "confFALLBACK_SMARTHOST"})


@dataclass
class McConfig:
    """What the .mc says: features with their arguments, class sources, defines."""

    found: bool = False
    features: dict[str, tuple[str, ...]] = field(default_factory=dict)
    virtuser_domains: list[str] = field(default_factory=list)
    virtuser_domain_files: list[str] = field(default_factory=list)
    local_domains: list[str] = field(default_factory=list)
    relay_domains: list[str] = field(default_factory=list)
    relay_domain_files: list[str] = field(default_factory=list)
    generics_domains: list[str] = field(default_factory=list)
    generics_domain_files: list[str] = field(default_factory=list)
    defines: dict[str, str] = field(default_factory=dict)
    #: The text of each routing macro the translation does not reproduce
    #: (``FEATURE(`domaintable')``, ``define(`LUSER_RELAY', ...)``), for the oracle.
    unreproduced: list[str] = field(default_factory=list)
    #: The line of each ``define`` (the last one wins, as in m4).
    define_lines: dict[str, int] = field(default_factory=dict)

    def alias_files(self) -> tuple[list[str], list[str]]:
        """(paths, specs not read) of ALIAS_FILE: every file, in order.

        sendmail's AliasFile is a comma-separated list of ``[class:]file``
        (default /etc/mail/aliases); it reads all of them, the first file
        that defines a name wins.  A hash/btree/dbm class is the text file
        beside its database; any other class (nis:, ldap:) is not a file.
        """
        paths: list[str] = []
        unread: list[str] = []
        for spec in self.defines.get("ALIAS_FILE", "/etc/mail/aliases").split(","):
            spec = spec.strip()
            kind, _, path = spec.rpartition(":")
            if kind in ("", "hash", "btree", "dbm") and path.startswith("/"):
                paths.append(path)
            elif spec:
                unread.append(spec)
        return paths, unread

    def map_file(self, feature: str) -> str | None:
        """Source path of a table feature's map, or None when the feature is off."""
        if feature not in self.features:
            return None
        args = self.features[feature]
        spec = args[0] if args and args[0] else ""
        if not spec:
            return DEFAULT_MAPS[feature]
        path = spec.split()[-1]
        return path[:-3] if path.endswith(".db") else path


def _args(text: str, start: int) -> tuple[tuple[str, ...], int]:
    """m4 arguments from just after '(' to the matching ')', quotes `...' removed."""
    args: list[str] = []
    buf: list[str] = []
    quote = 0
    depth = 0
    i = start
    while i < len(text):
        ch = text[i]
        if ch == "`":
            quote += 1
            if quote == 1:
                i += 1
                continue
        elif ch == "'" and quote:
            quote -= 1
            if quote == 0:
                i += 1
                continue
        elif not quote and ch == "(":
            depth += 1
        elif not quote and ch == ")":
            if depth == 0:
                args.append("".join(buf).strip())
                return tuple(args), i + 1
            depth -= 1
        elif not quote and ch == "," and depth == 0:
            args.append("".join(buf).strip())
            buf = []
            i += 1
            continue
        buf.append(ch)
        i += 1
    args.append("".join(buf).strip())
    return tuple(args), i


def _strip_dnl(source: TextFile) -> str:
    """The file with ``dnl`` comments removed (they run to the end of the line)."""
    return "\n".join(re.split(r"\bdnl\b", ln.text, maxsplit=1)[0] for ln in source.lines)


def parse_mc(source: TextFile) -> tuple[McConfig, tuple[Finding, ...]]:
    """The parts of sendmail.mc that decide which tables and domain classes are live."""
    mc = McConfig(found=source.exists)
    findings: list[Finding] = list(source.findings)
    text = _strip_dnl(source)
    for m in _RULES.finditer(text):
        line = text[: m.start()].count("\n") + 1
        findings.append(_unreproduced(source, line, f"{m.group(1)} (custom rules)"))
    for m in _MACRO.finditer(text):
        line = text[: m.start()].count("\n") + 1
        args, end = _args(text, m.end())
        name = m.group(1)
        routing = (name == "LOCAL_USER" or (name == "define" and args and args[0] in
                                            ROUTING_DEFINES) or
                   (name == "FEATURE" and args and args[0] not in REPRODUCED_FEATURES
                    and args[0] not in SESSION_FEATURES))
        if routing:
            mc.unreproduced.append(text[m.start():end])
            findings.append(_unreproduced(source, line, f"{name}({args[0] if args else ''})"))
        if name == "FEATURE" and args:
            feature = args[0]
            mc.features[feature] = args[1:]
            spec = args[1] if len(args) > 1 else ""
            if feature in DEFAULT_MAPS and spec and spec.split()[0] not in (
                    "hash", "btree", "dbm") and not spec.startswith("/"):
                findings.append(Finding(
                    "warning", source.path, line, source.lines[line - 1].text,
                    f"{feature} uses map {spec!r}; only local hash/btree/dbm sources are read",
                    "export the map to a text file and convert that", code="SM061"))
            if feature in _UNREPRODUCED:
                findings.append(_unreproduced(source, line, f"FEATURE({feature})"))
        elif name == "VIRTUSER_DOMAIN":
            mc.virtuser_domains += " ".join(args).split()
        elif name == "VIRTUSER_DOMAIN_FILE" and args:
            mc.virtuser_domain_files.append(args[0].split()[-1])
        elif name == "LOCAL_DOMAIN":
            mc.local_domains += " ".join(args).split()
        elif name == "RELAY_DOMAIN":
            mc.relay_domains += " ".join(args).split()
        elif name == "RELAY_DOMAIN_FILE" and args:
            mc.relay_domain_files.append(args[0].split()[-1])
        elif name == "GENERICS_DOMAIN":
            mc.generics_domains += " ".join(args).split()
        elif name == "GENERICS_DOMAIN_FILE" and args:
            mc.generics_domain_files.append(args[0].split()[-1])
        elif name == "define" and args:
            mc.defines[args[0]] = args[1] if len(args) > 1 else ""
            mc.define_lines[args[0]] = line
        elif name == "include" and args and "cf.m4" not in args[0]:
            findings.append(Finding(
                "info", source.path, line, source.lines[line - 1].text,
                f"include({args[0]}) not followed", code="SM062"))
    return mc, tuple(findings)


def _unreproduced(source: TextFile, line: int, what: str) -> Finding:
    """SM063: a macro that changes where or how addresses go, and the translation does not."""
    return Finding(
        "warning", source.path, line, source.lines[line - 1].text,
        f"{what} changes how sendmail routed addresses; the translation does not reproduce"
        " it (the address check passes it to the real sendmail, so differences show)",
        "reproduce it in Postfix by hand, or remove it from the old sendmail.mc if it was"
        " unused", code="SM063")
