"""Check a generated script with sievelib, the parser ManageSieve clients use."""

from __future__ import annotations

from sievelib.parser import Parser


def sieve_error(text: str) -> str | None:
    """None if sievelib parses ``text``, else its error message."""
    parser = Parser()
    return None if parser.parse(text) else str(parser.error)
