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
* ``reject``  refused for good (sendmail: a 5xx error; Postfix: RCPT
  refused with 5xx or an error transport); ``tempfail`` refused for now
  (a 4xx reply: sendmail's error mailer with a 4.x.x status, Postfix's
  4xx at RCPT or its retry transport), so the class of a refusal is
  compared and its text is not;
* ``bounce``  accepted by Postfix, then refused by Cyrus (an LMTP recipient
  that is not a mailbox: Cyrus, without virtdomains, looks only at the local
  part): a bounce after acceptance, i.e. backscatter, is not a rejection.

Postfix is asked along three paths, because sendmail answered the same on
all of them: an outside client, a client it trusts (``permit_mynetworks``,
a client OK) and local submission (its ``sendmail -bv``: pickup, cleanup,
no smtpd).  The outside answer is the row's answer; a path that answers
otherwise adds its end points, labelled (``trusted client: mailbox:frank``),
and such a part is never explained by a finding.  On the local path an
unknown recipient bounces, as it did with sendmail's local submission, so
there a bounce counts as a rejection.

+detail and the text of a refusal are shown, not compared.  A program or file
is the same command, but it now runs on the frontend: such an address is
"explained" by the translation's finding (PF001), never silently "same".  A
difference is "explained" when every part of it (an end point only one side
has, or a program or file that moved) is explained by a finding of the
translation or of the site reader that names this address (or an alias it
went through) and is about that kind of part (``finding_covers``); anything
else is "different".
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
#: Labels of the Postfix paths other than the outside client's (see the docstring).
PATHS = ("trusted client", "local submission")
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
    # SMTP (and smtplib) carries only ASCII addresses here; the reader reports
    # the names that are not (SM028)
    return list(dict.fromkeys(a for a in out if "@" in a and a.isascii()))


def old_outcome(verdicts: list[SendmailVerdict]) -> tuple[tuple[str, ...], str]:
    """sendmail's verdict lines as sorted end points, plus details shown only."""
    ends: set[str] = set()
    details: list[str] = []
    # A 4xx error: sendmail prints the reply text and then the error mailer
    # as a delivery (host = the status); a 5xx one prints only the text.
    deferred = {v.address for v in verdicts if v.mailer == "*error*"}
    for v in verdicts:
        if v.error is not None:
            if v.address not in deferred:
                ends.add("reject")
            details.append(v.error)
        elif v.mailer == "*error*":
            ends.add(refusal_class(v.host or v.user or ""))
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


def refusal_class(status: str) -> str:
    """``tempfail`` for a 4xx reply or 4.x.x status, else ``reject``."""
    return "tempfail" if status.strip().startswith("4") else "reject"


def new_outcome(site: SendmailSite, rcpt: tuple[int, str] | None,
                endpoints: list[PostfixEndpoint]) -> tuple[tuple[str, ...], str]:
    """Postfix's RCPT answer and report as sorted end points, plus details shown only.

    The details name the local(8) recipients (``alias@localhost``) that ran a
    program or file, so the finding about that alias can explain the row.
    """
    if rcpt is not None and rcpt[0] >= 400:
        return (refusal_class(str(rcpt[0])),), f"{rcpt[0]} {rcpt[1]}"
    ends: set[str] = set()
    details: list[str] = []
    for e in endpoints:
        if e.diagnostic.startswith("delivery via local: "):
            details.append(e.recipient)
        local = e.recipient.rsplit("@", 1)[0].lower()
        user = local.split("+", 1)[0]
        diag = e.diagnostic
        if e.action != "deliverable":
            ends.add(refusal_class(e.status))
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


def postfix_outcome(site: SendmailSite, outside: tuple[int, str] | None,
                    trusted: tuple[int, str] | None, endpoints: list[PostfixEndpoint]
                    ) -> tuple[tuple[str, ...], str]:
    """The outside client's answer, plus each other path's end points where they differ."""
    ends, detail = new_outcome(site, outside, endpoints)
    local, _ = new_outcome(site, None, endpoints)
    trusted_ends, _ = new_outcome(site, trusted, endpoints)
    submitted = tuple(sorted({"reject" if e == "bounce" else e for e in local}))
    paths = dict(zip(PATHS, (trusted_ends, submitted), strict=True))
    extra = [f"{path}: {e}" for path, other in paths.items() if other != ends for e in other]
    return ends + tuple(extra), detail


