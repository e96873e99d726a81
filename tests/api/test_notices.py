"""Roles and admin notices over real HTTP (issue 6): POST /notifications/send, delivered on
/notifications/stream as type "notice".

This module runs a server of its own whose NOTIFIER_ADMIN_EMAILS lists two addresses
(written in mixed case, with spaces, to check the list is read case-insensitively).
A notice is stored and handed to subscribers before the 202 is sent, so "must not
receive" checks need only a short silence window.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.api.helpers import Streams, assert_json_error, assert_no_traceback, wait_idle
from tests.support.client import (
    Account,
    http,
    inbox,
    me,
    open_stream,
    send_notice,
    signup,
    signup_as,
    system_status,
)
from tests.support.server import AppServer, fresh_database_url

ADMIN_EMAIL = "Chief.Editor@Example.COM"
OTHER_ADMIN_EMAIL = "deputy@example.com"
SILENCE = 0.5
LEVELS = ("info", "success", "warning", "error")


@pytest.fixture(scope="module")
def admin_server(tmp_path_factory):
    db_url = fresh_database_url(tmp_path_factory.mktemp("notices-db"))
    env = {
        "NOTIFIER_ADMIN_EMAILS": f"  {ADMIN_EMAIL} , {OTHER_ADMIN_EMAIL.upper()},,",
        "NOTIFIER_MAX_STREAMS_PER_USER": "4",
    }
    server = AppServer(db_url=db_url, name="notices", env=env)
    with server:
        yield server


@pytest.fixture(scope="module", autouse=True)
def server_log_clean(admin_server):
    """Overrides the package's check of the shared server: this module only uses its own."""
    start = len(admin_server.log_text())
    yield
    assert_no_traceback(admin_server, start)


@pytest.fixture(scope="module")
def url(admin_server) -> str:
    return admin_server.url


@pytest.fixture(scope="module")
def admin(url) -> Account:
    return signup_as(url, "chief.editor@example.com", "편집장")  # another case than the list's


@pytest.fixture(scope="module")
def deputy(url) -> Account:
    return signup_as(url, "Deputy@Example.com", "부편집장")


@pytest.fixture(scope="module")
def alice(url) -> Account:
    return signup(url, "notice-alice")


@pytest.fixture(scope="module")
def bob(url) -> Account:
    return signup(url, "notice-bob")


@pytest.fixture(scope="module")
def carol(url) -> Account:
    return signup(url, "notice-carol")


@pytest.fixture
def streams(url):
    s = Streams(url)
    yield s
    s.close_all()
    wait_idle(url)


def notice(url: str, who: Account, **body) -> str:
    """Send a notice as `who` (an admin); its id."""
    body.setdefault("title", "공지")
    body.setdefault("message", "점검 안내")
    r = send_notice(url, who, body)
    assert r.status_code == 202, f"notice answered {r.status_code}: {r.text}"
    data = r.json()
    assert set(data) == {"id"}, data
    assert str(uuid.UUID(data["id"])) == data["id"]
    return data["id"]


def stored(url: str, who: Account, title: str) -> list[dict]:
    return [i for i in inbox(url, who, limit=100)["items"] if i["type"] == "notice" and i["title"] == title]


# -- roles -------------------------------------------------------------------------------


def test_listed_emails_are_admins_whatever_their_case(url, admin, deputy):
    for who in (admin, deputy):
        assert me(url, who)["role"] == "admin"
    r = http().post(f"{url}/api/auth/login", json={"email": "CHIEF.EDITOR@example.com", "password": "password-123"})
    assert r.status_code == 200, r.text
    assert r.json()["user"]["role"] == "admin"


def test_everyone_else_is_a_user(url, alice):
    assert me(url, alice)["role"] == "user"
    near_misses = ["chief.editor@example.co", "xchief.editor@example.com", "chief.editor+1@example.com"]
    for email in near_misses:
        assert me(url, signup_as(url, email, "near-miss"))["role"] == "user", email


# -- who may send --------------------------------------------------------------------------


def test_sending_needs_authentication(url):
    assert_json_error(send_notice(url, None, {"title": "t", "message": "m"}), 401)
    r = http().post(f"{url}/notifications/send", json={"title": "t", "message": "m"},
                    headers={"Authorization": "Bearer nonsense"})
    assert_json_error(r, 401)


@pytest.mark.parametrize("body", [
    {"title": "t", "message": "m", "level": "info"},
    {"title": "", "level": "nope"},  # a bad body still gets 403, not a 422 describing the API
    {},
])
def test_a_normal_user_gets_403_and_nothing_is_sent(url, alice, bob, streams, body):
    bob_tab = streams.open(bob)
    r = send_notice(url, alice, body)
    detail = assert_json_error(r, 403)["detail"]
    assert "admin" in detail.lower()
    bob_tab.assert_silent(SILENCE)
    assert stored(url, bob, "t") == []


