"""read_mbox on hand-made fixtures and the shared corpus: boundaries, flags, dates, policies."""

import hashlib
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from converters.finding import InputError
from converters.mbox import folder_keywords, read_mbox

DATA = Path(__file__).resolve().parents[1] / "data" / "mbox"
CORPUS = Path(__file__).resolve().parents[1] / "data/corpus/mbox"


def cyrus_refusal(data: bytes) -> str | None:
    """Why Cyrus 3.6 ``message_copy_strict`` would refuse or munge ``data`` (None if not).

    A transcription of imap/message.c: NUL anywhere, LF without CR, 8-bit
    header bytes (munged to 'X' by default, which breaks the digest), a
    header line whose name holds a byte <= space, a leading ':', or a last
    header line without a line end.
    """
    if b"\0" in data:
        return "NUL"
    if data.replace(b"\r\n", b"").count(b"\n"):
        return "bare newline"
    end = data.find(b"\r\n\r\n")
    header = data if data[:2] != b"\r\n" and end < 0 else data[:end + 2] if end >= 0 else b""
    if any(b >= 0x80 for b in header):
        return "8-bit header"
    if header and not header.endswith(b"\r\n"):
        return "unterminated header"
    for line in header.split(b"\r\n"):
        if not line or line[:1] in b" \t":
            continue
        if line.startswith(b":"):
            return "invalid header"
        if not line.startswith(b"From "):
            name, colon, _ = line.partition(b":")
            if not colon or any(b <= 0x20 for b in name):
                return "invalid header"
    return None


def read(name: str, **kw) -> list:
    path = DATA / name if (DATA / name).exists() else CORPUS / name
    return list(read_mbox(path, **kw))


def codes(msg) -> list[str]:
    return [f.code for f in msg.findings]


ALL_FIXTURES = sorted(p.name for p in DATA.glob("*.mbox")) + sorted(
    p.name for p in CORPUS.glob("*.mbox"))


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_every_message_is_cyrus_clean_and_hashed(name):
    msgs = read(name)
    assert msgs
    for i, m in enumerate(msgs):
        assert m.index == i
        assert cyrus_refusal(m.data) is None, (m.line, m.data)
        assert m.sha1 == hashlib.sha1(m.data).hexdigest()
        assert m.internaldate.tzinfo is not None
        for f in m.findings:
            assert f.line == m.line and f.text == m.from_line.decode("utf-8", "replace")
            assert f.severity in ("info", "warning")


@pytest.mark.parametrize("name", [n for n in ALL_FIXTURES if n != "cclient.mbox"])
def test_messages_tile_the_file(name):
    path = DATA / name if (DATA / name).exists() else CORPUS / name
    msgs = read(name)
    assert msgs[0].offset == 0
    for a, b in zip(msgs, msgs[1:], strict=False):
        assert a.offset + a.length == b.offset
    assert msgs[-1].offset + msgs[-1].length == path.stat().st_size


def test_from_line_formats_and_mboxo_body_lines():
    raw = (DATA / "formats.mbox").read_bytes()
    msgs = read("formats.mbox")
    senders = [b"alice", b"bob", b"carol", b'"dave smith"', b"erin", b"frank"]
    assert [m.offset for m in msgs] == [raw.index(b"From " + s + b"@") for s in senders]
    assert [m.line for m in msgs] == [1, 7, 13, 25, 32, 38]
    assert [m.internaldate for m in msgs] == [
        datetime(1992, 12, 2, 5, 53, tzinfo=UTC),
        datetime(1992, 12, 2, 5, 53, 22, tzinfo=timezone(timedelta(hours=-8))),
        datetime(1992, 12, 2, 5, 53, 22, tzinfo=timezone(timedelta(hours=-7))),
        datetime(2018, 4, 26, 6, 2, 11, tzinfo=timezone(timedelta(hours=2))),
        datetime(2018, 1, 15, 15, 30, tzinfo=UTC),
        datetime(1992, 12, 6, 5, 53, 22, tzinfo=UTC),
    ]
    assert msgs[0].from_line == b"From alice@example.org Wed Dec  2 05:53 1992"
    third = msgs[2].data
    assert third.count(b"\r\n") == third.count(b"\n")
    for kept in (b"\r\nFrom here to eternity", b"\r\nFrom Russia Wed Feb 30",
                 b"a line of text\r\nFrom mallory@example.org Wed Dec  2 05:53:22 1992\r\n"):
        assert kept in third
    assert codes(msgs[2]) == ["mbox-from-in-body"]
    assert "line 22" in msgs[2].findings[0].reason
    # >From quoting is left alone by default ...
    assert msgs[3].data.endswith(b"\r\n\r\n>From quoted once\r\n>>From quoted twice\r\n")
    # ... and the one file-wide note about the assumed zone rides on the first message only
    assert codes(msgs[0]) == ["mbox-date-zone"]
    assert all(codes(m) == [] for m in msgs[3:])