def _about(findings: list[Finding], address: str, names: set[str]) -> list[Finding]:
    """Findings about this address, its local part, or an alias it went through.

    A finding is about a name when its subject is that name, when the line
    it quotes defines it (``name: ...`` in aliases, ``name@domain value`` in
    virtusertable), or when it quotes the address itself.
    """
    local = address.lower().rpartition("@")[0]
    names = {n.lower() for n in names} | {address.lower(), local, local.split("+", 1)[0]}
    names.discard("")
    out: list[Finding] = []
    for f in findings:
        text = f.text.lower()
        if f.code in EXPLAINING_CODES and (f.subject.lower() in names or text in names or any(
                text.startswith((f"{n}:", f"{n}\t", f"{n} ")) for n in names)):
            out.append(f)
    return out


def finding_covers(finding: Finding, part: str, address: str) -> bool:
    """True when ``finding`` is about this kind of difference (``part`` is one end point
    of the row for ``address``).

    A program or file moved to the frontend explains that program or file,
    not a mailbox beside it; a dropped unknown name, a broken loop or an
    error item explains the refusal sendmail gave for that part; a system
    account left on the frontend explains its own mailbox and the refusal
    of a frontend that lacks the account.  A mailbox address that changed
    meaning (PF010) explains that address (with any +detail), not the other
    addresses of the account.  The findings about what a table entry now
    means (PF011, PF013) explain the whole answer of the rows they name.  A
    path that answers otherwise than the outside client (``trusted client:
    ...``) is never explained.
    """
    if part.startswith(tuple(f"{p}: " for p in PATHS)):
        return False
    if finding.code == "PF010":
        local, _, domain = address.lower().rpartition("@")
        return f"{local.split('+', 1)[0]}@{domain}" == finding.text.lower()
    if finding.code == "PF001":
        return part.startswith(("program:", "file:"))
    if finding.code in ("PF002", "PF003", "PF004"):
        return part == "reject"
    if finding.code == "SM083":
        # local(8) on a frontend without the account refuses it or bounces it
        return part in (f"mailbox:{finding.subject.lower()}", "bounce", "reject")
    return True


def compare(site: SendmailSite, translation: PostfixTranslation, address: str,
            old: tuple[tuple[str, ...], str], new: tuple[tuple[str, ...], str]) -> Row:
    """One row: same, explained (findings name every part of the change) or different."""
    moved = [e for e in new[0] if e.startswith(("program:", "file:"))]
    parts = sorted(set(old[0]) ^ set(new[0])) + [e for e in moved if e in old[0]]
    if not parts:
        return Row(address, old[0], new[0], "same", old[1], new[1])
    via = {d.split("@", 1)[0] for d in new[1].split("; ") if d.endswith("@localhost")}
    about = _about(list(translation.findings) + list(site.findings), address, via)
    codes: list[str] = []
    for part in parts:
        covering = [f.code for f in about if finding_covers(f, part, address)]
        if not covering:
            return Row(address, old[0], new[0], "different", old[1], new[1])
        codes += covering
    return Row(address, old[0], new[0], "explained", old[1], new[1],
               tuple(dict.fromkeys(codes)))


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
        outside: dict[str, tuple[int, str] | None] = {a: None for a in todo}
        outside.update(pf.rcpt(ours))
        trusted: dict[str, tuple[int, str] | None] = {a: None for a in todo}
        trusted.update(pf.rcpt(ours, trusted=True))
        reports = pf.verify(todo)
    for a in todo:
        new = postfix_outcome(site, outside[a], trusted[a], reports.get(a, []))
        report.rows.append(compare(site, translation, a, old_outcome(old.get(a, [])), new))
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
