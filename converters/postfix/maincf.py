"""The main.cf settings the generated tables rely on, as ``postconf -e`` arguments.

These are not optional decoration: without ``recipient_delimiter = +`` the
pcre +detail rules never see a split address, and with the default
``propagate_unmatched_extensions = canonical, virtual`` Postfix would append
+detail to every hash match, which sendmail did only where ``%3`` said so.
Restriction order matters too: client OKs (sendmail RELAY) must come before
reject_unauth_destination, and the error answers of the old tables before
every permit.
"""

from __future__ import annotations


def main_cf_lines(config_dir: str, *, relay_domains: list[str], has: set[str]) -> list[str]:
    """``postconf -e`` arguments, one per line; ``has`` names the tables that are not empty."""
    d = config_dir.rstrip("/")
    lines = [
        "recipient_delimiter = +",
        "propagate_unmatched_extensions = canonical",
        "mydestination = localhost",
        f"alias_maps = hash:{d}/aliases",
        f"alias_database = hash:{d}/aliases",
        f"virtual_alias_maps = hash:{d}/virtual, pcre:{d}/virtual.pcre",
    ]
    if "transport" in has:
        lines.append(f"transport_maps = hash:{d}/transport")
    if "generic" in has:
        lines.append(f"smtp_generic_maps = hash:{d}/generic")
    # Every address the old site accepted is a virtual_alias key (mailboxes
    # through their identity rows), so that table is also the list of valid
    # recipients: unknown users are refused at RCPT time, as sendmail did,
    # instead of being accepted and bounced by Cyrus (backscatter).
    recipients = "relay_recipient_maps = $virtual_alias_maps"
    if relay_domains:
        lines.append("relay_domains = " + ", ".join(relay_domains))
        recipients += f", hash:{d}/relay_recipients"
    lines.append(recipients)
    # The error answers of virtusertable and mailertable come before any
    # permit: sendmail refused them for every client (rejections.py).
    restrictions = []
    if "recipient_rejections" in has:
        restrictions.append(f"check_recipient_access hash:{d}/recipient_rejections")
    if "recipient_rejections.pcre" in has:
        restrictions.append(f"check_recipient_access pcre:{d}/recipient_rejections.pcre")
    if "client_access" in has:
        restrictions.append(f"check_client_access hash:{d}/client_access")
    restrictions += ["permit_mynetworks", "reject_unauth_destination",
                     f"check_recipient_access hash:{d}/recipient_access"]
    lines.append("smtpd_recipient_restrictions = " + ", ".join(restrictions))
    if "sender_access" in has:
        lines.append(f"smtpd_sender_restrictions = check_sender_access hash:{d}/sender_access")
    return lines
