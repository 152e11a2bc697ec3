"""The local(8) aliases file: only what needs local(8) (programs, files, includes).

Everything else of /etc/mail/aliases is carried by virtual_alias rows.  The
entries are written in the one syntax both programs read the same way: one
line per alias (no continuation lines, so no backslash or indented-comment
ambiguity), names quoted when they hold characters aliases(5) treats
specially, commands quoted so their blanks survive.
"""

from __future__ import annotations

import re

_PLAIN_NAME = re.compile(r"^[a-z0-9][a-z0-9._+-]*$")


def alias_name(name: str) -> str:
    """``name`` as an aliases(5) key (quoted unless plain)."""
    if _PLAIN_NAME.match(name):
        return name
    return '"' + name.replace('"', "") + '"'


def render_aliases(local8: dict[str, list[str]]) -> str:
    """aliases(5) text for postalias, one line per alias, in first-seen order."""
    lines = ["# local(8) deliveries carried over from /etc/mail/aliases (programs, files,",
             "# include files); every other alias is a virtual_alias row."]
    for name, items in local8.items():
        lines.append(f"{alias_name(name)}: {', '.join(items)}")
    return "\n".join(lines) + "\n"
