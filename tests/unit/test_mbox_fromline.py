"""From_ separator recognition: the shapes seen in the wild, and body lines that only look alike."""

from datetime import datetime, timedelta

import pytest

from converters.mbox.fromline import parse_from_line


@pytest.mark.parametrize(
    ("line", "sender", "when", "offset_hours"),
    [
        (b"From user Wed Dec  2 05:53 1992", b"user", datetime(1992, 12, 2, 5, 53), None),
        (b"From user Wed Dec  2 05:53:22 1992\n", b"user", datetime(1992, 12, 2, 5, 53, 22), None),
        (b"From user Wed Dec  2 05:53 PST 1992", b"user", datetime(1992, 12, 2, 5, 53), -8),
        (b"From user Wed Dec  2 05:53:22 PST 1992", b"user",
         datetime(1992, 12, 2, 5, 53, 22), -8),
        (b"From user Wed Dec  2 05:53 -0700 1992", b"user", datetime(1992, 12, 2, 5, 53), -7),
        (b"From user Wed Dec  2 05:53:22 1992 PST", b"user",
         datetime(1992, 12, 2, 5, 53, 22), -8),
        (b"From user Wed Dec  2 05:53:22 1992 -0700\r\n", b"user",
         datetime(1992, 12, 2, 5, 53, 22), -7),
        (b"From user Wed Dec  2 05:53:22 1992 remote from host", b"user",
         datetime(1992, 12, 2, 5, 53, 22), None),
        (b"From user Wed Dec  2 05:53:22 1992 -0700 remote from host", b"user",
         datetime(1992, 12, 2, 5, 53, 22), -7),
        (b"From 1531@xxx Thu Apr 26 06:02:11 +0000 2018", b"1531@xxx",
         datetime(2018, 4, 26, 6, 2, 11), 0),
        (b"From other@domain.com Mon Jan 15  15:30:00  2018", b"other@domain.com",
         datetime(2018, 1, 15, 15, 30), None),
        (b'From "john doe"@example.org Wed Dec  2 05:53:22 1992', b'"john doe"@example.org',
         datetime(1992, 12, 2, 5, 53, 22), None),
        (b"From user Wed Dec  2 05:53:22 92", b"user", datetime(1992, 12, 2, 5, 53, 22), None),
        (b"From user Sat Jan  1 00:00:00 05", b"user", datetime(2005, 1, 1), None),
        (b"From user Wed, 6 Dec 92 05:53:22", b"user", datetime(1992, 12, 6, 5, 53, 22), None),
        (b"From MAILER-DAEMON Fri Jul  8 12:08:34 2011 +0530", b"MAILER-DAEMON",
         datetime(2011, 7, 8, 12, 8, 34), 5.5),
        (b"From  Mon Jan  1 00:00:00 2001", b"", datetime(2001, 1, 1), None),
        (b"From - Mon Jan  1 00:00:00 2001", b"-", datetime(2001, 1, 1), None),
    ],
)
def test_separator_shapes(line, sender, when, offset_hours):
    stamp = parse_from_line(line)
    assert stamp is not None
    assert stamp.sender == sender
    assert stamp.when == when
    if offset_hours is None:
        assert stamp.zone is None
    else:
        assert stamp.zone.utcoffset(None) == timedelta(hours=offset_hours)


def test_unknown_zone_is_kept_for_the_report():
    stamp = parse_from_line(b"From user Wed Dec  2 05:53:22 XYZ 1992")
    assert stamp.zone is None
    assert stamp.zone_text == "XYZ"


def test_dateless_dash_line():
    stamp = parse_from_line(b"From -\n")
    assert (stamp.sender, stamp.when, stamp.zone) == (b"-", None, None)


@pytest.mark.parametrize(
    "line",
    [
        b"From here to eternity",
        b"From Russia with love",
        b"From: Alice <alice@example.org>",
        b">From user Wed Dec  2 05:53:22 1992",
        b"from user Wed Dec  2 05:53:22 1992",
        b"From user Wed Feb 30 05:53:22 1992",        # no such day
        b"From user Wed Dec  2 25:53:22 1992",        # no such hour
        b"From user Wed Dec  2 05:53:22",             # no year
        b"From user Dec  2 05:53:22 1992",            # no weekday
        b"From user Wed Dec  2 05:53:22 1992 and more text",
        b"From the desk of Wed Dec",
    ],
)
def test_not_separators(line):
    assert parse_from_line(line) is None
