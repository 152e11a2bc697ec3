"""access_db -> check_client_access / check_sender_access / check_recipient_access tables.

Postfix has one table per stage and no tags: ``Connect:`` goes to the client
table, ``From:`` to the sender table, ``To:`` to the recipient table and
untagged keys (sendmail checks them for the client and the sender) to both
client and sender tables.  Actions: OK, REJECT, DISCARD carry over;
``ERROR:D.S.N:code text`` -> ``code D.S.N text``; SKIP -> DUNNO (stop looking
at less specific keys, which is what SKIP does); QUARANTINE -> HOLD.  RELAY
has no action: for clients it becomes OK (placed before
reject_unauth_destination it permits relaying), for ``To:`` a relay_domains
entry; ``From:... RELAY`` lets anyone who forges that sender relay and is
not carried over.

DIAGNOSTICS: PF030 action changed; PF031 not translated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from converters.finding import Finding
from converters.sendmail.access import AccessEntry


@dataclass
class AccessTables:
    """Lines of the three Postfix access tables plus relay domains from ``To: RELAY``."""

    client: list[str] = field(default_factory=list)
    sender: list[str] = field(default_factory=list)
    recipient: list[str] = field(default_factory=list)
    relay_domains: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def _key(entry: AccessEntry) -> str:
    key = entry.key
    if key.startswith("ipv6:"):
        key = key[5:]
    return key.strip("[]")


def _action(e: AccessEntry, out: AccessTables) -> str | None:
    if e.action in ("OK", "REJECT", "DISCARD"):
        return e.action
    if e.action == "ERROR":
        return " ".join(p for p in (e.code or "550", e.dsn, e.text) if p)
    if e.action == "SKIP":
        out.findings.append(Finding(
            "info", e.file, e.line, e.source, "SKIP written as DUNNO", code="PF030",
            subject=e.key))
        return "DUNNO"
    if e.action == "QUARANTINE":
        out.findings.append(Finding(
            "info", e.file, e.line, e.source, "QUARANTINE written as HOLD (the queue, not"
            " a quarantine)", "release held mail with postsuper -H", code="PF030",
            subject=e.key))
        return f"HOLD {e.text}".strip()
    return None


def translate_access(entries: tuple[AccessEntry, ...]) -> AccessTables:
    """The three tables; every entry lands in a table or in a finding."""
    out = AccessTables()
    for e in entries:
        key = _key(e)
        if e.action == "RELAY":
            if e.tag == "to":
                out.relay_domains.append(key)
                out.findings.append(Finding(
                    "info", e.file, e.line, e.source, f"{key} added to relay_domains",
                    code="PF030", subject=e.key))
            elif e.tag in ("connect", "untagged"):
                out.client.append(f"{key}\tOK")
                out.findings.append(Finding(
                    "info", e.file, e.line, e.source,
                    "client RELAY written as OK in check_client_access (must come before"
                    " reject_unauth_destination)", code="PF030", subject=e.key))
            else:
                out.findings.append(Finding(
                    "error", e.file, e.line, e.source,
                    "From: RELAY lets anyone forging this sender relay; not carried over",
                    "use SASL authentication or mynetworks", code="PF031", subject=e.key))
            continue
        action = _action(e, out)
        if action is None:
            out.findings.append(Finding(
                "warning", e.file, e.line, e.source, f"action {e.action} not translated",
                code="PF031", subject=e.key))
            continue
        line = f"{key}\t{action}"
        if e.tag == "connect":
            out.client.append(line)
        elif e.tag == "from":
            out.sender.append(line)
        elif e.tag == "to":
            out.recipient.append(line)
        else:
            out.client.append(line)
            out.sender.append(line)
            out.findings.append(Finding(
                "info", e.file, e.line, e.source,
                "untagged access key written to both client and sender tables",
                code="PF030", subject=e.key))
    return out
