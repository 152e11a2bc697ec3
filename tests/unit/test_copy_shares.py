"""How copy splits the work over its connections (no server needed)."""

from __future__ import annotations

from migrate.copy import MailboxResult, _shares


def test_small_users_stay_whole_and_go_biggest_first() -> None:
    users = [(1, [(10, 100), (11, 50)]), (2, [(20, 400)]), (3, [(30, 200)])]
    units = _shares(users, 4)
    assert [uid for uid, share in units] == [2, 3, 1]
    assert all(share is None for _, share in units)


def test_a_big_user_is_shared_and_every_mailbox_goes_once() -> None:
    big = [(100 + i, size) for i, size in enumerate([900, 500, 400, 300, 200, 100, 50])]
    users = [(1, big), (2, [(20, 100)]), (3, [(30, 150)])]
    units = _shares(users, 3)
    shares = [share for uid, share in units if uid == 1]
    assert len(shares) == 3 and all(share is not None for share in shares)
    ids = [m for share in shares for m in share.mailboxes]
    assert sorted(ids) == [m for m, _ in big]
    assert len({id(share.split) for share in shares}) == 1
    assert [uid for uid, _ in units][-2:] == [3, 2]  # the small users last


def test_the_last_share_to_finish_gets_every_result() -> None:
    users = [(1, [(1, 10), (2, 10), (3, 10)])]
    shares = [share for _, share in _shares(users, 3)]
    split = shares[0].split
    a, b, c = (MailboxResult("u", f"/s{i}", f"INBOX/{i}") for i in range(3))
    assert split.finish([a]) is None
    assert split.finish([b]) is None
    assert split.finish([c]) == [a, b, c]


def test_one_connection_never_splits() -> None:
    assert _shares([(1, [(1, 10), (2, 10)])], 1) == [(1, None)]
