"""When sendmail cannot run at all, the address check fails; it never reports differences."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from checks import sendmail_oracle

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not sendmail_oracle.available(),
                                reason="needs root and the unpacked sendmail")


def test_setup_failure_is_an_error_not_empty_answers():
    with sendmail_oracle.SendmailOracle(REPO / "samples/site", "mail.example.org") as oracle:
        assert oracle.verify(["alice@example.org"])["alice@example.org"]
        # Take away what the private namespace mounts: sendmail can no longer start.
        assert oracle.work is not None
        shutil.rmtree(oracle.work / "etc-mail")
        with pytest.raises(OSError, match="did not run"):
            oracle.verify(["alice@example.org", "bob@example.org"])