def test_mboxrd_unescape_option():
    msgs = read("formats.mbox", unescape_mboxrd=True)
    assert msgs[3].data.endswith(b"\r\n\r\nFrom quoted once\r\n>From quoted twice\r\n")
    assert codes(msgs[3]) == ["mbox-mboxrd"]
    corpus = read("mailparser_sample_mboxrd.mbox", unescape_mboxrd=True)
    assert corpus[2].data == b"\r\nMessage 3\r\nFrom hello\r\n>From world\r\n>>From test\r\n"
    assert corpus[3].data == b"\r\nMessage 4\r\n> From\r\n>F\r\n"


def test_default_tz_is_applied_with_its_dst_rules():
    berlin = ZoneInfo("Europe/Berlin")
    msgs = read("formats.mbox", default_tz=berlin)
    assert msgs[0].internaldate.utcoffset() == timedelta(hours=1)          # December
    assert msgs[1].internaldate.utcoffset() == timedelta(hours=-8)         # PST on the line
    summer = read("crlf_no_final_newline.mbox", default_tz=ZoneInfo("America/New_York"))
    assert summer[0].internaldate == datetime(2015, 3, 3, 15, 0, tzinfo=UTC)
    assert "America/New_York" in summer[0].findings[0].reason


def test_uw_pseudo_message_flags_and_metadata_headers():
    raw = (DATA / "cclient.mbox").read_bytes()
    msgs = read("cclient.mbox")
    assert folder_keywords(DATA / "cclient.mbox") == ("$Label1", "Junk", "NonJunk")
    assert len(msgs) == 3
    assert msgs[0].offset == raw.index(b"From alice@")
    assert msgs[0].line == 14
    assert msgs[0].flags == ("\\Seen", "\\Answered", "$Label1", "Junk")
    assert msgs[1].flags == ("\\Flagged", "\\Deleted", "\\Draft", "NonJunk")
    assert msgs[2].flags == ()
    assert msgs[0].data == (
        b"Received: from relay.example.org by mail.example.org; Fri, 8 Jul 2011 12:09:59 +0000"
        b"\r\nFrom: Alice <alice@example.org>\r\nSubject: read and answered\r\n\r\nhello\r\n")
    for m in msgs:
        head = m.data.split(b"\r\n\r\n")[0].lower()
        for name in (b"status:", b"x-status:", b"x-keywords:", b"x-uid:", b"x-imap",
                     b"content-length:"):
            assert name not in head
    assert codes(msgs[0]) == ["mbox-pseudo", "mbox-date-zone"]
    assert "$Label1 Junk NonJunk" in msgs[0].findings[0].reason
    assert codes(msgs[1]) == ["mbox-keyword"]
    assert "bad(word" in msgs[1].findings[0].reason


def test_x_imapbase_keywords_without_pseudo_message(tmp_path):
    path = tmp_path / "folder"
    path.write_bytes(b"From a@b Mon Jan  1 00:00:00 2001\nX-IMAPbase: 1 2 Work Later\n"
                     b"Status: RO\nSubject: x\n\nbody\n")
    assert folder_keywords(path) == ("Work", "Later")
    (msg,) = read_mbox(path)
    assert msg.data == b"Subject: x\r\n\r\nbody\r\n"
    assert msg.flags == ("\\Seen",)


def test_folder_keywords_of_plain_and_junk_files():
    assert folder_keywords(DATA / "formats.mbox") == ()
    assert folder_keywords(DATA / "junk_before_first.mbox") == ()


def test_content_length_honoured_only_when_consistent():
    raw = (DATA / "content_length.mbox").read_bytes()
    msgs = read("content_length.mbox")
    assert len(msgs) == 3
    assert [m.offset for m in msgs] == [0, raw.index(b"From bob@"), raw.index(b"From carol@")]
    assert msgs[0].data == (b"Subject: cl ok\r\n\r\nForwarded below:\r\n\r\n"
                            b"From someone@example.org Mon Jan  1 00:00:00 2001\r\n"
                            b"Subject: inner\r\n\r\ninner body\r\n")
    assert codes(msgs[0]) == ["mbox-from-in-body", "mbox-date-zone"]
    assert "Content-Length" in msgs[0].findings[0].reason
    assert codes(msgs[1]) == ["mbox-content-length"]
    assert "9999" in msgs[1].findings[0].reason
    assert msgs[2].data == b"Subject: last\r\n\r\nlast\r\n"
    assert codes(msgs[2]) == []


