"""``report`` (the dry run) and ``status``: what the tracker knows, for people and scripts.

The report is the document an admin reads before cutting a domain over:
per user, how many procmail recipes were translated and, for every one that
was not, where it is, what it said, why, and what to do; plus the table
entries (aliases, virtusertable) that need a person.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from converters.finding import NEEDS_PERSON, Finding, InputError
from migrate.errors import UnknownDomain
from migrate.routing import RoutingTable
from migrate.tracker import Domain, FindingRow, Message, User


def _finding(row: FindingRow) -> dict[str, Any]:
    return {"stage": row.stage, "severity": row.severity, "file": row.file, "line": row.line,
            "text": row.text, "reason": row.reason, "suggestion": row.suggestion,
            "code": row.code, "subject": row.subject}


def build_report(session: Session, domain: str | None = None) -> dict[str, Any]:
    """The dry-run report as one JSON-ready structure."""
    q = select(Domain).order_by(Domain.name)
    if domain:
        q = q.where(Domain.name == domain)
    domains = session.scalars(q).all()
    if domain and not domains:
        raise UnknownDomain(domain)
    if not domains:
        # An empty report would read as "nothing needs a person".
        raise InputError("tracker", None, "nothing inventoried yet: run 'mailmigrate "
                         "inventory' and 'mailmigrate convert' first")
    by_user: dict[str, list[FindingRow]] = defaultdict(list)
    site: list[FindingRow] = []
    accounts = set(session.scalars(select(User.name)))
    for row in session.scalars(select(FindingRow).order_by(FindingRow.id)):
        # a finding about an alias or a table entry names no account: the site's
        (by_user[row.user] if row.user in accounts else site).append(row)
    out: dict[str, Any] = {"domains": [], "site_findings": [_finding(r) for r in site]}
    for d in domains:
        users = []
        for u in d.users:
            script = u.script
            users.append({
                "name": u.name,
                "recipes": {"total": script.recipes_total if script else 0,
                            "translated": script.recipes_translated if script else 0},
                "converted": script is not None,
                "script_uploaded": bool(script and script.uploaded_sha1),
                "mailboxes": [{"source": m.source, "folder": m.folder,
                               "source_messages": m.source_messages,
                               "source_bytes": m.source_bytes,
                               "copied_messages": m.copied_messages} for m in u.mailboxes],
                "findings": [_finding(r) for r in by_user.get(u.name, [])],
            })
        out["domains"].append({"name": d.name, "kind": d.kind, "state": d.state,
                               "users": users})
    counted = [f for d in out["domains"] for u in d["users"] for f in u["findings"]]
    counted += out["site_findings"]
    unconverted = [u for d in out["domains"] for u in d["users"] if not u["converted"]]
    out["needs_person"] = sum(f["severity"] in NEEDS_PERSON for f in counted) + len(unconverted)
    return out


def human_bytes(n: int) -> str:
    """12.3 MB / 45 KB: enough to judge how long a copy takes."""
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{max(1, round(n / 1e3))} KB" if n else "0 KB"


def render_report(rep: dict[str, Any]) -> str:
    """The report as text, worst news first within each user."""
    lines: list[str] = []

    def finding_lines(f: dict[str, Any], indent: str) -> None:
        shown = Finding(f["severity"], f["file"], f["line"], f["text"] or "", f["reason"],
                        f["suggestion"] or "")
        lines.append(shown.render(indent, max_text_lines=20))

    for d in rep["domains"]:
        lines.append(f"domain {d['name']} ({d['kind']}), state {d['state']}")
        for u in d["users"]:
            r = u["recipes"]
            msgs = sum(m["source_messages"] for m in u["mailboxes"])
            size = sum(m["source_bytes"] for m in u["mailboxes"])
            counted = f"{msgs} message(s)" if any(m["source_messages"] for m in u["mailboxes"]) \
                else "messages counted by the first copy"
            lines.append(f"  user {u['name']}: {r['translated']}/{r['total']} procmail recipes "
                         f"translated, {len(u['mailboxes'])} mailbox(es) of "
                         f"{human_bytes(size)}, {counted}")
            if not u["converted"]:
                lines.append("    not converted yet: run 'mailmigrate convert'")
            order = {"error": 0, "warning": 1, "info": 2}
            for f in sorted(u["findings"], key=lambda f: order.get(f["severity"], 3)):
                finding_lines(f, "    ")
    if rep["site_findings"]:
        lines.append("site tables (aliases, virtusertable, ...)")
        for f in rep["site_findings"]:
            finding_lines(f, "  ")
    lines.append(f"{rep['needs_person']} item(s) need a person")
    return "\n".join(lines)


def build_status(session: Session, routing_db: str) -> list[dict[str, Any]]:
    """Every domain's stage, counts, live transport and last transition."""
    table = RoutingTable(routing_db)
    out = []
    for d in session.scalars(select(Domain).order_by(Domain.name)):
        boxes = [m for u in d.users for m in u.mailboxes]
        ids = [m.id for m in boxes]
        # a message a rollback returned is in the old mailbox and in Cyrus, like a copy
        copied = session.scalar(select(func.count()).select_from(Message).where(
            Message.mailbox_id.in_(ids))) if ids else 0
        last = d.transitions[-1] if d.transitions else None
        out.append({
            "domain": d.name, "kind": d.kind, "state": d.state, "users": len(d.users),
            "mailboxes": len(boxes),
            "source_messages": sum(m.source_messages for m in boxes),
            "copied_messages": copied,
            "transport": table.transport(d.name),
            "alias_domain": table.is_alias_domain(d.name),
            "last_transition": None if last is None else {
                "at": last.at.isoformat(), "from": last.from_state, "to": last.to_state,
                "result": last.result, "actor": last.actor, "detail": last.detail},
        })
    return out


def render_status(rows: list[dict[str, Any]]) -> str:
    """One block per domain."""
    lines = []
    for r in rows:
        if r["alias_domain"]:
            what = "alias domain: its addresses follow the domains they forward to"
        else:
            what = (f"users {r['users']}, mailboxes {r['mailboxes']}, messages "
                    f"{r['copied_messages']}/{r['source_messages']} in Cyrus (as of the "
                    f"last copy or rollback), "
                    f"transport {r['transport'] or '-'}")
        lines.append(f"{r['domain']:<24} {r['state']:<12} {what}")
        t = r["last_transition"]
        if t:
            lines.append(f"{'':<24} last: {t['at'][:19]} {t['from']} -> {t['to']} "
                         f"{t['result']} by {t['actor']}: {t['detail']}")
    return "\n".join(lines) if lines else "no domains: run 'mailmigrate inventory' first"
