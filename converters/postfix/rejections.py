"""Rejections that hold for every client and for mail submitted on the frontend itself.

Sendmail chose its error mailer for an ``error:`` answer in ruleset 0, for
every sender: a relaying LAN host and the local ``sendmail`` command were
refused like anybody else.  A Postfix ``check_recipient_access`` reply acts
only in smtpd and only where the restriction list reaches it, so it is put
first (before any permit, see ``maincf``), and mail from the ``sendmail``
command (pickup) never sees smtpd at all: there a catch-all or base-address
virtual row would deliver what sendmail refused.

So every rejected address and pattern is also rewritten by
virtual_alias_maps to a reserved address in ``REJECT_DOMAIN`` whose
transport_maps entry is the ``error`` transport with sendmail's status and
text (``retry`` for a temporary 4xx reply, which Postfix then keeps
queued as sendmail did).  No catch-all can take such an address, and a
reserved domain cannot collide with a mailbox address, so nothing that
sendmail delivered is refused.  The reserved local part is a digest of the
reply: equal replies share one entry and a re-run writes the same files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

#: A domain no mail is ever addressed to (RFC 2606): only these rewrites lead there.
REJECT_DOMAIN = "rejected.invalid"


def rejection_address(reply: str) -> str:
    """The reserved address that stands for the SMTP reply ``550 5.1.1 text``."""
    digest = hashlib.sha1(reply.encode()).hexdigest()[:12]
    return f"reject-{digest}@{REJECT_DOMAIN}"


def error_transport(reply: str) -> str:
    """The transport(5) value that bounces (5xx) or defers (4xx) with the reply's status."""
    code, _, rest = reply.partition(" ")
    return f"{'retry' if code.startswith('4') else 'error'}:{rest}".rstrip()


def rejection_transports(replies: Iterable[str]) -> list[str]:
    """transport_maps lines for the reserved address of each distinct reply."""
    return [f"{rejection_address(r)}\t{error_transport(r)}" for r in dict.fromkeys(replies)]