def test_content_length_without_blank_line_before_next_separator(tmp_path):
    path = tmp_path / "cl"
    first = b"From a@b Mon Jan  1 00:00:00 2001\nContent-Length: 4\n\nabc\n"
    path.write_bytes(first + b"From c@d Mon Jan  1 00:00:00 2001\n\nx\n")
    msgs = list(read_mbox(path))
    assert [m.data for m in msgs] == [b"\r\nabc\r\n", b"\r\nx\r\n"]
    assert (msgs[1].offset, msgs[1].line) == (57, 5)


def test_crlf_file_and_missing_final_newline():
    raw = (DATA / "crlf_no_final_newline.mbox").read_bytes()
    msgs = read("crlf_no_final_newline.mbox")
    assert [m.offset for m in msgs] == [0, raw.index(b"From bob@")]
    assert msgs[0].from_line == b"From alice@example.org Tue Mar  3 10:00:00 2015"
    assert msgs[0].data == b"Subject: crlf one\r\n\r\nbody one\r\n"
    assert msgs[1].data == b"Subject: crlf two\r\n\r\nbody two, no final newline"
    assert msgs[1].line == 6


def test_junk_before_first_separator_is_its_own_message():
    msgs = read("junk_before_first.mbox")
    assert len(msgs) == 2
    junk, real = msgs
    assert (junk.offset, junk.length, junk.line, junk.from_line) == (0, 58, 1, b"")
    assert junk.data == b"\r\nThis is not a message.\r\nIt was left here by a broken tool.\r\n"
    assert [f.severity for f in junk.findings][0] == "warning"
    assert codes(junk) == ["mbox-junk", "mbox-header-end", "mbox-date-fallback"]
    mtime = (DATA / "junk_before_first.mbox").stat().st_mtime
    assert junk.internaldate == datetime.fromtimestamp(mtime, UTC)
    # junk ends at a dated From_ line even without an empty line before it
    assert (real.offset, real.line) == (58, 3)
    assert real.internaldate == datetime(2015, 3, 3, 10, 0, tzinfo=UTC)


def test_bom_and_dateless_separators_from_corpus():
    msgs = read("mimekit_unmunged.mbox")
    assert len(msgs) == 2
    assert msgs[0].offset == 0 and msgs[0].from_line == b"From -"
    assert codes(msgs[0])[0] == "mbox-bom"
    assert msgs[0].data.startswith(b"From: Jeffrey Stedfast <jeff@xamarin.com>\r\n")
    # "From Russia with love" after an empty line does not split either message
    assert all(m.data.count(b"\r\nFrom Russia with love\r\n") == 1 for m in msgs)
    assert msgs[1].line == 13
    assert msgs[1].data.endswith(b"What did Thunderbird do this time?\r\n")


def test_leading_blank_lines_belong_to_the_first_message(tmp_path):
    path = tmp_path / "blank"
    path.write_bytes(b"\n\nFrom a@b Mon Jan  1 00:00:00 2001\nSubject: x\n\nbody\n")
    (msg,) = read_mbox(path)
    assert (msg.offset, msg.length, msg.line) == (0, path.stat().st_size, 3)
    assert codes(msg)[0] == "mbox-leading-blank"


def test_corpus_crlf_windows1252_body_untouched():
    (msg,) = read("ietf_windows1252_crlf.mbox")
    raw = (CORPUS / "ietf_windows1252_crlf.mbox").read_bytes()
    assert msg.data == raw[raw.index(b"\r\n") + 2:]
    assert msg.internaldate == datetime(2016, 7, 8, 8, 0, tzinfo=UTC)


def test_corpus_mboxrd_sample_counts_and_offsets():
    msgs = read("mailparser_sample_mboxrd.mbox")
    assert [(m.offset, m.line) for m in msgs] == [(0, 1), (59, 4), (118, 7), (211, 13)]
    assert [m.internaldate.year for m in msgs] == [1996, 2002, 2002, 2018]
    # bodies without headers get an empty header section (Cyrus: "invalid header")
    assert msgs[0].data == b"\r\nMessage 1\r\n"
    assert codes(msgs[0])[0] == "mbox-header-end"


