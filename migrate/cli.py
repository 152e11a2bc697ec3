"""The ``mailmigrate`` command: one function per verb, shared flags, stable exit codes.

Exit status: 0 success; 1 operational failure (a server, a step); 2 usage or
input error (the message names file:line); 3 finished, but with findings that
need a person.  ``--json`` prints one JSON document on stdout; progress bars
appear only when stdout is a terminal.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from imapclient.exceptions import IMAPClientError
from sqlalchemy.exc import SQLAlchemyError

from converters.finding import InputError
from migrate.config import Config, load_config
from migrate.errors import SieveUploadError, UnknownDomain

EXIT_OK, EXIT_FAIL, EXIT_INPUT, EXIT_PERSON = 0, 1, 2, 3
#: Stopped by Ctrl-C (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130

#: Failures of a server or the database: reported in one line, exit status 1.
OPERATIONAL_ERRORS = (OSError, IMAPClientError, SieveUploadError, SQLAlchemyError)


class Ctx:
    """What every command gets: parsed args, lazily loaded config, output helpers."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self._cfg: Config | None = None

    @property
    def cfg(self) -> Config:
        if self._cfg is None:
            path = Path(self.args.config) if self.args.config else None
            self._cfg = load_config(path, self.args.db)
        return self._cfg

    @property
    def json(self) -> bool:
        return bool(getattr(self.args, "json", False))

    @property
    def progress(self) -> bool:
        return sys.stdout.isatty() and not self.json

    def emit(self, data: Any, text: str) -> None:
        print(json.dumps(data, indent=2, default=str) if self.json else text)


def cmd_inventory(ctx: Ctx) -> int:
    """Read the old site (domains, users, mailboxes) into the tracker."""
    from migrate.inventory import run_inventory
    from migrate.tracker import open_tracker

    with open_tracker(ctx.cfg.db_url) as session:
        site, by_domain = run_inventory(ctx.cfg, session)
    data = {"domains": by_domain, "findings": len(site.findings)}
    text = "\n".join(f"{d}: {len(u)} user(s)" + (f": {', '.join(u)}" if u else "")
                     for d, u in by_domain.items())
    ctx.emit(data, text)
    return EXIT_OK


def cmd_convert(ctx: Ctx) -> int:
    """Write Postfix maps and a Sieve script per user; 'procmail RCFILE': one file.

    Records the findings of the site's conversion in the tracker; with
    ``procmail RCFILE`` prints that file's Sieve on stdout instead.
    """
    if ctx.args.what == "procmail":
        return _convert_one_procmail(ctx)
    from migrate.convert import run_convert
    from migrate.tracker import open_tracker

    with open_tracker(ctx.cfg.db_url) as session:
        s = run_convert(ctx.cfg, session)
    data = {"users": s.users, "recipes": {"total": s.recipes_total,
                                          "translated": s.recipes_translated},
            "postfix_files": list(s.postfix_files), "findings": s.findings,
            "output_dir": str(ctx.cfg.output_dir)}
    ctx.emit(data, f"{s.users} user(s): {s.recipes_translated}/{s.recipes_total} recipes "
                   f"translated; {len(s.postfix_files)} Postfix file(s) and the Sieve scripts "
                   f"written to {ctx.cfg.output_dir}; {s.findings} finding(s): see "
                   "'mailmigrate report'")
    return EXIT_OK


def _convert_one_procmail(ctx: Ctx) -> int:
    from converters.procmail import convert_procmailrc

    a = ctx.args
    if not a.file:
        raise InputError("argv", None, "convert procmail needs an RCFILE")
    rc = Path(a.file)
    if rc.is_dir():
        raise InputError(str(rc), None, "is a directory, not a procmailrc file")
    if not rc.is_file():
        raise InputError(str(rc), None, "no such file" if not rc.exists() else
                         "is not a regular file")
    user = a.user or "user"
    home = Path(a.home) if a.home else rc.resolve().parent
    conv = convert_procmailrc(rc, user=user, home=home,
                              maildir=Path(a.maildir) if a.maildir else None,
                              old_home=a.home or str(home))
    if ctx.json:
        print(json.dumps({"sieve": conv.sieve,
                          "findings": [{k: f.to_dict()[k] for k in
                                        ("severity", "file", "line", "text", "reason",
                                         "suggestion")} for f in conv.findings],
                          "recipes": {"total": conv.recipes_total,
                                      "translated": conv.recipes_translated}}, indent=2))
    else:
        sys.stdout.write(conv.sieve)
        for f in conv.findings:
            print(f.render(), file=sys.stderr)
    # a syntax error that lost rules, a missing include: a person is needed even when
    # every recipe that was read got translated
    flagged = any(f.severity in ("warning", "error") for f in conv.findings)
    return EXIT_PERSON if conv.recipes_translated < conv.recipes_total or flagged else EXIT_OK


def cmd_report(ctx: Ctx) -> int:
    """The dry run: what was translated, what was not and why. Exit 3 if a person is needed."""
    from migrate.report import build_report, render_report
    from migrate.tracker import open_tracker

    with open_tracker(ctx.cfg.db_url) as session:
        rep = build_report(session, ctx.args.domain)
    ctx.emit(rep, render_report(rep))
    return EXIT_PERSON if rep["needs_person"] else EXIT_OK