def test_a_cookie_borne_cross_origin_send_is_refused(url, admin, alice, streams):
    alice_tab = streams.open(alice)
    r = http().post(f"{url}/notifications/send", json={"title": "csrf", "message": "m"},
                    headers={"Cookie": f"access_token={admin.token}", "Origin": "https://evil.example"})
    assert_json_error(r, 403)
    alice_tab.assert_silent(SILENCE)


# -- delivery ----------------------------------------------------------------------------


def test_a_notice_without_user_ids_reaches_every_connected_user(url, admin, deputy, alice, bob, streams):
    tabs = {
        "admin": streams.open(admin),  # the sender: a notice is not authored content, it is not excluded
        "deputy": streams.open(deputy),
        "alice-1": streams.open(alice),
        "alice-2": streams.open(alice),
        "bob": streams.open(bob),
    }
    before = datetime.now(UTC) - timedelta(seconds=5)
    notice_id = notice(url, admin, title="정기 점검", message="오늘 밤 12시에 점검합니다.", level="warning")
    received = {name: tab.next(5) for name, tab in tabs.items()}
    assert len({(e.id, e.raw) for e in received.values()}) == 1, f"streams got different frames: {received}"

    event = received["bob"]
    assert event.id.isdigit(), "a stored notification: its seq is the SSE id"
    data = event.data
    assert data["id"] == notice_id
    assert data["type"] == "notice"
    assert data["level"] == "warning"
    assert data["title"] == "정기 점검"
    assert data["message"] == "오늘 밤 12시에 점검합니다."
    assert data["author"] == {"id": str(admin.id), "nickname": admin.nickname}
    assert data["href"].startswith("/")
    created = datetime.fromisoformat(data["createdAt"])
    assert before < created < datetime.now(UTC) + timedelta(seconds=5)
    for tab in tabs.values():
        tab.assert_silent(0.2)


def test_a_broadcast_notice_is_stored_for_everyone_connected_or_not(url, admin, alice, carol):
    title = f"저장 {uuid.uuid4().hex[:6]}"
    notice_id = notice(url, admin, title=title, level="success")
    for who in (alice, carol, admin):  # carol has no stream open
        items = stored(url, who, title)
        assert len(items) == 1, (who.nickname, items)
        assert items[0]["id"] == notice_id and items[0]["level"] == "success" and items[0]["read"] is False


def test_user_ids_limit_the_notice_to_those_users(url, admin, deputy, alice, bob, carol, streams):
    alice_tab, bob_tab = streams.open(alice), streams.open(bob)
    carol_tab, admin_tab, deputy_tab = streams.open(carol), streams.open(admin), streams.open(deputy)
    title = f"개별 {uuid.uuid4().hex[:6]}"
    notice_id = notice(url, admin, title=title, level="error", userIds=[alice.id, bob.id, alice.id])

    got = {"alice": alice_tab.next(5), "bob": bob_tab.next(5)}
    for name, event in got.items():
        data = event.data
        assert (data["type"], data["level"], data["title"]) == ("notice", "error", title), (name, data)
        assert data["noticeId"] == notice_id, "each copy points back to the notice"
    assert got["alice"].data["id"] != got["bob"].data["id"], "each recipient's copy is a notification of its own"
    for tab in (carol_tab, admin_tab, deputy_tab):  # the sender too: not listed
        tab.assert_silent(SILENCE)
    alice_tab.assert_silent(0.1)  # listed twice, told once

    assert len(stored(url, alice, title)) == 1 and len(stored(url, bob, title)) == 1
    assert stored(url, carol, title) == [] and stored(url, admin, title) == []


def test_an_admin_can_notify_themselves(url, admin, alice, streams):
    admin_tab, alice_tab = streams.open(admin), streams.open(alice)
    notice(url, admin, title="메모", userIds=[admin.id])
    assert admin_tab.next(5).data["title"] == "메모"
    alice_tab.assert_silent(SILENCE)


@pytest.mark.parametrize("level", LEVELS)
def test_every_level_is_delivered_with_its_level(url, admin, alice, streams, level):
    tab = streams.open(alice)
    notice(url, admin, title=f"level {level}", level=level, userIds=[alice.id])
    assert tab.next(5).data["level"] == level


def test_level_defaults_to_info(url, admin, alice, streams):
    tab = streams.open(alice)
    notice(url, admin, title="기본", userIds=[alice.id])
    assert tab.next(5).data["level"] == "info"