def test_cyrus_policies():
    msgs = read("cyrus_rejects.mbox")
    by_sender = {m.from_line.split()[1].split(b"@")[0].decode(): m for m in msgs}
    assert len(msgs) == 7
    nul = by_sender["nul"]
    assert nul.data == b"Subject: nul\r\n\r\nbinaryjunk\r\n"
    assert "2 NUL bytes" in nul.findings[0].reason
    utf8 = by_sender["utf8"]
    assert utf8.data.split(b"\r\n")[:2] == [
        b"From: =?UTF-8?B?TcO8bGxlciwgSsO2cmc=?= <jm@example.org>",
        b"Subject: =?UTF-8?B?R3LDvMOfZQ==?= aus =?UTF-8?B?S8O2bG4=?=",
    ]
    assert "utf-8" in utf8.findings[0].reason
    from email.header import decode_header, make_header
    assert str(make_header(decode_header(
        "=?UTF-8?B?R3LDvMOfZQ==?= aus =?UTF-8?B?S8O2bG4=?="))) == "Grüße aus Köln"
    latin = by_sender["latin1"]
    assert latin.data.startswith(b"Subject: =?UTF-8?B?Y2Fmw6kgY3LDqG1l?=\r\n")
    assert "windows-1252" in latin.findings[0].reason
    bad = by_sender["badname"]
    assert bad.data.startswith(b"X-Invalid-Header: X Mailer: broken 1.0\r\nSubject: bad")
    assert codes(bad) == ["mbox-invalid-header"]
    nosep = by_sender["nosep"]
    assert nosep.data == (b"Subject: no separator\r\n\r\nHello, this is the body.\r\n"
                          b"Second line.\r\n")
    assert codes(nosep) == ["mbox-header-end"]
    empty = by_sender["empty"]
    assert empty.data == b"\r\n" and codes(empty) == ["mbox-empty"]
    last = by_sender["received"]
    assert last.data.endswith(b"Subject: only headers\r\n")
    assert codes(last) == ["mbox-header-eol"]


def test_internaldate_falls_back_to_received_then_date(tmp_path):
    path = tmp_path / "dateless"
    path.write_bytes(
        b"From -\nReceived: from x by y; Tue, 2 Jan 2001 10:00:00 +0100\n"
        b"Received: from w by x; Tue, 2 Jan 2001 09:00:00 +0100\n"
        b"Date: Mon, 1 Jan 2001 08:00:00 +0000\n\nbody\n\n"
        b"From -\nDate: Mon, 1 Jan 2001 08:00:00 -0500\n\nbody\n")
    first, second = read_mbox(path)
    assert first.internaldate == datetime(2001, 1, 2, 9, 0, tzinfo=UTC)
    assert "Received" in first.findings[0].reason
    assert second.internaldate == datetime(2001, 1, 1, 13, 0, tzinfo=UTC)
    assert "Date" in second.findings[0].reason


def test_resume_from_a_separator_offset():
    path = DATA / "formats.mbox"
    msgs = list(read_mbox(path))
    resumed = list(read_mbox(path, start=msgs[3].offset))
    assert [(m.offset, m.line, m.data, m.flags) for m in resumed] == [
        (m.offset, m.line, m.data, m.flags) for m in msgs[3:]]
    assert [m.index for m in resumed] == [0, 1, 2]


@pytest.mark.parametrize("bad", [1, 5, 10**9])
def test_resume_offset_must_be_a_separator(bad):
    with pytest.raises(InputError):
        list(read_mbox(DATA / "formats.mbox", start=bad))


def test_resume_inside_body_from_line_refused():
    raw = (DATA / "formats.mbox").read_bytes()
    # a From line that is a body line (no date) is not a resume point
    with pytest.raises(InputError):
        list(read_mbox(DATA / "formats.mbox", start=raw.index(b"From here")))


def test_display_name_is_used_in_findings():
    msgs = read_mbox(DATA / "cyrus_rejects.mbox", display_name="/var/mail/alice")
    assert {f.file for m in msgs for f in m.findings} == {"/var/mail/alice"}


METADATA = re.compile(
    rb"^(status|x-status|x-keywords|x-uid|x-imap|x-imapbase|content-length):.*\n",
    re.IGNORECASE | re.MULTILINE)


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_every_changed_message_has_a_finding(name):
    """Anything beyond CRLF and c-client metadata removal must be reported."""
    path = DATA / name if (DATA / name).exists() else CORPUS / name
    raw = path.read_bytes()
    for m in read_mbox(path):
        original = raw[m.offset:m.offset + m.length].replace(b"\r\n", b"\n")
        if m.from_line:
            original = original.split(b"\n", 1)[1]
        if original.endswith(b"\n\n"):
            original = original[:-1]
        original = METADATA.sub(b"", original)
        if m.data.replace(b"\r\n", b"\n") != original:
            assert m.findings, (name, m.line)