def cmd_copy(ctx: Ctx) -> int:
    """Copy every mbox of every user of a domain into Cyrus (re-runs copy only what is new)."""
    from migrate.copy import copy_domain

    results = copy_domain(ctx.cfg, ctx.args.domain, progress=ctx.progress,
                          resync=ctx.args.resync)
    rows = [r.__dict__ | {"findings": [f.to_dict() for f in r.findings],
                          "complete": r.complete} for r in results]
    text = "\n".join(
        f"{r.user:<12} {r.source:<40} -> {r.folder:<28} {r.source_messages:>6} in source, "
        f"{r.appended} appended, {r.reconciled} reconciled, {r.already} already there"
        + (f", {r.failed} FAILED" if r.failed else "") for r in results)
    ctx.emit({"mailboxes": rows}, text)
    for r in results:
        for f in r.findings:
            if f.severity == "error":
                print(f.render(), file=sys.stderr)
    if any(r.error for r in results):
        return EXIT_FAIL
    if any(r.failed or r.altered for r in results):
        return EXIT_PERSON
    return EXIT_OK


def cmd_verify(ctx: Ctx) -> int:
    """Compare each copied mailbox with its Cyrus folder by count and SHA-1 (exit 3: differ)."""
    from migrate.verify import render, verify_domain

    rows = verify_domain(ctx.cfg, ctx.args.domain, reread=ctx.args.reread)
    ctx.emit({"folders": [r.__dict__ | {"differs": r.differs} for r in rows]}, render(rows))
    return EXIT_PERSON if any(r.differs for r in rows) else EXIT_OK


def cmd_sieve(ctx: Ctx) -> int:
    """Upload and activate the users' Sieve scripts over ManageSieve."""
    from migrate.sieve_upload import upload_domain
    from migrate.tracker import open_tracker

    with open_tracker(ctx.cfg.db_url) as session:
        res = upload_domain(ctx.cfg, session, ctx.args.domain)
    ctx.emit([r.__dict__ for r in res],
             "\n".join(f"{r.user:<12} {r.action} ({r.folders_created} folder(s) created)"
                       for r in res))
    return EXIT_OK


def _steps_out(ctx: Ctx, steps: list) -> int:
    ctx.emit([s.__dict__ for s in steps],
             "\n".join(f"{s.from_state} -> {s.to_state}: {s.result}: {s.detail}"
                       for s in steps) or "nothing to do")
    return EXIT_FAIL if any(s.result != "ok" for s in steps) else EXIT_OK


def cmd_cutover(ctx: Ctx) -> int:
    """Move a domain through prestaged, frozen, delta, switched, verified (or up to --to)."""
    from migrate.cutover import cutover
    from migrate.tracker import open_tracker

    with open_tracker(ctx.cfg.db_url) as session:
        steps = cutover(ctx.cfg, session, ctx.args.domain, ctx.args.to, ctx.progress)
    return _steps_out(ctx, steps)


def cmd_rollback(ctx: Ctx) -> int:
    """Route a domain back to the old system and return mail that reached Cyrus since."""
    from migrate.rollback import rollback
    from migrate.tracker import open_tracker

    with open_tracker(ctx.cfg.db_url) as session:
        steps = rollback(ctx.cfg, session, ctx.args.domain)
    return _steps_out(ctx, steps)


def cmd_status(ctx: Ctx) -> int:
    """Every domain's stage, counts and last transition."""
    from migrate.report import build_status, render_status
    from migrate.tracker import open_tracker

    with open_tracker(ctx.cfg.db_url) as session:
        rows = build_status(session, ctx.cfg.postfix.routing_db)
    ctx.emit(rows, render_status(rows))
    return EXIT_OK


def cmd_check(ctx: Ctx) -> int:
    """Verify the migration: 'addresses' asks the real sendmail and Postfix about every address."""
    from checks.addresses import check_addresses, render
    from migrate.convert import postfix_translation
    from migrate.tracker import open_tracker

    with open_tracker(ctx.cfg.db_url) as session:
        site, translation = postfix_translation(ctx.cfg, session)
    report = check_addresses(ctx.cfg.site_root, site, translation)
    ctx.emit({"addresses": [r.to_dict() for r in report.rows],
              "different": len(report.unexplained),
              "postfix_check": report.postfix_check, "map_warnings": report.map_warnings},
             render(report))
    return EXIT_PERSON if report.unexplained or report.map_warnings else EXIT_OK


