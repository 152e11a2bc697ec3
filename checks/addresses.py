"""Address parity: the real sendmail on the old tables against the real Postfix on the new.

For every address the old tables name (virtusertable keys, alias names and
mail users in each local domain) plus probes (an unknown user per domain,
``user+tag``, mixed case, postmaster, ``owner-``/``-request`` forms), both
servers are asked (``checks.sendmail_oracle``, ``checks.postfix_instance``)
and their answers reduced to the same terms:

* ``mailbox:USER``  a local mailbox (sendmail's local mailer; Cyrus via LMTP,
  or local(8) on the frontend for an account without a Cyrus mailbox);
* ``remote:ADDR via HOST``  forwarded (sendmail's smtp mailers; Postfix's
  smtp/relay next hop);
* ``program:CMD`` / ``file:PATH``  a command or a file;
* ``reject``  refused (sendmail: error; Postfix: RCPT refused or an error
  transport);
* ``bounce``  accepted by Postfix, then refused by Cyrus (an LMTP recipient
  that is not a mailbox: Cyrus, without virtdomains, looks only at the local
  part): a bounce after acceptance, i.e. backscatter, is not a rejection.

+detail and the text of a refusal are shown, not compared.  A program or file
is the same command, but it now runs on the frontend: such an address is
"explained" by the translation's finding (PF001), never silently "same".  A
difference is "explained" when a finding of the translation or of the site
reader names it; anything else is "different".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from checks import sendmail_oracle
from checks.postfix_instance import (
    MAILBOX_NEXTHOP,
    PostfixEndpoint,
    PostfixInstance,
    domain_kinds,
)
from checks.sendmail_oracle import SendmailOracle, SendmailVerdict
from converters.finding import Finding
from converters.postfix import PostfixTranslation
from converters.sendmail.site import SendmailSite, probe_address

SMTP_MAILERS = frozenset({"smtp", "esmtp", "smtp8", "dsmtp", "relay"})
PROBE_USER = "no-such-user-zz"
#: Findings that announce a deliberate change of where an address ends up.
EXPLAINING_CODES = frozenset({"PF001", "PF002", "PF003", "PF004", "PF010", "PF011", "PF013",
                              "SM083"})


@dataclass(frozen=True)
class Row:
    """One address: both servers' normalised answers and the verdict."""

    address: str
    old: tuple[str, ...]
    new: tuple[str, ...]
    status: str
    old_detail: str = ""
    new_detail: str = ""
    explained_by: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {"address": self.address, "old": list(self.old), "new": list(self.new),
                "status": self.status, "old_detail": self.old_detail,
                "new_detail": self.new_detail, "explained_by": list(self.explained_by)}


@dataclass
class AddressReport:
    """All rows, plus what Postfix said about the generated files."""

    rows: list[Row] = field(default_factory=list)
    postfix_check: str = ""
    map_warnings: str = ""

    @property
    def unexplained(self) -> list[Row]:
        return [r for r in self.rows if r.status == "different"]


def addresses_to_check(site: SendmailSite, domains: list[str]) -> list[str]:
    """Every address the old tables name, and the probes, without repeats."""
    out: list[str] = []
    local = [d for d in domains if d in site.class_w]
    for entry in site.virtusertable:
        out.append(probe_address(entry, local=PROBE_USER))
    for domain in local:
        out += [f"{a.name}@{domain}" for a in site.aliases
                if " " not in a.name and not a.name.endswith("+*")]
        out += [f"{u.name}@{domain}" for u in site.users]
    lists = [a.name for a in site.aliases if len(a.targets) > 1 and " " not in a.name]
    for domain in domains:
        out += [f"{PROBE_USER}@{domain}", f"postmaster@{domain}",
                f"{PROBE_USER}+tag@{domain}", f"Postmaster@{domain.upper()}"]
        keys = [e.user for e in site.virtusertable if e.domain == domain and e.form == "user"]
        users = [u.name for u in site.users] if domain in local else keys
        for name in users[:2]:
            out += [f"{name}+tag@{domain}", f"{name.capitalize()}@{domain.upper()}"]
        if domain in local:
            for name in lists[:2]:
                out += [f"owner-{name}@{domain}", f"{name}-request@{domain}"]
    return list(dict.fromkeys(a for a in out if "@" in a))


def old_outcome(verdicts: list[SendmailVerdict]) -> tuple[tuple[str, ...], str]:
    """sendmail's verdict lines as sorted end points, plus details shown only."""
    ends: set[str] = set()
    details: list[str] = []
    for v in verdicts:
        if v.error is not None:
            ends.add("reject")
            details.append(v.error)
        elif v.mailer == "local":
            # "\\name" (an alias item that skips aliasing) is still the account
            ends.add(f"mailbox:{(v.user or '').lstrip(chr(92)).lower()}")
            if v.host:
                details.append(f"{v.user}+{v.host}")
        elif v.mailer == "prog":
            ends.add("program:" + (v.user or "").strip('"').lstrip("|").strip())
        elif v.mailer == "*file*":
            ends.add(f"file:{v.user}")
        elif v.mailer in SMTP_MAILERS:
            ends.add(f"remote:{(v.user or '').lower()} via {(v.host or '').lower()}")
        else:
            ends.add(f"{v.mailer}:{v.user}")
    return tuple(sorted(ends)), "; ".join(details)


