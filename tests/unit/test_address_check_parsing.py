"""The parsers and the normalisation of the address parity check, on captured outputs."""

from __future__ import annotations

from dataclasses import replace

from checks.addresses import compare, new_outcome, old_outcome, postfix_outcome
from checks.postfix_instance import MAILBOX_NEXTHOP, PostfixEndpoint, parse_report
from checks.sendmail_oracle import SendmailVerdict, parse_bv
from converters.finding import Finding
from converters.postfix import PostfixTranslation
from converters.sendmail.passwd import UnixUser
from converters.sendmail.site import SendmailSite

# sendmail 8.17 -bv output, captured from the fixture site
BV = "\n".join([
    "# old member: gina  carol... User unknown",
    "alice... deliverable: mailer local, user alice",
    "bob+tag@example.org... deliverable: mailer local, host tag, user bob",
    '"|/usr/bin/rt-mailgate --queue general"... deliverable: mailer prog,'
    ' user "|/usr/bin/rt-mailgate --queue general"',
    "/var/log/archive.mbox... deliverable: mailer *file*, user /var/log/archive.mbox",
    "x@example.com... deliverable: mailer smtp, host [smarthost.example.com],"
    " user x@example.com",
    "aliasing/forwarding loop broken",
])


def test_parse_bv_every_kind_of_line() -> None:
    got = parse_bv(BV)
    assert got[0] == SendmailVerdict("# old member: gina  carol", None, None, None,
                                     "User unknown")
    assert got[2] == SendmailVerdict("bob+tag@example.org", "local", "tag", "bob", None)
    assert got[3].mailer == "prog" and got[3].user == '"|/usr/bin/rt-mailgate --queue general"'
    assert got[5].host == "[smarthost.example.com]"
    assert got[6].error == "aliasing/forwarding loop broken"
    assert old_outcome(got) == (
        ("file:/var/log/archive.mbox", "mailbox:alice", "mailbox:bob",
         "program:/usr/bin/rt-mailgate --queue general", "reject",
         "remote:x@example.com via [smarthost.example.com]"),
        "User unknown; bob+tag; aliasing/forwarding loop broken")


# A Postfix 3.7 delivery status report of sendmail -bv (trimmed to its parts).
REPORT = b"""\
From: Mail Delivery System <MAILER-DAEMON@mail.example.org>
Subject: Mail Delivery Status Report
To: report@verify.invalid
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain; charset=utf-8

Enclosed is the mail delivery report that you requested.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.example.org

Final-Recipient: rfc822; backup-reports@localhost
Original-Recipient: rfc822;backup-reports@example.org
Action: deliverable
Status: 2.0.0
Diagnostic-Code: X-Postfix; delivery via local: delivers to file:
    /var/log/backup-reports.log

Final-Recipient: rfc822; hamid@example.org
Original-Recipient: rfc822;backup-reports@example.org
Action: deliverable
Status: 2.0.0
Diagnostic-Code: X-Postfix; inet:cyrus.check.invalid:2003

--B
Content-Type: text/rfc822-headers

From: report@verify.invalid
To: Backup-Reports@example.org

--B--
"""


def test_parse_report_unfolds_and_maps_to_the_probe() -> None:
    to, ends = parse_report(REPORT)
    assert to == "Backup-Reports@example.org"
    assert ends == [
        PostfixEndpoint("backup-reports@localhost", "deliverable",
                        "delivery via local: delivers to file: /var/log/backup-reports.log",
                        "2.0.0"),
        PostfixEndpoint("hamid@example.org", "deliverable", MAILBOX_NEXTHOP, "2.0.0")]


def site() -> SendmailSite:
    hamid = UnixUser("hamid", 1001, "/home/hamid", "/bin/sh")
    return SendmailSite("mail.example.org", ("example.org",), (), (hamid,), False, ())


def test_new_outcome_classes() -> None:
    s = site()
    _, ends = parse_report(REPORT)
    assert new_outcome(s, (250, "2.1.5 Ok"), ends) == (
        ("file:/var/log/backup-reports.log", "mailbox:hamid"), "backup-reports@localhost")
    assert new_outcome(s, (550, "5.1.1 no"), ends) == (("reject",), "550 5.1.1 no")
    ghost = [PostfixEndpoint("ghost@example.org", "deliverable", MAILBOX_NEXTHOP)]
    assert new_outcome(s, None, ghost)[0] == ("bounce",)