class UsageError(Exception):
    """A command line argparse refused; raised so ``main`` can answer it like any error."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is raised instead of printed and exited on, so that
    ``--json`` still gets its ``{"error", "exit"}`` document (sub-parsers are this class
    too: argparse makes them of the parent's class)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        verb = self.prog.partition(" ")[2]
        raise UsageError(f"{verb}: {message}" if verb else message)


_EXIT_HELP = """exit status:
  0  done
  1  a server or a step failed
  2  bad input or usage (the message names file:line)
  3  finished, but something needs a person (see 'mailmigrate report')"""

_DOMAIN_HELP = "the mail domain to work on (e.g. example.org)"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; each verb's help is its function's first docstring line."""
    def common_flags(suppress: bool) -> argparse.ArgumentParser:
        # Sub-commands repeat the global flags; SUPPRESS keeps a flag given
        # before the verb from being reset to its default by the verb's parser.
        kw = {"default": argparse.SUPPRESS} if suppress else {}
        p = argparse.ArgumentParser(add_help=False)
        p.add_argument("--config", metavar="FILE", help="TOML configuration file", **kw)
        p.add_argument("--db", metavar="URL", help="tracker database URL (default: SQLite)",
                       **kw)
        p.add_argument("--json", action="store_true", help="machine-readable output", **kw)
        return p

    common = common_flags(suppress=True)
    parser = _Parser(prog="mailmigrate", parents=[common_flags(False)],
                     formatter_class=argparse.RawDescriptionHelpFormatter,
                     description="Move a Sendmail + procmail site to Postfix + Cyrus IMAP, "
                                 "one domain at a time (see RUNBOOK.md).",
                     epilog=_EXIT_HELP)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def verb(name: str, fn: Callable[[Ctx], int]) -> argparse.ArgumentParser:
        doc = (fn.__doc__ or "").strip().splitlines()[0]
        p = sub.add_parser(name, parents=[common], help=doc, description=doc,
                           formatter_class=argparse.RawDescriptionHelpFormatter,
                           epilog=_EXIT_HELP)
        p.set_defaults(func=fn)
        return p

    verb("inventory", cmd_inventory)
    p = verb("convert", cmd_convert)
    p.add_argument("what", nargs="?", choices=["procmail"],
                   help="convert one procmailrc file to Sieve on stdout instead of the site")
    p.add_argument("file", nargs="?", metavar="RCFILE")
    p.add_argument("--home", help="home directory for $HOME (single-file mode)")
    p.add_argument("--maildir", help="MAILDIR for relative folders (single-file mode)")
    p.add_argument("--user", help="LOGNAME (single-file mode)")
    # Domain names are case-insensitive; the tracker holds them in lower case,
    # as the old tables were read.
    p = verb("report", cmd_report)
    p.add_argument("--domain", type=str.lower, help=_DOMAIN_HELP + " (default: all)")
    for name, fn in (("copy", cmd_copy), ("sieve", cmd_sieve), ("verify", cmd_verify)):
        verb(name, fn).add_argument("--domain", required=True, type=str.lower,
                                    help=_DOMAIN_HELP)
    sub.choices["copy"].add_argument(
        "--resync", action="store_true",
        help="go on where an old mbox was rewritten or a Cyrus folder recreated: rebuild "
             "that mailbox's ledger by digest and append what is missing (deletes nothing)")
    sub.choices["verify"].add_argument(
        "--reread", action="store_true",
        help="read every old mailbox again, even those unchanged since a complete copy pass "
             "(whose recorded SHA-1s are otherwise compared with Cyrus's)")
    p = verb("cutover", cmd_cutover)
    p.add_argument("domain", type=str.lower, help=_DOMAIN_HELP)
    p.add_argument("--to", default="verified",
                   choices=["prestaged", "frozen", "delta", "switched", "verified"],
                   help="stop at this stage (default: verified)")
    verb("rollback", cmd_rollback).add_argument("domain", type=str.lower, help=_DOMAIN_HELP)
    verb("status", cmd_status)
    verb("check", cmd_check).add_argument("what", choices=["addresses"])
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:
        return _fail(Ctx(argparse.Namespace(json="--json" in argv)), str(exc), EXIT_INPUT)
    ctx = Ctx(args)
    try:
        return args.func(ctx)
    except InputError as exc:
        return _fail(ctx, str(exc), EXIT_INPUT)
    except UnknownDomain as exc:
        return _fail(ctx, str(exc), EXIT_INPUT)
    except OPERATIONAL_ERRORS as exc:
        return _fail(ctx, f"{type(exc).__name__}: {exc}", EXIT_FAIL)
    except KeyboardInterrupt:
        # Every step records what it finished before going on, so a re-run resumes.
        return _fail(ctx, f"interrupted; run 'mailmigrate {args.command}' again to go on",
                     EXIT_INTERRUPTED)
    except Exception as exc:  # noqa: BLE001 - the last line of defence, named precisely
        return _fail(ctx, f"internal error {type(exc).__name__}: {exc} (at {_origin(exc)}); "
                          "this is a bug in mailmigrate, please report it", EXIT_FAIL)


def _fail(ctx: Ctx, message: str, code: int) -> int:
    """One line on stderr; with ``--json`` also ``{"error", "exit"}`` on stdout, so a
    script reading stdout gets a document whatever happened."""
    print(f"mailmigrate: {message}", file=sys.stderr)
    if ctx.json:
        print(json.dumps({"error": message, "exit": code}))
    return code


def _origin(exc: BaseException) -> str:
    """file:line of the innermost frame of a traceback, for the one-line bug message."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return "?"
    return f"{Path(tb.tb_frame.f_code.co_filename).name}:{tb.tb_lineno}"
