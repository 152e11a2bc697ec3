"""virtusertable: key forms, values and the lookup order of sendmail's proto.m4.

The lookup is reproduced exactly (cf/m4/proto.m4, the virtusertable part of
ruleset 0) because the translation to Postfix must answer, for any address,
"which entry did sendmail use and with which %1/%2/%3".  For an address
``user+detail@domain`` sendmail tries ``user+detail@domain``, then
``user++@domain`` (non-empty detail only), ``user+*@domain``, ``user@domain``,
then ``++@domain``, ``+*@domain`` and ``@domain``.  The first try sets %1 to
the whole local part; the others set %1=user, %2=detail, %3=+detail.  An
address without ``+`` tries ``user@domain`` then ``@domain`` with %1 = the
local part.  The separator ``+`` is fixed in proto.m4.

DIAGNOSTICS
    SM030 key without '@' (never looked up); SM031 value with several
    addresses; SM032 unknown %-parameter; SM033 key domain not in class w or
    VirtHost (never looked up); SM034 key that is not ASCII (not carried over).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from converters.finding import Finding
from converters.sendmail.maps import MapEntry

KeyForm = Literal["exact", "user_plus", "user_star", "user", "default_plus", "default_star",
                  "domain"]
ValueKind = Literal["local", "address", "error"]

_PARAM = re.compile(r"%(.)")


@dataclass(frozen=True)
class ErrorValue:
    """An ``error:`` right-hand side as sendmail's error mailer would reply.

    ``code`` is the SMTP reply code, ``dsn`` the enhanced status code, ``text``
    the reply text without either.
    """

    code: str
    dsn: str
    text: str

    def reply(self) -> str:
        """The SMTP reply line: ``550 5.1.1 text``."""
        return f"{self.code} {self.dsn} {self.text}".rstrip()


@dataclass(frozen=True)
class VirtuserEntry:
    """One virtusertable line: key split into form/user/domain, raw value kept."""

    key: str
    form: KeyForm
    user: str
    domain: str
    value: str
    file: str
    line: int
    text: str

    @property
    def error(self) -> ErrorValue | None:
        """The parsed error reply when the value is an ``error:`` entry."""
        return parse_error(self.value) if self.value.lower().startswith("error:") else None


@dataclass(frozen=True)
class VirtuserMatch:
    """The entry sendmail used for an address and the value after %-substitution."""

    entry: VirtuserEntry
    value: str
    args: tuple[str, ...]


#: sysexits names accepted as the first word of ``error:name text`` and the
#: SMTP/DSN codes sendmail's error mailer gives them (sendmail/err.c, sysexits.h).
SYSEXITS: dict[str, tuple[str, str]] = {
    "nouser": ("550", "5.1.1"),
    "nohost": ("550", "5.1.2"),
    "unavailable": ("550", "5.0.0"),
    "software": ("554", "5.3.0"),
    "dataerr": ("501", "5.6.0"),
    "usage": ("501", "5.5.4"),
    "noperm": ("550", "5.7.1"),
    "protocol": ("554", "5.5.0"),
    "config": ("554", "5.3.5"),
    "tempfail": ("451", "4.0.0"),
    "oserr": ("451", "4.0.0"),
    "ioerr": ("451", "4.0.0"),
    "cantcreat": ("550", "5.3.0"),
}


def parse_error(value: str) -> ErrorValue:
    """``error:D.S.N:550 text`` or ``error:nouser 550 text`` or ``error:550 text``."""
    body = value[len("error:"):].strip()
    m = re.match(r"(\d\.\d{1,3}\.\d{1,3}):\s*(\d{3})?\s*(.*)$", body)
    if m:
        dsn, code, text = m.group(1), m.group(2), m.group(3)
        return ErrorValue(code or ("451" if dsn.startswith("4") else "550"), dsn, text)
    first, _, rest = body.partition(" ")
    rest = rest.strip()
    code, dsn = SYSEXITS.get(first.lower(), ("", ""))
    if re.fullmatch(r"\d{3}", first):
        code, dsn = first, ("4.0.0" if first.startswith("4") else "5.0.0")
    m = re.match(r"(\d{3})\s+(?:(\d\.\d{1,3}\.\d{1,3})\s+)?(.*)$", rest)
    if m:
        code = m.group(1)
        dsn = m.group(2) or dsn or ("4.0.0" if code.startswith("4") else "5.0.0")
        rest = m.group(3)
    if not code:
        code, dsn = "550", "5.0.0"
    return ErrorValue(code, dsn or "5.0.0", rest)


def key_form(local: str) -> tuple[KeyForm, str]:
    """The form of a key's local part and the user it names ('' for defaults)."""
    if local == "":
        return "domain", ""
    if local == "++":
        return "default_plus", ""
    if local == "+*":
        return "default_star", ""
    if local.endswith("++"):
        return "user_plus", local[:-2]
    if local.endswith("+*"):
        return "user_star", local[:-2]
    if "+" in local:
        return "exact", local
    return "user", local


