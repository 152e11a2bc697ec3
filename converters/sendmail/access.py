"""access database: tagged keys (Connect:, From:, To:) and their actions.

Postfix splits what sendmail keeps in one table into client, sender and
recipient tables without tags, so each entry is parsed into (tag, key,
action, argument) here.  Untagged keys are the deprecated form that sendmail
checks for both the connecting host and the sender.

DIAGNOSTICS: SM050 unknown tag; SM051 unknown action.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from converters.finding import Finding
from converters.sendmail.maps import MapEntry

Tag = Literal["connect", "from", "to", "untagged"]
KNOWN_TAGS = {"connect": "connect", "from": "from", "to": "to"}
#: Tags sendmail knows but that have no place in the Postfix tables we write.
OTHER_TAGS = {"spam", "greetpause", "clientrate", "clientconn", "srv_features",
              "clt_features", "tls_srv", "tls_clt", "try_tls", "auth", "qgrp", "mailfrom",
              "rcptto"}


@dataclass(frozen=True)
class AccessEntry:
    """One access entry: ``action`` is OK/RELAY/REJECT/DISCARD/SKIP/ERROR/QUARANTINE."""

    tag: Tag | str
    key: str
    action: str
    code: str
    dsn: str
    text: str
    file: str
    line: int
    source: str


def parse_action(value: str) -> tuple[str, str, str, str] | None:
    """(action, code, dsn, text) of an access value, None when sendmail would not know it."""
    v = value.strip()
    upper = v.upper()
    for word in ("OK", "RELAY", "REJECT", "DISCARD", "SKIP"):
        if upper == word:
            return word, "", "", ""
    if upper.startswith("QUARANTINE:"):
        return "QUARANTINE", "", "", v.split(":", 1)[1].strip()
    if upper.startswith("ERROR:"):
        v = v.split(":", 1)[1].strip()
        if len(v) >= 2 and v[0] == v[-1] == '"':
            v = v[1:-1].strip()
        m = re.match(r"(\d\.\d{1,3}\.\d{1,3}):(\d{3})\s*(.*)$", v)
        if m:
            return "ERROR", m.group(2), m.group(1), m.group(3)
        m = re.match(r"(\d{3})\s*(.*)$", v)
        if m:
            return "ERROR", m.group(1), "", m.group(2)
        return None
    m = re.match(r"([45]\d\d)\s+(.*)$", v)
    if m:
        return "ERROR", m.group(1), "", m.group(2)
    return None


def parse_access(entries: tuple[MapEntry, ...]
                 ) -> tuple[tuple[AccessEntry, ...], tuple[Finding, ...]]:
    """Typed access entries; unknown tags and actions become findings."""
    out: list[AccessEntry] = []
    findings: list[Finding] = []
    for e in entries:
        tag: str = "untagged"
        key = e.key
        m = re.match(r"([a-z_]+):(.*)$", e.key)
        if m and not re.match(r"ipv6:", e.key) and m.group(1) != "ipv6":
            name = m.group(1)
            if name in KNOWN_TAGS:
                tag, key = KNOWN_TAGS[name], m.group(2)
            else:
                findings.append(Finding(
                    "warning" if name not in OTHER_TAGS else "info", e.file, e.line, e.text,
                    f"access tag {name.capitalize()}: has no Postfix access-table equivalent;"
                    " not translated", "configure the matching Postfix feature by hand",
                    code="SM050", subject=e.key))
                continue
        action = parse_action(e.value)
        if action is None:
            findings.append(Finding(
                "error", e.file, e.line, e.text, f"unknown access value {e.value!r}",
                "use OK, RELAY, REJECT, DISCARD, SKIP or ERROR:...", code="SM051",
                subject=e.key))
            continue
        out.append(AccessEntry(tag, key, *action, e.file, e.line, e.text))
    return tuple(out), tuple(findings)
