"""Every old folder name maps to a name the real Cyrus accepts, changing only what it refuses.

The copy engine and the Sieve translation both take folder names from
``FolderMapping.folder``; a name Cyrus refuses ("Invalid mailbox name") would
make the copy of that folder fail and a ``fileinto`` land in INBOX.
"""

from __future__ import annotations

import pytest
from imapclient.exceptions import IMAPClientError

from converters.folders import DEFAULT_MAPPING
from migrate.imap import connect
from tests.differential.cyrus_engine import Sandbox, scratch_user

pytestmark = [
    pytest.mark.servers,
    pytest.mark.filterwarnings("ignore:Credentials are sent over an unencrypted connection"),
]

#: Every printable ASCII punctuation character, a tab and an escape.
CHARACTERS = [c for c in map(chr, range(33, 127)) if not c.isalnum() and c != "/"] + [
    "\t", "\x1b"]


def test_mapped_names_are_accepted_and_only_refused_characters_change() -> None:
    sb = Sandbox.load()
    with scratch_user(sb) as user:
        client = connect(sb.cyrus, user, timeout=60)
        try:
            refused = []
            for i, ch in enumerate(CHARACTERS):
                raw = f"INBOX/r{i}{ch}x"
                try:
                    client.create_folder(raw)
                except IMAPClientError:
                    refused.append(ch)
                mapped = DEFAULT_MAPPING.folder(f"m{i}{ch}x")
                client.create_folder(mapped)  # raises if Cyrus refuses the mapped name
                assert mapped == (f"INBOX/m{i}_x" if ch in refused else f"INBOX/m{i}{ch}x"), ch
        finally:
            client.logout()
    assert {"%", "!", "\\", "^", "\t"} <= set(refused)