def test_unspaced_from_line_followed_by_header_starts_a_message(tmp_path):
    path = tmp_path / "joined"
    first = b"From a@b Mon Jan  1 00:00:00 2001\nSubject: one\n\nno final newline\n"
    path.write_bytes(first + b"From c@d Mon Jan  1 00:01:00 2001\nSubject: two\n\nx\n")
    one, two = read_mbox(path)
    assert one.data == b"Subject: one\r\n\r\nno final newline\r\n"
    assert (two.offset, two.line) == (len(first), 5)
    assert [(f.severity, f.code) for f in two.findings] == [("warning", "mbox-unspaced-from")]


def test_unknown_zone_on_from_line_is_reported(tmp_path):
    path = tmp_path / "zone"
    path.write_bytes(b"From a@b Mon Jan  1 10:00:00 XYZ 2001\nSubject: z\n\nx\n")
    (msg,) = read_mbox(path, default_tz=timezone(timedelta(hours=3)))
    assert msg.internaldate == datetime(2001, 1, 1, 7, 0, tzinfo=UTC)
    assert codes(msg) == ["mbox-date-zone"] and "'XYZ'" in msg.findings[0].reason


def test_a_first_message_with_x_imap_but_not_the_folder_data_subject_is_copied(tmp_path):
    # c-client's pseudo message has its subject; a real message that merely carries
    # X-IMAP (or quotes the subject in a bounce from someone else) is mail.
    path = tmp_path / "box"
    path.write_bytes(b"From bob@x.org Thu Oct  1 10:00:00 2026\nX-IMAP: 1234567890 0000000002\n"
                     b"Subject: real\n\nimportant\n")
    [msg] = read_mbox(path)
    assert msg.data == b"Subject: real\r\n\r\nimportant\r\n"
    path.write_bytes(b"From bob@x.org Thu Oct  1 10:00:00 2026\nSubject: Re: DON'T DELETE "
                     b"THIS MESSAGE -- FOLDER INTERNAL DATA\n\nwhat is this?\n")
    [msg] = read_mbox(path)
    assert msg.data.endswith(b"what is this?\r\n")


def test_eight_bit_keywords_are_reported_not_sent(tmp_path):
    # IMAP atoms are ASCII: a keyword such as 'café' would break the APPEND command.
    path = tmp_path / "box"
    path.write_bytes("From bob@x.org Thu Oct  1 10:00:00 2026\nX-Keywords: café work\n"
                     "Subject: s\n\nbody\n".encode() + b"From bob@x.org Thu Oct  1 10:00:00 "
                     b"2026\nX-Keywords: caf\xe9 $Label1\nSubject: t\n\nbody\n")
    first, second = read_mbox(path)
    assert first.flags == ("work",) and second.flags == ("$Label1",)
    for msg in (first, second):
        [note] = [f for f in msg.findings if f.code == "mbox-keyword"]
        assert "caf" in note.reason


@pytest.mark.parametrize("stamp", [b"Thu Oct  1 10:00:60 2026", b"Thu Oct  1 10:00:00.5 2026",
                                   b"Thu Oct  1 10:00:00 2026 +0200 (CEST)",
                                   b"Do Okt  1 10:00:00 2026", b"2026-10-01T10:00:00Z"])
def test_a_separator_with_an_odd_date_still_starts_a_message(tmp_path, stamp):
    # An empty line before and a header after: a new message, with a warning, not the
    # tail of the previous one.
    path = tmp_path / "box"
    path.write_bytes(b"From a@x.org Thu Oct  1 09:00:00 2026\nSubject: one\n\nfirst\n\n"
                     b"From bob@x.org " + stamp + b"\nSubject: two\n"
                     b"Date: Thu, 01 Oct 2026 10:00:00 +0000\n\nsecond\n")
    first, second = read_mbox(path)
    assert first.data.endswith(b"first\r\n") and second.data.endswith(b"second\r\n")
    assert [f.code for f in second.findings if f.severity == "warning"] == ["mbox-odd-from"]
    assert second.internaldate == datetime(2026, 10, 1, 10, 0, tzinfo=UTC)


def test_prose_starting_with_from_stays_in_the_body(tmp_path):
    path = tmp_path / "box"
    path.write_bytes(b"From a@x.org Thu Oct  1 09:00:00 2026\nSubject: one\n\nfirst\n\n"
                     b"From my side, all is well.\nregards\n")
    [msg] = read_mbox(path)
    assert msg.data.endswith(b"From my side, all is well.\r\nregards\r\n")