def test_program_rows_are_explained_by_their_finding_only() -> None:
    s = site()
    ends = ("program:/bin/x",)
    pf = PostfixTranslation({}, (), ())
    row = compare(s, pf, "helpdesk@example.org", (ends, ""), (ends, "helpdesk@localhost"))
    assert row.status == "different"          # moved to the frontend, but nothing says so
    pf = PostfixTranslation({}, (), (Finding(
        "warning", "/etc/mail/aliases", 3, 'helpdesk: "|/bin/x"', "runs on the frontend",
        code="PF001", subject="helpdesk"),))
    row = compare(s, pf, "helpdesk@example.org", (ends, ""), (ends, "helpdesk@localhost"))
    assert (row.status, row.explained_by) == ("explained", ("PF001",))
    same = compare(s, pf, "hamid@example.org", (("mailbox:hamid",), ""),
                   (("mailbox:hamid",), ""))
    assert same.status == "same"


def test_a_finding_explains_only_the_part_it_is_about() -> None:
    """A program moved to the frontend explains the program, not a mailbox that changed
    beside it (an alias whose member is now redirected elsewhere)."""
    s = site()
    pf = PostfixTranslation({}, (), (Finding(
        "warning", "/etc/mail/aliases", 3, "info: carol, /var/log/copy", "runs on the frontend",
        code="PF001", subject="info"),))
    old = (("file:/var/log/copy", "mailbox:erin"), "")
    row = compare(s, pf, "info@example.org", old,
                  (("file:/var/log/copy", "mailbox:frank"), "info@localhost"))
    assert (row.status, row.explained_by) == ("different", ())
    row = compare(s, pf, "info@example.org", old, (old[0], "info@localhost"))
    assert (row.status, row.explained_by) == ("explained", ("PF001",))


# sendmail 8.17 -bv of 'error:4.2.1:450 mailbox disabled' and of a 5xx error
BV_TEMPORARY = ("paused@example.org... mailbox disabled\n"
                "paused@example.org... deliverable: mailer *error*, host 4.2.1,"
                " user 450 mailbox disabled\n")
BV_PERMANENT = "gone@example.org... The newsletter is gone, sorry\n"


def test_refusals_compared_by_class() -> None:
    s = site()
    assert old_outcome(parse_bv(BV_TEMPORARY))[0] == ("tempfail",)
    assert old_outcome(parse_bv(BV_PERMANENT))[0] == ("reject",)
    assert new_outcome(s, (450, "4.2.1 mailbox disabled"), [])[0] == ("tempfail",)
    deferred = [PostfixEndpoint("reject-1@rejected.invalid", "undeliverable",
                                "mailbox disabled", "4.2.1")]
    assert new_outcome(s, None, deferred)[0] == ("tempfail",)
    bounced = [replace(deferred[0], status="5.1.1")]
    assert new_outcome(s, None, bounced)[0] == ("reject",)


def test_each_path_that_answers_otherwise_is_shown() -> None:
    s = site()
    frank = [PostfixEndpoint("hamid@example.org", "deliverable", MAILBOX_NEXTHOP, "2.0.0")]
    assert postfix_outcome(s, (550, "5.1.1 gone"), (250, "2.1.5 Ok"), frank)[0] == (
        "reject", "trusted client: mailbox:hamid", "local submission: mailbox:hamid")
    ghost = [PostfixEndpoint("ghost@example.org", "deliverable", MAILBOX_NEXTHOP, "2.0.0")]
    # an unknown user: refused in SMTP, bounced by Cyrus when submitted locally (as sendmail
    # bounced it): the same answer
    assert postfix_outcome(s, (550, "5.1.1 unknown"), (550, "5.1.1 unknown"), ghost)[0] == (
        "reject",)


def test_a_changed_mailbox_address_explains_that_address_only() -> None:
    s = site()
    pf = PostfixTranslation({}, (), (Finding(
        "error", "/etc/mail/virtusertable", None, "erin@example.org", "unreachable",
        code="PF010", subject="erin"),))
    old, new = (("mailbox:erin",), ""), (("mailbox:frank",), "")
    assert compare(s, pf, "erin@example.org", old, new).status == "explained"
    assert compare(s, pf, "Erin+x@Example.ORG", old, new).status == "explained"
    # the same account under another local domain: still a loss, not explained
    assert compare(s, pf, "erin@mail.example.org", old, new).status == "different"
