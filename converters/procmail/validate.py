"""Check a generated script with sievelib, the parser ManageSieve clients use.

sievelib 1.6 does not know the editheader (RFC 5293) and duplicate
(RFC 7352) commands nor the variables ``string`` test (RFC 5229) the
translation uses, so their grammar is registered
here, as sievelib's ``add_commands`` intends; Cyrus' own compiler stays the
final judge (tests/unit/test_procmail_cyrus_compile.py).
"""

from __future__ import annotations

from sievelib import commands
from sievelib.parser import Parser


class AddheaderCommand(commands.ActionCommand):
    """``addheader [:last] <field-name> <value>`` (RFC 5293 section 4)."""

    extension = "editheader"
    args_definition = [
        {"name": "last", "type": ["tag"], "values": [":last"], "required": False},
        {"name": "field-name", "type": ["string"], "required": True},
        {"name": "value", "type": ["string"], "required": True},
    ]


class DeleteheaderCommand(commands.ActionCommand):
    """``deleteheader [:index n [:last]] [COMPARATOR] [MATCH-TYPE] <field-name> [<values>]``."""

    extension = "editheader"
    args_definition = [
        {"name": "index", "type": ["tag"], "values": [":index"], "required": False,
         "extra_arg": {"type": "number"}},
        {"name": "last", "type": ["tag"], "values": [":last"], "required": False},
        commands.comparator,
        commands.match_type,
        {"name": "field-name", "type": ["string"], "required": True},
        {"name": "value-patterns", "type": ["string", "stringlist"], "required": False},
    ]


class DuplicateCommand(commands.TestCommand):
    """``duplicate [:handle s] [:header s | :uniqueid s] [:seconds n] [:last]`` (RFC 7352)."""

    extension = "duplicate"
    args_definition = [
        {"name": "handle", "type": ["tag"], "values": [":handle"], "required": False,
         "extra_arg": {"type": "string"}},
        {"name": "header", "type": ["tag"], "values": [":header", ":uniqueid"],
         "required": False, "extra_arg": {"type": "string"}},
        {"name": "seconds", "type": ["tag"], "values": [":seconds"], "required": False,
         "extra_arg": {"type": "number"}},
        {"name": "last", "type": ["tag"], "values": [":last"], "required": False},
    ]


class StringCommand(commands.TestCommand):
    """``string [MATCH-TYPE] [COMPARATOR] <source> <key-list>`` (RFC 5229 section 5)."""

    extension = "variables"
    args_definition = [
        commands.comparator,
        commands.match_type,
        {"name": "source", "type": ["string", "stringlist"], "required": True},
        {"name": "key-list", "type": ["string", "stringlist"], "required": True},
    ]


commands.add_commands([AddheaderCommand, DeleteheaderCommand, DuplicateCommand, StringCommand])


def sieve_error(text: str) -> str | None:
    """None if sievelib parses ``text``, else its error message."""
    parser = Parser()
    return None if parser.parse(text) else str(parser.error)
