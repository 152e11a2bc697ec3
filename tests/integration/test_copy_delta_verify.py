"""Delta passes, rewritten old mboxes and ``mailmigrate verify`` on the sample site.

The sample site is copied with its users renamed (random suffix), so the
test owns its Cyrus users.  The tests run in file order on one copy, as an
operator's session would: copy and verify, new mail on the old host and a
delta pass, a message deleted in Cyrus and one added, old mboxes rewritten
by an old mail client, and the explicit ``--resync``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from converters.mbox import read_mbox
from converters.mbox.writer import append_message
from migrate.sitefs import on_disk
from tests.integration.conftest import REPO
from tests.integration.scratch import ScratchSite, from_tree, remove, target_state, token

pytestmark = [
    pytest.mark.servers,
    pytest.mark.filterwarnings("ignore:Credentials are sent over an unencrypted connection"),
]


@pytest.fixture(scope="module")
def site():
    s = from_tree(REPO / "samples/site", "delta")
    assert s.mm("inventory").rc == 0
    s.first_copy = s.mm("copy", "--domain", s.domain, "--json")
    yield s
    remove(s)


def _boxes(run) -> list[dict]:
    return run.json()["mailboxes"]


def _mbox_boxes(s: ScratchSite, min_messages: int) -> list[dict]:
    """Copied mbox (not maildir) mailboxes with at least ``min_messages``, one per user."""
    seen, out = set(), []
    for b in _boxes(s.first_copy):
        path = on_disk(s.site, b["source"])
        if path.is_file() and b["source_messages"] >= min_messages and b["user"] not in seen:
            seen.add(b["user"])
            out.append(b)
    return out


def _verify(s: ScratchSite):
    run = s.mm("verify", "--domain", s.domain, "--json")
    return run, {(f["user"], f["folder"]): f for f in run.json()["folders"]}


def _new_message(subject: str) -> bytes:
    return (f"From: someone@example.com\r\nSubject: {subject}\r\n"
            f"Message-ID: <{token()}@example.com>\r\n\r\n{subject}\r\n").encode()


def test_copy_then_verify_finds_no_difference(site: ScratchSite):
    assert site.first_copy.rc == 0, site.first_copy.out + site.first_copy.err
    run, folders = _verify(site)
    assert run.rc == 0, run.out
    assert not any(f["differs"] for f in folders.values())
    assert sum(f["source_messages"] for f in folders.values()) == sum(
        b["source_messages"] for b in _boxes(site.first_copy)) > 0
    text = site.mm("verify", "--domain", site.domain)
    assert text.rc == 0 and "DIFFERS" not in text.out


def test_delta_pass_copies_only_the_new_mail(site: ScratchSite):
    box = _mbox_boxes(site, 3)[0]
    path = on_disk(site.site, box["source"])
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    for i in range(3):
        append_message(path, _new_message(f"delta {i}"), sender="someone@example.com",
                       date=when)
    run = site.mm("copy", "--domain", site.domain, "--json")
    assert run.rc == 0, run.out + run.err
    appended = {(b["user"], b["folder"]): b["appended"] for b in _boxes(run)}
    assert appended.pop((box["user"], box["folder"])) == 3
    assert set(appended.values()) == {0}
    assert all(b["reconciled"] == 0 for b in _boxes(run))
    got = target_state(site, box["user"], box["folder"])
    assert sum(1 for d in got if d[2] == when.timestamp()) == 3
    assert _verify(site)[0].rc == 0


def test_verify_lists_exactly_a_deleted_and_an_extra_message(site: ScratchSite):
    box = _mbox_boxes(site, 3)[1]
    path = on_disk(site.site, box["source"])
    victim = list(read_mbox(path))[1]
    client = site.imap(box["user"])
    try:
        client.select_folder(box["folder"])
        digests = client.fetch(client.search("ALL"), ["DIGEST.SHA1"])
        uid = next(u for u, d in digests.items() if d[b"DIGEST.SHA1"].decode() == victim.sha1)
        client.delete_messages([uid])
        client.expunge()
        client.append(box["folder"], _new_message("not from the old host"))
        extra_uid = max(client.search("ALL"))
    finally:
        client.logout()
    run, folders = _verify(site)
    assert run.rc == 3, run.out
    diff = folders.pop((box["user"], box["folder"]))
    assert [(m["line"], m["sha1"]) for m in diff["missing"]] == [(victim.line, victim.sha1)]
    assert [e["uid"] for e in diff["extra"]] == [extra_uid]
    assert diff["different"] == []
    assert not any(f["differs"] for f in folders.values())
    text = site.mm("verify", "--domain", site.domain).out
    assert f"missing: {box['source']}:{victim.line} " in text
    assert f"extra: {box['folder']} UID {extra_uid} " in text


def _rewrite_cases(s: ScratchSite) -> tuple[dict, dict]:
    """Two mailboxes of users not touched above: one will shrink, one keeps its size."""
    boxes = _mbox_boxes(s, 3)[2:4]
    assert len(boxes) == 2
    return boxes[0], boxes[1]


def test_a_rewritten_old_mbox_is_reported_and_the_target_left_alone(site: ScratchSite):
    shrunk, same_size = _rewrite_cases(site)
    p1 = on_disk(site.site, shrunk["source"])
    first = list(read_mbox(p1))[0]
    data = p1.read_bytes()
    p1.write_bytes(data[:first.offset] + data[first.offset + first.length:])
    p2 = on_disk(site.site, same_size["source"])
    last = list(read_mbox(p2))[-1]
    data = bytearray(p2.read_bytes())
    body = data.rindex(b"\n\n", last.offset, last.offset + last.length - 2) + 2
    data[body] = ord("Q") if data[body] != ord("Q") else ord("q")
    p2.write_bytes(bytes(data))
    before = {(b["user"], b["folder"]): sorted(target_state(site, b["user"], b["folder"]))
              for b in (shrunk, same_size)}
    run = site.mm("copy", "--domain", site.domain, "--json")
    assert run.rc == 3, run.out + run.err
    by_box = {(b["user"], b["folder"]): b for b in _boxes(run)}
    for b in (shrunk, same_size):
        key = (b["user"], b["folder"])
        codes = [f["code"] for f in by_box[key]["findings"]]
        assert codes == ["CP002"], codes
        assert sorted(target_state(site, *key)) == before[key]
    assert sum(1 for b in _boxes(run) if b["failed"]) == 2


def test_resync_appends_what_changed_and_deletes_nothing(site: ScratchSite):
    shrunk, same_size = _rewrite_cases(site)
    run = site.mm("copy", "--domain", site.domain, "--resync", "--json")
    assert run.rc == 0, run.out + run.err
    by_box = {(b["user"], b["folder"]): b for b in _boxes(run)}
    a = by_box[(shrunk["user"], shrunk["folder"])]
    b = by_box[(same_size["user"], same_size["folder"])]
    assert (a["appended"], a["reconciled"]) == (0, shrunk["source_messages"] - 1)
    assert (b["appended"], b["reconciled"]) == (1, same_size["source_messages"] - 1)
    _, folders = _verify(site)
    for box in (shrunk, same_size):
        diff = folders[(box["user"], box["folder"])]
        assert (len(diff["missing"]), len(diff["extra"]), diff["different"]) == (0, 1, [])
    again = site.mm("copy", "--domain", site.domain, "--json")
    assert again.rc == 0 and sum(x["appended"] for x in _boxes(again)) == 0
