"""``mailmigrate convert``: Postfix maps and one Sieve script per user, from the old site.

The translation itself lives in converters/ (pure); this module feeds it the
tracker's users, writes the files to the output directory and keeps the
scripts and findings in the tracker, so the report and the Sieve upload
read one consistent result.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from converters.finding import Finding, InputError
from converters.postfix import PostfixTranslation, translate
from converters.procmail import SieveConversion, convert_user
from converters.sendmail import SendmailSite, read_site
from converters.sendmail.domains import reach
from migrate.config import Config
from migrate.inventory import folder_dir
from migrate.sitefs import on_disk
from migrate.tracker import Domain, FilterScript, FindingRow, User
from migrate.tracker.findings import record_finding


@dataclass(frozen=True)
class ConvertSummary:
    """Counts for the human/JSON output of ``convert``."""

    users: int
    recipes_total: int
    recipes_translated: int
    postfix_files: tuple[str, ...]
    findings: int


def home_domains(session: Session) -> dict[str, str]:
    """user -> home domain, as the inventory recorded it."""
    return {u.name: u.domain.name for u in session.scalars(select(User))}


def postfix_translation(cfg: Config, session: Session) -> tuple[SendmailSite, PostfixTranslation]:
    """Translate the site's tables with the tracker's home domains (deterministic)."""
    site = read_site(cfg.site_root)
    return site, translate(site, home_domain=home_domains(session))


def run_convert(cfg: Config, session: Session) -> ConvertSummary:
    """Write maps and scripts; replace the stored scripts and convert-stage findings."""
    if session.scalar(select(Domain).limit(1)) is None:
        raise InputError(cfg.source, None, "nothing inventoried yet: run 'mailmigrate "
                         "inventory' first")
    site, pf = postfix_translation(cfg, session)
    out = cfg.output_dir
    (out / "postfix").mkdir(parents=True, exist_ok=True)
    (out / "sieve").mkdir(parents=True, exist_ok=True)
    for name, content in pf.files.items():
        (out / "postfix" / name).write_text(content)
    session.execute(delete(FindingRow).where(FindingRow.stage == "convert"))
    users = home_domains(session)
    for f in pf.findings:
        user = f.subject if f.subject in users else None
        record_finding(session, "convert", users.get(f.subject), user, f)
    nfind = len(pf.findings)
    total = translated = 0
    reached = reach(site)
    addresses = {u: user_addresses(u, d, reached.get(u, {})) for u, d in users.items()}
    # an address several accounts share (a list alias) is nobody's own in a .forward
    sharing = Counter(a for mine in addresses.values() for a in mine)
    for user in session.scalars(select(User).order_by(User.name)):
        home = on_disk(cfg.site_root, user.old_home)
        try:
            conv = convert_user(user=user.name, home=home, old_home=user.old_home,
                                maildir=folder_dir(home), local_procmail=site.local_procmail,
                                mapping=cfg.mapping,
                                addresses=addresses[user.name],
                                own_addresses=tuple(a for a in addresses[user.name]
                                                    if sharing[a] == 1))
        except InputError as exc:
            conv = unusable_filters(exc, user.name)
        except (RecursionError, RuntimeError, ValueError, LookupError, OSError) as exc:
            # a translator bug on one user's files must not stop the whole site: that
            # user keeps every message in INBOX and the report names the error
            conv = unusable_filters(InputError(str(home), None, "internal error of the "
                                               f"translator ({type(exc).__name__}: {exc}); "
                                               "please report it"), user.name)
        Path(out / "sieve" / f"{user.name}.sieve").write_text(conv.sieve)
        sha1 = hashlib.sha1(conv.sieve.encode()).hexdigest()
        row = user.script or FilterScript(user=user, sieve="", sha1="")
        row.sieve, row.sha1 = conv.sieve, sha1
        row.folders = "\n".join(conv.folders)
        row.recipes_total, row.recipes_translated = conv.recipes_total, conv.recipes_translated
        session.add(row)
        total += conv.recipes_total
        translated += conv.recipes_translated
        for f in conv.findings:
            record_finding(session, "convert", user.domain.name, user.name, f)
            nfind += 1
    return ConvertSummary(len(users), total, translated, tuple(sorted(pf.files)), nfind)


def unusable_filters(exc: InputError, user: str) -> SieveConversion:
    """What a user gets whose filter files cannot be read at all: INBOX, and an error.

    One user's binary or hopelessly broken rc file must not stop the whole
    site's conversion; and a stale script from an earlier run must not stay
    in force, so the replacement keeps every message where nothing is lost.
    """
    finding = Finding("error", exc.file, exc.line, "", f"filters not translated: {exc.message}",
                      "write this user's Sieve script by hand; until then every message "
                      "stays in INBOX", code="procmail-unusable", subject=user)
    sieve = (f"# {exc}\n# Not translated: every message is kept in INBOX until the rules "
             "are written by hand.\nkeep;\n")
    return SieveConversion(sieve, (finding,), 1, 0, ())


def user_addresses(user: str, home_domain: str, reached: dict[str, list[str]]) -> tuple[str, ...]:
    """Every address the old tables deliver to the user (Sieve vacation's :addresses).

    ``reached`` is :func:`converters.sendmail.domains.reach` for the user:
    virtusertable keys (full addresses; ``@domain`` catch-alls are no address)
    and alias names, which are local names in that domain.
    """
    out = {f"{user}@{home_domain}".lower()}
    for domain, keys in reached.items():
        for key in keys:
            if "@" not in key:
                out.add(f"{key}@{domain}".lower())
            elif not key.startswith("@"):
                out.add(key.lower())
    return tuple(sorted(out))