def parse_virtusertable(entries: tuple[MapEntry, ...], routed_domains: frozenset[str]
                        ) -> tuple[tuple[VirtuserEntry, ...], tuple[Finding, ...]]:
    """Typed entries; keys whose domain sendmail never routes here are reported and kept out."""
    out: list[VirtuserEntry] = []
    findings: list[Finding] = []
    for e in entries:
        if "@" not in e.key:
            findings.append(Finding(
                "warning", e.file, e.line, e.text,
                "key without '@': sendmail never looks it up", "write it as user@domain",
                code="SM030", subject=e.key))
            continue
        if not e.key.isascii():
            findings.append(Finding(
                "warning", e.file, e.line, e.text,
                "key is not ASCII: only raw 8-bit bytes in SMTP matched it; not carried"
                " over and not checked", "rename the address to ASCII if it is still used",
                code="SM034", subject=e.key))
            continue
        local, domain = e.key.rsplit("@", 1)
        domain = domain.rstrip(".")
        if domain not in routed_domains:
            findings.append(Finding(
                "warning", e.file, e.line, e.text,
                f"domain {domain!r} is neither in local-host-names nor a virtuser domain:"
                " sendmail never used this entry", "add the domain or delete the line",
                code="SM033", subject=e.key))
            continue
        is_error = e.value.lower().startswith("error:")
        if "," in e.value and not is_error:
            findings.append(Finding(
                "warning", e.file, e.line, e.text,
                "virtusertable value with several addresses; sendmail does not expand lists"
                " here, only the first is used", "point the key at an alias instead",
                code="SM031", subject=e.key))
        for m in _PARAM.finditer(e.value):
            if m.group(1) not in "123%":
                findings.append(Finding(
                    "warning", e.file, e.line, e.text,
                    f"unknown parameter %{m.group(1)} (sendmail substitutes nothing)",
                    code="SM032", subject=e.key))
        form, user = key_form(local)
        value = e.value if is_error else e.value.split(",")[0].strip()
        out.append(VirtuserEntry(e.key, form, user, domain, value, e.file, e.line, e.text))
    return tuple(out), tuple(findings)


def substitute(value: str, args: tuple[str, ...]) -> str:
    """sendmail map_rewrite: %1..%9 from ``args`` (missing ones vanish), %% is %."""
    def repl(m: re.Match[str]) -> str:
        c = m.group(1)
        if c == "%":
            return "%"
        if c.isdigit() and c != "0":
            n = int(c)
            return args[n - 1] if n <= len(args) else ""
        return m.group(0)
    return _PARAM.sub(repl, value)


def lookup(entries: dict[str, VirtuserEntry], local: str, domain: str) -> VirtuserMatch | None:
    """The entry sendmail's ruleset 0 picks for ``local@domain`` (keys are lower case)."""
    domain = domain.lower().rstrip(".")
    low = local.lower()
    tries: list[tuple[str, tuple[str, ...]]] = [(f"{low}@{domain}", (local,))]
    if "+" in local:
        user, detail = local.split("+", 1)
        args = (user, detail, "+" + detail)
        u = user.lower()
        if detail:
            tries.append((f"{u}++@{domain}", args))
        tries += [(f"{u}+*@{domain}", args), (f"{u}@{domain}", args)]
        if detail:
            tries.append((f"++@{domain}", args))
        tries += [(f"+*@{domain}", args), (f"@{domain}", args)]
    else:
        tries.append((f"@{domain}", (local,)))
    for key, args in tries:
        entry = entries.get(key)
        if entry is not None:
            return VirtuserMatch(entry, substitute(entry.value, args), args)
    return None