def test_title_and_message_are_trimmed_and_kept_at_their_limits(url, admin, alice, streams):
    tab = streams.open(alice)
    notice(url, admin, title="  " + "제" * 200 + "  ", message="가" * 2000, userIds=[alice.id])
    data = tab.next(5).data
    assert data["title"] == "제" * 200 and data["message"] == "가" * 2000


def test_last_event_id_replay_includes_missed_notices(url, admin, alice, bob, streams):
    tab = streams.open(alice)
    notice(url, admin, title="before", userIds=[alice.id])
    seen = tab.next(5).id
    tab.close()
    streams.readers.remove(tab)

    for_alice = notice(url, admin, title="while away (to alice)", userIds=[alice.id])
    for_bob = notice(url, admin, title="while away (to bob)", userIds=[bob.id])
    for_all = notice(url, admin, title="while away (to all)", level="success")

    resumed = streams.open(alice, headers={"Last-Event-ID": seen})
    events = resumed.collect(2, 5)
    assert [e.data.get("noticeId", e.data["id"]) for e in events] == [for_alice, for_all]
    assert [e.data["level"] for e in events] == ["info", "success"]
    assert all(int(e.id) > int(seen) for e in events)
    assert int(events[0].id) < int(events[1].id)
    resumed.assert_silent(SILENCE)
    assert for_bob  # bob's notice was never alice's


def test_notices_are_counted_in_system_status(url, admin, alice, bob):
    before = system_status(url)["eventsPublished"].get("notice", 0)
    notice(url, admin, title="count 1")
    notice(url, admin, title="count 2", userIds=[alice.id, bob.id])  # one notification per recipient
    after = system_status(url)["eventsPublished"].get("notice", 0)
    assert after - before == 3, f"notice count went from {before} to {after}"


# -- validation --------------------------------------------------------------------------

VALID = {"title": "공지", "message": "내용", "level": "info"}
BAD_NOTICES = {
    "bad-level": {**VALID, "level": "critical"},
    "uppercase-level": {**VALID, "level": "INFO"},
    "empty-level": {**VALID, "level": ""},
    "null-level": {**VALID, "level": None},
    "empty-title": {**VALID, "title": ""},
    "blank-title": {**VALID, "title": "   "},
    "long-title": {**VALID, "title": "t" * 201},
    "missing-title": {"message": "m"},
    "number-title": {**VALID, "title": 7},
    "empty-message": {**VALID, "message": ""},
    "long-message": {**VALID, "message": "m" * 2001},
    "missing-message": {"title": "t"},
    "nul-in-title": {**VALID, "title": "a\x00b"},
    "empty-user-ids": {**VALID, "userIds": []},
    "unknown-user-id": {**VALID, "userIds": [987_654]},
    "zero-user-id": {**VALID, "userIds": [0]},
    "negative-user-id": {**VALID, "userIds": [-1]},
    "huge-user-id": {**VALID, "userIds": [2**40]},
    "user-ids-not-a-list": {**VALID, "userIds": "all"},
    "too-many-user-ids": {**VALID, "userIds": list(range(1, 1002))},
    "extra-field": {**VALID, "type": "notice"},
}


@pytest.mark.parametrize("case", list(BAD_NOTICES))
def test_invalid_notices_are_422_json(url, admin, case):
    assert_json_error(send_notice(url, admin, BAD_NOTICES[case]), 422)


def test_invalid_notices_send_nothing(url, admin, alice, streams):
    tab = streams.open(alice)
    for case, body in BAD_NOTICES.items():
        assert send_notice(url, admin, body).status_code == 422, case
    tab.assert_silent(SILENCE)
    assert not any(i["type"] == "notice" and i["title"] in ("t", "") for i in inbox(url, alice, limit=100)["items"])


def test_unknown_user_ids_among_known_ones_send_nothing(url, admin, alice, streams):
    tab = streams.open(alice)
    r = send_notice(url, admin, {**VALID, "title": "partial", "userIds": [alice.id, 987_655]})
    body = assert_json_error(r, 422)
    assert "987655" in str(body["detail"])
    tab.assert_silent(SILENCE)
    assert stored(url, alice, "partial") == []


def test_a_body_that_is_not_an_object_is_422(url, admin):
    for content in (b"[1, 2]", b'"text"', b"null"):
        r = http().post(f"{url}/notifications/send", content=content,
                        headers={**admin.headers, "Content-Type": "application/json"})
        assert_json_error(r, 422)


def test_stream_cap_still_applies_to_admins(url, admin, streams):
    for _ in range(4):
        streams.open(admin)
    refused = open_stream(url, admin)
    try:
        assert refused.status == 429
    finally:
        refused.close()

