"""The old server as one value: read every live sendmail table below a root directory.

``read_site(root)`` is the entry point of the package.  It decides which
tables are live (sendmail.mc), reads them with the parsers of this package,
and works out the domain classes and the mail users, so that everything
downstream (home domains, the Postfix translation, parity checks) works on
one immutable ``SendmailSite``.

DIAGNOSTICS: SM080 table file missing or unusable; SM081 no local-host-names;
SM082 account that only got mail through an alias or virtusertable; SM083
system account receiving mail; SM084 ``.forward`` file not translated; SM085
``:include:`` file missing; SM086 host name unknown; SM087 alias file missing
or unusable; SM088 no /etc/passwd; SM061 alias file that is not a local file.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from converters.finding import Finding
from converters.sendmail.access import AccessEntry, parse_access
from converters.sendmail.aliases import (
    Alias,
    AliasTarget,
    classify,
    merge_alias_files,
    parse_aliases,
    split_addresses,
)
from converters.sendmail.genericstable import GenericEntry, parse_genericstable
from converters.sendmail.mailertable import MailerRoute, parse_mailertable
from converters.sendmail.maps import parse_class_file, parse_map
from converters.sendmail.mc import DEFAULT_MAPS, McConfig, parse_mc
from converters.sendmail.passwd import MailUserPolicy, UnixUser, parse_passwd
from converters.sendmail.resolve import resolve
from converters.sendmail.textfile import TextFile, old_path, read_text
from converters.sendmail.virtusertable import VirtuserEntry, parse_virtusertable

ALWAYS_LOCAL = ("localhost",)


@dataclass(frozen=True)
class IncludeFile:
    """A ``:include:`` file read from the old tree, as sendmail read it at delivery time."""

    path: str
    targets: tuple[AliasTarget, ...]


@dataclass(frozen=True)
class SendmailSite:
    """Everything the old server's mail routing depended on.

    ``users`` are the mail users (policy users plus accounts that received
    mail through a table, listed in ``referenced_users``); ``accounts`` is all
    of passwd, because sendmail delivered to any account.
    """

    hostname: str
    local_domains: tuple[str, ...]
    virtual_domains: tuple[str, ...]
    users: tuple[UnixUser, ...]
    local_procmail: bool
    findings: tuple[Finding, ...]
    aliases: tuple[Alias, ...] = ()
    virtusertable: tuple[VirtuserEntry, ...] = ()
    mailertable: tuple[MailerRoute, ...] = ()
    access: tuple[AccessEntry, ...] = ()
    generics: tuple[GenericEntry, ...] = ()
    generics_domains: tuple[str, ...] = ()
    relay_domains: tuple[str, ...] = ()
    accounts: tuple[UnixUser, ...] = ()
    referenced_users: tuple[str, ...] = ()
    includes: tuple[IncludeFile, ...] = ()
    policy: MailUserPolicy = field(default_factory=MailUserPolicy)

    @cached_property
    def class_w(self) -> frozenset[str]:
        """Domains sendmail treated as itself (local-host-names, host name, localhost)."""
        return frozenset(self.local_domains) | frozenset(ALWAYS_LOCAL)

    @cached_property
    def routed_domains(self) -> frozenset[str]:
        """Domains whose addresses go through virtusertable (class w and VirtHost)."""
        return self.class_w | frozenset(self.virtual_domains)

    @cached_property
    def virtuser_index(self) -> dict[str, VirtuserEntry]:
        """virtusertable by key."""
        return {e.key: e for e in self.virtusertable}

    @cached_property
    def _aliases(self) -> dict[str, Alias]:
        return {a.name: a for a in self.aliases}

    @cached_property
    def _accounts(self) -> dict[str, UnixUser]:
        return {u.name: u for u in self.accounts}

    @cached_property
    def _includes(self) -> dict[str, IncludeFile]:
        return {i.path: i for i in self.includes}

    def alias(self, name: str) -> Alias | None:
        """The alias sendmail stored for ``name`` (lower case)."""
        return self._aliases.get(name)

    def account(self, name: str) -> UnixUser | None:
        """The passwd account ``name``."""
        return self._accounts.get(name)

    def include(self, path: str) -> IncludeFile | None:
        """A ``:include:`` file, None when it was missing from the old tree."""
        return self._includes.get(path)

    def is_mail_user(self, name: str) -> bool:
        """True when ``name`` gets a mailbox in the new system."""
        return any(u.name == name for u in self.users)


def _hostname(root: Path, mc: McConfig, findings: list[Finding]) -> str:
    """$j: confDOMAIN_NAME, else /etc/hostname completed from /etc/hosts."""
    if mc.defines.get("confDOMAIN_NAME"):
        return mc.defines["confDOMAIN_NAME"].lower()
    hostname = read_text(root, "/etc/hostname")
    name = hostname.lines[0].text.strip().lower() if hostname.lines else ""
    if name and "." not in name:
        for ln in read_text(root, "/etc/hosts").lines:
            words = ln.text.split("#")[0].split()
            if name in words[1:]:
                fqdn = [w for w in words[1:] if w.startswith(name + ".")]
                if fqdn:
                    return fqdn[0].lower()
    if not name:
        findings.append(Finding(
            "warning", "/etc/hostname", None, "", "host name unknown",
            "pass the host name explicitly", code="SM086"))
    return name


def _class_file(root: Path, path: str, findings: list[Finding]) -> list[str]:
    words, f = parse_class_file(read_text(root, path))
    findings += f
    return [w.word for w in words]


def _table(root: Path, path: str | None, findings: list[Finding], *, required: bool):
    """makemap entries of ``path``; a live table whose source is unusable is a finding."""
    if path is None:
        return ()
    source = read_text(root, path)
    if not source.exists:
        if required:
            findings.append(Finding(
                "error", path, None, "",
                f"table enabled in sendmail.mc, but {path} {source.problem}",
                "copy the text source (not only the .db) from the old server", code="SM080"))
        return ()
    entries, f = parse_map(source)
    findings += f
    return entries


def _read_aliases(root: Path, mc: McConfig, findings: list[Finding]) -> tuple[Alias, ...]:
    """Every file of ALIAS_FILE, as sendmail reads them: the first file naming an alias wins.

    A file that cannot be read is an error finding: sendmail -bi only warns
    and goes on without its aliases, which a migration must not do silently.
    """
    paths, unread = mc.alias_files()
    line = mc.define_lines.get("ALIAS_FILE")
    text = f"define(`ALIAS_FILE', `{mc.defines['ALIAS_FILE']}')" if line else ""
    for spec in unread:
        findings.append(Finding(
            "error", "/etc/mail/sendmail.mc", line, text,
            f"alias file {spec!r} is not a local file; its aliases are not read",
            "export it to an aliases(5) text file and name that in ALIAS_FILE",
            code="SM061", subject=spec))
    per_file: list[tuple[Alias, ...]] = []
    for path in paths:
        source = read_text(root, path)
        if not source.exists:
            findings.append(Finding(
                "error", path, None, "",
                f"alias file {path} {source.problem}; none of its aliases is carried over",
                "copy the aliases text file from the old server", code="SM087"))
            continue
        aliases, f = parse_aliases(source)
        findings += f
        per_file.append(aliases)
    merged, f = merge_alias_files(per_file)
    findings += f
    return merged


def _read_includes(root: Path, aliases: tuple[Alias, ...], findings: list[Finding]
                   ) -> tuple[IncludeFile, ...]:
    """Every :include: file named by an alias (and by include files), read once."""
    todo = [t.value for a in aliases for t in a.targets if t.kind == "include"]
    seen: dict[str, IncludeFile] = {}
    while todo:
        path = todo.pop(0)
        if path in seen or not path.startswith("/"):
            continue
        source = read_text(root, path)
        if not source.exists:
            findings.append(Finding(
                "warning", path, None, "", ":include: file missing from the old tree",
                "copy it over, or the alias keeps it as a local(8) include", code="SM085"))
            continue
        findings += source.findings
        targets = _include_targets(source)
        seen[path] = IncludeFile(path, targets)
        todo += [t.value for t in targets if t.kind == "include"]
    return tuple(seen.values())


def _include_targets(source: TextFile) -> tuple[AliasTarget, ...]:
    """Addresses of an include file: comma-separated lists, '#' lines skipped."""
    out: list[AliasTarget] = []
    for ln in source.lines:
        text = ln.text.strip()
        if not text or text.startswith("#"):
            continue
        out += [classify(i) for i in split_addresses(text) or [text]]
    return tuple(out)


def _enabled(mc: McConfig, root: Path, feature: str, default: str) -> str | None:
    """Source path of a table if live; without a .mc, every present table counts."""
    if mc.found:
        return mc.map_file(feature)
    return default if old_path(root, default).is_file() else None


def read_site(root: Path, *, policy: MailUserPolicy | None = None) -> SendmailSite:
    """Read the old server below ``root`` (which holds etc/mail and etc/passwd).

    Paths in findings are the old absolute paths, line numbers 1-based.
    """
    policy = policy or MailUserPolicy()
    findings: list[Finding] = []
    mc, f = parse_mc(read_text(root, "/etc/mail/sendmail.mc"))
    findings += f
    if not mc.found:
        findings.append(Finding(
            "warning", "/etc/mail/sendmail.mc", None, "",
            "no sendmail.mc; every table present in /etc/mail is assumed live",
            "copy sendmail.mc from the old server", code="SM060"))
    hostname = _hostname(root, mc, findings)

    cw_file = mc.defines.get("confCW_FILE", "/etc/mail/local-host-names").split()[-1]
    local = []
    if "use_cw_file" in mc.features or not mc.found:
        if not old_path(root, cw_file).is_file():
            findings.append(Finding(
                "warning", cw_file, None, "", "no local-host-names file",
                "copy it from the old server", code="SM081"))
        local = _class_file(root, cw_file, findings)
    local += [d.lower() for d in mc.local_domains]
    if hostname:
        local.append(hostname)
    local_domains = tuple(dict.fromkeys(d for d in local if d))

    virthost = [d.lower() for d in mc.virtuser_domains]
    for path in mc.virtuser_domain_files:
        virthost += _class_file(root, path, findings)
    vt_path = _enabled(mc, root, "virtusertable", DEFAULT_MAPS["virtusertable"])
    vt_entries = _table(root, vt_path, findings, required=mc.found)
    if not mc.found:
        virthost += [e.key.rsplit("@", 1)[1] for e in vt_entries if "@" in e.key]
    virtual_domains = tuple(dict.fromkeys(d for d in virthost if d not in local_domains))
    routed = frozenset(local_domains) | frozenset(virtual_domains) | frozenset(ALWAYS_LOCAL)
    virtusertable, f = parse_virtusertable(vt_entries, routed)
    findings += f

    cr_file = mc.defines.get("confCR_FILE", "/etc/mail/relay-domains").split()[-1]
    relay = _class_file(root, cr_file, findings) + [d.lower() for d in mc.relay_domains]
    for path in mc.relay_domain_files:
        relay += _class_file(root, path, findings)

    aliases = _read_aliases(root, mc, findings)

    mailertable, f = parse_mailertable(_table(
        root, _enabled(mc, root, "mailertable", DEFAULT_MAPS["mailertable"]), findings,
        required=mc.found))
    findings += f
    access, f = parse_access(_table(
        root, _enabled(mc, root, "access_db", DEFAULT_MAPS["access_db"]), findings,
        required=mc.found))
    findings += f
    generics = parse_genericstable(_table(
        root, _enabled(mc, root, "genericstable", DEFAULT_MAPS["genericstable"]), findings,
        required=mc.found))
    gdomains = [d.lower() for d in mc.generics_domains]
    for path in mc.generics_domain_files:
        gdomains += _class_file(root, path, findings)

    passwd = read_text(root, "/etc/passwd")
    if not passwd.exists:
        findings.append(Finding(
            "error", passwd.path, None, "",
            f"{passwd.path} {passwd.problem}: no account is known, so no user gets a mailbox"
            " and every local name is unknown", "copy /etc/passwd from the old server",
            code="SM088"))
    accounts, f = parse_passwd(passwd)
    findings += f
    site = SendmailSite(
        hostname=hostname, local_domains=local_domains, virtual_domains=virtual_domains,
        users=tuple(u for u in accounts if policy.is_mail_user(u, root)),
        local_procmail="local_procmail" in mc.features, findings=(),
        aliases=aliases, virtusertable=virtusertable, mailertable=mailertable, access=access,
        generics=generics, generics_domains=tuple(dict.fromkeys(gdomains)),
        relay_domains=tuple(dict.fromkeys(relay)), accounts=accounts,
        includes=_read_includes(root, aliases, findings), policy=policy)

    referenced = _referenced_accounts(site)
    extra: list[UnixUser] = []
    for name, where in referenced.items():
        user = site.account(name)
        if user is None or site.is_mail_user(name):
            continue
        if user.uid < policy.min_uid or user.uid == policy.nobody_uid:
            findings.append(Finding(
                "warning", where[0], where[1], "",
                f"system account {name!r} (uid {user.uid}) receives mail here; it gets no"
                " mailbox and its mail stays on the frontend (local delivery)",
                f"point the alias at a person instead of {name}", code="SM083", subject=name))
            continue
        findings.append(Finding(
            "info", where[0], where[1], "",
            f"account {name!r} is not a mail user by policy but received mail through this"
            " entry; it gets a mailbox", code="SM082", subject=name))
        extra.append(user)
    users = site.users + tuple(extra)
    return replace(site, users=users, referenced_users=tuple(u.name for u in extra),
                   findings=tuple(findings))


def _referenced_accounts(site: SendmailSite) -> dict[str, tuple[str, int]]:
    """Accounts whose mailbox received mail through an alias or virtusertable entry."""
    found: dict[str, tuple[str, int]] = {}
    for alias in site.aliases:
        for name in resolve(site, alias.name).mailboxes():
            found.setdefault(name, (alias.file, alias.line))
    for entry in site.virtusertable:
        for name in resolve(site, probe_address(entry)).mailboxes():
            found.setdefault(name, (entry.file, entry.line))
    return found


def probe_address(entry: VirtuserEntry, local: str = "probe", detail: str = "tag") -> str:
    """An address sendmail answers with ``entry`` unless a more specific key exists."""
    if entry.form in ("user", "exact"):
        return f"{entry.user}@{entry.domain}"
    if entry.form in ("user_plus", "user_star"):
        return f"{entry.user}+{detail}@{entry.domain}"
    if entry.form in ("default_plus", "default_star"):
        return f"{local}+{detail}@{entry.domain}"
    return f"{local}@{entry.domain}"