def new_outcome(site: SendmailSite, rcpt: tuple[int, str] | None,
                endpoints: list[PostfixEndpoint]) -> tuple[tuple[str, ...], str]:
    """Postfix's RCPT answer and report as sorted end points, plus details shown only.

    The details name the local(8) recipients (``alias@localhost``) that ran a
    program or file, so the finding about that alias can explain the row.
    """
    if rcpt is not None and rcpt[0] >= 400:
        return ("reject",), f"{rcpt[0]} {rcpt[1]}"
    ends: set[str] = set()
    details: list[str] = []
    for e in endpoints:
        if e.diagnostic.startswith("delivery via local: "):
            details.append(e.recipient)
        local = e.recipient.rsplit("@", 1)[0].lower()
        user = local.split("+", 1)[0]
        diag = e.diagnostic
        if e.action != "deliverable":
            ends.add("reject")
            details.append(diag)
        elif diag == MAILBOX_NEXTHOP:
            if site.is_mail_user(user):
                ends.add(f"mailbox:{user}")
                if "+" in local:
                    details.append(e.recipient)
            else:
                ends.add("bounce")
                details.append(f"{e.recipient}: accepted, then refused by Cyrus (no mailbox)")
        elif diag.startswith("delivery via local: delivers to command: "):
            ends.add("program:" + diag.split(": ", 2)[2])
        elif diag.startswith("delivery via local: delivers to file: "):
            ends.add("file:" + diag.split(": ", 2)[2])
        elif diag.startswith("delivery via local: delivers to mailbox"):
            ends.add(f"mailbox:{user}")
            details.append(f"{e.recipient}: local(8) mailbox on the frontend")
        elif diag.startswith("delivery via "):
            ends.add(f"other:{diag}")
        else:
            ends.add(f"remote:{e.recipient.lower()} via {diag.lower()}")
    return tuple(sorted(ends)), "; ".join(details)


def _explaining(findings: list[Finding], address: str, names: set[str]) -> list[str]:
    """Codes of findings about this address, its local part, or an alias it went through.

    A finding is about a name when its subject is that name, or when the line
    it quotes defines it (``name: ...`` in aliases, ``name@domain value`` in
    virtusertable).
    """
    local = address.lower().rpartition("@")[0]
    names = {n.lower() for n in names} | {address.lower(), local, local.split("+", 1)[0]}
    names.discard("")
    out: list[str] = []
    for f in findings:
        if f.code not in EXPLAINING_CODES or f.code in out:
            continue
        text = f.text.lower()
        if f.subject.lower() in names or any(
                text.startswith((f"{n}:", f"{n}\t", f"{n} ")) for n in names):
            out.append(f.code)
    return out


def compare(site: SendmailSite, translation: PostfixTranslation, address: str,
            old: tuple[tuple[str, ...], str], new: tuple[tuple[str, ...], str]) -> Row:
    """One row: same, explained (a finding names the change) or different."""
    findings = list(translation.findings) + list(site.findings)
    moved = any(e.startswith(("program:", "file:")) for e in new[0])
    if old[0] == new[0] and not moved:
        return Row(address, old[0], new[0], "same", old[1], new[1])
    via = {d.split("@", 1)[0] for d in new[1].split("; ") if d.endswith("@localhost")}
    codes = _explaining(findings, address, via)
    if moved and old[0] == new[0]:
        codes = [c for c in codes if c == "PF001"]
    status = "explained" if codes else "different"
    return Row(address, old[0], new[0], status, old[1], new[1], tuple(codes))


def check_addresses(site_root: Path, site: SendmailSite, translation: PostfixTranslation,
                    addresses: list[str] | None = None) -> AddressReport:
    """Ask both servers about every address (``addresses_to_check`` unless given)."""
    if not sendmail_oracle.available():
        raise OSError("the sendmail oracle is missing: run scripts/install-sendmail-oracle.sh"
                      " as root (and install m4); the check must run as root")
    domains = list(domain_kinds(translation))
    todo = addresses if addresses is not None else addresses_to_check(site, domains)
    report = AddressReport()
    with SendmailOracle(site_root, site.hostname) as oracle:
        old = oracle.verify(todo)
    with PostfixInstance(translation, site.hostname) as pf:
        report.postfix_check, report.map_warnings = pf.check_output, pf.map_warnings
        ours = [a for a in todo if a.rsplit("@", 1)[1].lower() in site.routed_domains]
        rcpts: dict[str, tuple[int, str] | None] = {a: None for a in todo}
        rcpts.update(pf.rcpt(ours))
        accepted = [a for a in todo if rcpts[a] is None or rcpts[a][0] < 400]
        reports = pf.verify(accepted)
    for a in todo:
        report.rows.append(compare(site, translation, a, old_outcome(old.get(a, [])),
                                   new_outcome(site, rcpts[a], reports.get(a, []))))
    return report


def render(report: AddressReport) -> str:
    """The table: address, old result, new result, verdict (and what explains it)."""
    width = max([len(r.address) for r in report.rows] + [7])
    lines = [f"{'address':<{width}}  {'old (sendmail)':<40}  {'new (postfix)':<40}  verdict"]
    for r in report.rows:
        verdict = r.status + (f" ({', '.join(r.explained_by)})" if r.explained_by else "")
        lines.append(f"{r.address:<{width}}  {', '.join(r.old):<40}  {', '.join(r.new):<40}"
                     f"  {verdict}")
    n = len(report.rows)
    lines.append(f"{n} address(es): {sum(r.status == 'same' for r in report.rows)} same,"
                 f" {sum(r.status == 'explained' for r in report.rows)} explained,"
                 f" {len(report.unexplained)} different")
    return "\n".join(lines)
