"""genericstable -> smtp_generic_maps (generic(5)).

Differences reported as findings: sendmail rewrote only header senders of
domains in class G by default, generic(5) rewrites envelope and header
addresses when mail leaves via smtp(8); a bare ``user`` key is qualified
with each generics domain; ``@domain  %1@new`` becomes ``@domain  @new``
(same local part), other uses of %1 are not expressible.

DIAGNOSTICS: PF040 scope change (info); PF041 untranslatable value.
"""

from __future__ import annotations

from converters.finding import Finding
from converters.sendmail.genericstable import GenericEntry


def translate_generics(entries: tuple[GenericEntry, ...], domains: tuple[str, ...]
                       ) -> tuple[list[str], list[Finding]]:
    """generic(5) lines and findings."""
    lines: list[str] = []
    findings: list[Finding] = []
    for e in entries:
        value = e.value
        if "%" in value:
            if e.form == "domain" and value.startswith("%1@") and "%" not in value[3:]:
                value = value[2:]
            else:
                findings.append(Finding(
                    "warning", e.file, e.line, e.text, "parameter in genericstable value not"
                    " expressible in generic(5); not translated", code="PF041", subject=e.key))
                continue
        if e.form == "user":
            if not domains:
                findings.append(Finding(
                    "warning", e.file, e.line, e.text,
                    "bare user key and no generics domain; not translated",
                    "add GENERICS_DOMAIN or write user@domain", code="PF041", subject=e.key))
                continue
            lines += [f"{e.key}@{d}\t{value}" for d in domains]
        else:
            lines.append(f"{e.key}\t{value}")
    if entries:
        findings.append(Finding(
            "info", entries[0].file, None, "",
            "generic(5) also rewrites envelope senders and recipients when mail leaves by"
            " smtp; sendmail rewrote header senders only", code="PF040"))
    return lines, findings
