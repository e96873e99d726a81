"""The inbox API (/api/notifications): a user's stored notifications and their read state."""

from __future__ import annotations

import httpx
import pytest

from tests.api.helpers import assert_json_error
from tests.support.client import create_comment, create_post, inbox, signup, wait_in_inbox


@pytest.fixture(scope="module")
def pair(base_url):
    return signup(base_url, "inbox-a"), signup(base_url, "inbox-b")


def url(base_url: str, path: str = "") -> str:
    return f"{base_url}/api/notifications{path}"


def test_inbox_requires_authentication(base_url):
    assert_json_error(httpx.get(url(base_url)), 401)
    assert_json_error(httpx.post(url(base_url, "/read-all")), 401)
    assert_json_error(httpx.post(url(base_url, "/1/read")), 401)


def test_inbox_holds_what_the_stream_delivers_newest_first(base_url, pair):
    a, b = pair
    own = create_post(base_url, a, title="a의 글")
    other = create_post(base_url, b, title="b의 글")
    comment = create_comment(base_url, b, own["id"], "a에게 댓글")
    create_comment(base_url, a, own["id"], "a의 자기 댓글")
    comment_href = f"/posts/{own['id']}#comment-{comment['id']}"
    wait_in_inbox(base_url, a, comment_href)

    items = inbox(base_url, a, limit=100)["items"]
    hrefs = [i["href"] for i in items]
    assert hrefs.index(comment_href) < hrefs.index(f"/posts/{other['id']}"), "newest first"
    assert f"/posts/{own['id']}" not in hrefs, "nobody hears of their own post"
    own_comments = [h for h in hrefs if h.startswith(f"/posts/{own['id']}#comment-")]
    assert own_comments == [comment_href], "a's comment on her own post notifies nobody"
    seqs = [i["seq"] for i in items]
    assert seqs == sorted(seqs, reverse=True)
    newest = items[hrefs.index(comment_href)]
    assert newest["type"] == "comment.created" and newest["read"] is False
    assert newest["author"] == {"id": str(b.id), "nickname": b.nickname}

    b_hrefs = [i["href"] for i in inbox(base_url, b, limit=100)["items"]]
    assert f"/posts/{own['id']}" in b_hrefs
    assert comment_href not in b_hrefs, "a comment notification is for the post's author only"


def test_mark_one_then_all_read(base_url, pair):
    a, b = pair
    post = create_post(base_url, b, title="읽음 표시")
    item = wait_in_inbox(base_url, a, f"/posts/{post['id']}")
    unread = inbox(base_url, a)["unreadCount"]
    assert unread >= 1

    r = httpx.post(url(base_url, f"/{item['seq']}/read"), headers=a.headers)
    assert r.status_code == 204, r.text
    again = httpx.post(url(base_url, f"/{item['seq']}/read"), headers=a.headers)
    assert again.status_code == 204, "marking twice is harmless"
    page = inbox(base_url, a, limit=100)
    assert page["unreadCount"] == unread - 1
    assert next(i for i in page["items"] if i["seq"] == item["seq"])["read"] is True

    r = httpx.post(url(base_url, "/read-all"), headers=a.headers)
    assert r.status_code == 204, r.text
    page = inbox(base_url, a, limit=100)
    assert page["unreadCount"] == 0
    assert all(i["read"] for i in page["items"])

    newer = create_post(base_url, b, title="그 뒤에 온 글")
    fresh = wait_in_inbox(base_url, a, f"/posts/{newer['id']}")
    assert fresh["read"] is False
    assert inbox(base_url, a)["unreadCount"] == 1


def test_cannot_mark_someone_elses_notification(base_url, pair):
    a, b = pair
    post = create_post(base_url, a)
    comment = create_comment(base_url, b, post["id"], "a만의 알림")
    item = wait_in_inbox(base_url, a, f"/posts/{post['id']}#comment-{comment['id']}")
    assert_json_error(httpx.post(url(base_url, f"/{item['seq']}/read"), headers=b.headers), 404)
    assert_json_error(httpx.post(url(base_url, "/2147483647/read"), headers=a.headers), 404)


def test_paging_with_before(base_url, pair):
    a, b = pair
    posts = [create_post(base_url, b, title=f"쪽 {i}") for i in range(3)]
    wait_in_inbox(base_url, a, f"/posts/{posts[-1]['id']}")
    first = inbox(base_url, a, limit=2)["items"]
    assert len(first) == 2
    older = inbox(base_url, a, limit=2, before=first[-1]["seq"])["items"]
    assert older and all(i["seq"] < first[-1]["seq"] for i in older)


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"limit": "x"}, {"before": 0}, {"before": 2**63}])
def test_inbox_rejects_bad_paging(base_url, pair, params):
    assert_json_error(httpx.get(url(base_url), params=params, headers=pair[0].headers), 422)


@pytest.mark.parametrize("seq", ["0", "-1", "abc", str(2**63)])
def test_mark_read_rejects_bad_seq(base_url, pair, seq):
    assert_json_error(httpx.post(url(base_url, f"/{seq}/read"), headers=pair[0].headers), 422)


def test_cookie_authenticated_cross_origin_read_all_is_refused(base_url, pair):
    a, _ = pair
    headers = {"Cookie": f"access_token={a.token}", "Origin": "http://evil.example"}
    assert_json_error(httpx.post(url(base_url, "/read-all"), headers=headers), 403)
