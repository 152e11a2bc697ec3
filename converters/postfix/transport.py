"""mailertable -> transport_maps.

Key forms carry over (``host`` exact, ``.domain`` sub-domains only, ``.`` ->
``*``).  Sendmail mailers become Postfix transports: the SMTP family
(smtp, esmtp, smtp8, dsmtp, relay) -> ``smtp``; ``[host]`` keeps skipping MX.
``localhost`` (local(8) on the frontend) is kept out of a ``*`` route.
``error:`` becomes an ``error:`` transport (bounce after queueing; ``retry:``
for a 4xx reply) and, for
exact keys, a recipient_access reply so the rejection stays at RCPT time as
in sendmail.  ``local:user``, ``%1`` and other mailers have no transport
equivalent and are reported.

DIAGNOSTICS: PF020 untranslatable mailertable entry; PF021 error moved.
"""

from __future__ import annotations

from converters.finding import Finding
from converters.postfix.rejections import error_transport
from converters.postfix.targets import LOCAL_DOMAIN
from converters.sendmail.mailertable import MailerRoute

SMTP_MAILERS = frozenset({"smtp", "esmtp", "smtp8", "dsmtp", "relay"})


def translate_mailertable(routes: tuple[MailerRoute, ...]
                          ) -> tuple[list[str], dict[str, str], list[Finding]]:
    """(transport lines, recipient_access rejections by domain, findings)."""
    lines: list[str] = []
    rejections: dict[str, str] = {}
    findings: list[Finding] = []
    for r in routes:
        key = "*" if r.key == "." else r.key
        if r.error is not None:
            lines.append(f"{key}\t{error_transport(r.error.reply())}")
            if not r.wildcard:
                rejections[r.key] = r.error.reply()
            findings.append(Finding(
                "info", r.file, r.line, r.text,
                "error route: rejected at RCPT time" if not r.wildcard else
                "error route for sub-domains: Postfix bounces after queueing instead of"
                " rejecting at RCPT time", code="PF021", subject=r.key))
            continue
        if "%" in r.host or r.mailer not in SMTP_MAILERS:
            why = ("%1 substitution has no transport_maps equivalent" if "%" in r.host else
                   f"sendmail mailer {r.mailer!r} has no Postfix transport")
            if r.mailer == "local":
                why = "local: routes deliver on this host; with mailboxes on Cyrus they need" \
                      " a virtual_alias row instead"
            findings.append(Finding(
                "error", r.file, r.line, r.text, f"{why}; not translated",
                "write a transport or virtual_alias entry by hand", code="PF020",
                subject=r.key))
            continue
        lines.append(f"{key}\tsmtp:{r.host}")
    if any(ln.startswith("*\t") for ln in lines):
        # sendmail never asked mailertable for its own names; Postfix asks
        # transport_maps for every domain, so '*' would send the local(8)
        # aliases (programs, files) to the smart host.
        lines.append(f"{LOCAL_DOMAIN}\tlocal:")
    return lines, rejections, findings
