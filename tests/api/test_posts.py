"""Posts and comments over real HTTP: listing, validation, errors, and cross-origin rules."""

from __future__ import annotations

from datetime import datetime, timezone

import httpx
import pytest

from tests.api.helpers import assert_json_error
from tests.support.client import create_comment, create_post, signup

EVIL = "http://evil.example"


@pytest.fixture(scope="module")
def writer(base_url):
    return signup(base_url, "writer")


@pytest.fixture(scope="module")
def reader(base_url):
    return signup(base_url, "reader")


def posts_url(base_url: str) -> str:
    return f"{base_url}/api/posts"


def list_posts(base_url: str, **params) -> dict:
    r = httpx.get(posts_url(base_url), params=params, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()


def get_post(base_url: str, post_id: int) -> dict:
    r = httpx.get(f"{posts_url(base_url)}/{post_id}", timeout=5)
    assert r.status_code == 200, r.text
    return r.json()


def parse_utc(value: str) -> datetime:
    assert value.endswith("Z"), f"not a UTC ISO 8601 timestamp: {value}"
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.utcoffset() == timezone.utc.utcoffset(None)
    return parsed


# -- reading -------------------------------------------------------------------------


def test_list_is_newest_first_with_total_and_comment_counts(base_url, writer, reader):
    before = list_posts(base_url, limit=1)["total"]
    created = [create_post(base_url, writer, title=f"순서 {i}", body=f"본문 {i}") for i in range(3)]
    create_comment(base_url, reader, created[1]["id"], "첫 댓글")
    create_comment(base_url, writer, created[1]["id"], "둘째 댓글")

    page = list_posts(base_url, limit=3)
    assert page["total"] == before + 3
    assert [p["id"] for p in page["items"]] == [p["id"] for p in reversed(created)]
    counts = {p["id"]: p["commentCount"] for p in page["items"]}
    assert counts == {created[0]["id"]: 0, created[1]["id"]: 2, created[2]["id"]: 0}

    item = page["items"][0]
    assert set(item) == {"id", "title", "body", "author", "createdAt", "commentCount"}
    assert item["author"] == {"id": writer.id, "nickname": writer.nickname}
    assert item["title"] == "순서 2" and item["body"] == "본문 2"
    stamps = [parse_utc(p["createdAt"]) for p in page["items"]]
    assert stamps == sorted(stamps, reverse=True)


def test_list_paginates_with_limit_and_offset(base_url, writer):
    created = [create_post(base_url, writer, title=f"쪽 {i}") for i in range(3)]
    newest_first = [p["id"] for p in reversed(created)]
    assert [p["id"] for p in list_posts(base_url, limit=1, offset=1)["items"]] == newest_first[1:2]
    assert [p["id"] for p in list_posts(base_url, limit=2, offset=0)["items"]] == newest_first[:2]
    assert list_posts(base_url)["items"], "the default page has posts"
    assert len(list_posts(base_url, limit=100)["items"]) <= 100
    far = list_posts(base_url, limit=5, offset=1_000_000)
    assert far["items"] == [] and far["total"] >= 3


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 101}, {"limit": -1}, {"limit": "abc"}, {"limit": "1.5"}, {"offset": -1},
     {"offset": "x"}, {"offset": 10**20}, {"limit": 10**30}],
    ids=str,
)
def test_list_rejects_bad_paging_with_422(base_url, params):
    body = assert_json_error(httpx.get(posts_url(base_url), params=params), 422)
    assert body["detail"][0]["loc"][0] == "query"


def test_get_post_with_comments_oldest_first(base_url, writer, reader):
    post = create_post(base_url, writer, title="댓글 순서")
    first = create_comment(base_url, reader, post["id"], "하나")
    second = create_comment(base_url, writer, post["id"], "둘")
    third = create_comment(base_url, reader, post["id"], "셋")
    detail = get_post(base_url, post["id"])
    assert detail["id"] == post["id"] and detail["title"] == "댓글 순서"
    assert detail["commentCount"] == 3
    assert [c["id"] for c in detail["comments"]] == [first["id"], second["id"], third["id"]]
    assert [c["content"] for c in detail["comments"]] == ["하나", "둘", "셋"]
    assert detail["comments"][0]["author"] == {"id": reader.id, "nickname": reader.nickname}
    assert set(first) == {"id", "content", "author", "createdAt"}
    parse_utc(first["createdAt"])


def test_unknown_post_is_404_json(base_url):
    body = assert_json_error(httpx.get(f"{posts_url(base_url)}/2147483647"), 404)
    assert "not found" in body["detail"].lower()


@pytest.mark.parametrize("post_id", ["0", "-1", "abc", "1.5", "2147483648", "99999999999999999999999", "1e3"])
def test_out_of_range_or_malformed_post_id_is_422_not_500(base_url, writer, post_id):
    assert_json_error(httpx.get(f"{posts_url(base_url)}/{post_id}"), 422)
    r = httpx.post(f"{posts_url(base_url)}/{post_id}/comments", json={"content": "x"}, headers=writer.headers)
    assert_json_error(r, 422)


# -- writing -------------------------------------------------------------------------


def test_create_post_returns_201_with_the_post(base_url, writer):
    r = httpx.post(posts_url(base_url), json={"title": "  새 글  ", "body": "내용"}, headers=writer.headers)
    assert r.status_code == 201, r.text
    post = r.json()
    assert post["title"] == "새 글", "surrounding whitespace is trimmed"
    assert post["body"] == "내용" and post["commentCount"] == 0
    assert post["author"] == {"id": writer.id, "nickname": writer.nickname}
    assert abs((parse_utc(post["createdAt"]) - datetime.now(timezone.utc)).total_seconds()) < 60
    assert get_post(base_url, post["id"])["title"] == "새 글"


def test_body_is_optional(base_url, writer):
    r = httpx.post(posts_url(base_url), json={"title": "본문 없음"}, headers=writer.headers)
    assert r.status_code == 201, r.text
    assert r.json()["body"] == ""


@pytest.mark.parametrize(
    "data",
    [{"title": "t" * 200}, {"title": "가" * 200}, {"title": "x", "body": "b" * 20_000}, {"title": "x", "body": ""}],
    ids=["title-200", "title-200-hangul", "body-20000", "body-empty"],
)
def test_create_post_accepts_limits(base_url, writer, data):
    r = httpx.post(posts_url(base_url), json=data, headers=writer.headers)
    assert r.status_code == 201, r.text[:300]
    assert get_post(base_url, r.json()["id"])["title"] == data["title"]


@pytest.mark.parametrize(
    "data",
    [{"title": "t" * 201}, {"title": ""}, {"title": "   "}, {"title": "x", "body": "b" * 20_001}],
    ids=["title-201", "title-empty", "title-blank", "body-20001"],
)
def test_create_post_rejects_out_of_limits(base_url, writer, data):
    before = list_posts(base_url, limit=1)["total"]
    assert_json_error(httpx.post(posts_url(base_url), json=data, headers=writer.headers), 422)
    assert list_posts(base_url, limit=1)["total"] == before, "nothing may be stored"


def test_writing_requires_authentication(base_url, writer):
    post = create_post(base_url, writer)
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic dXNlcjpwYXNz"}):
        assert_json_error(httpx.post(posts_url(base_url), json={"title": "익명"}, headers=headers), 401)
        r = httpx.post(f"{posts_url(base_url)}/{post['id']}/comments", json={"content": "익명"}, headers=headers)
        assert_json_error(r, 401)
    assert get_post(base_url, post["id"])["commentCount"] == 0


@pytest.mark.parametrize("content", ["c", "c" * 2000, "한" * 2000])
def test_comment_accepts_1_to_2000_characters(base_url, writer, reader, content):
    post = create_post(base_url, writer)
    comment = create_comment(base_url, reader, post["id"], content)
    assert comment["content"] == content
    assert get_post(base_url, post["id"])["comments"][0]["content"] == content


@pytest.mark.parametrize("content", ["", "   ", "c" * 2001], ids=["empty", "blank", "2001"])
def test_comment_rejects_bad_length(base_url, writer, reader, content):
    post = create_post(base_url, writer)
    r = httpx.post(f"{posts_url(base_url)}/{post['id']}/comments", json={"content": content}, headers=reader.headers)
    assert_json_error(r, 422)
    assert get_post(base_url, post["id"])["commentCount"] == 0


def test_comment_on_missing_post_is_404(base_url, reader):
    r = httpx.post(f"{posts_url(base_url)}/2147483600/comments", json={"content": "어디?"}, headers=reader.headers)
    assert "not found" in assert_json_error(r, 404)["detail"].lower()


MALFORMED = {
    "broken-json": {"content": b'{"title": "t"', "headers": {"Content-Type": "application/json"}},
    "not-utf8": {"content": b"\xff\xfe\x00", "headers": {"Content-Type": "application/json"}},
    "empty-body": {"content": b"", "headers": {"Content-Type": "application/json"}},
    "no-content-type": {"content": b'{"title": "t"}'},
    "text-plain": {"content": b'{"title": "t"}', "headers": {"Content-Type": "text/plain"}},
    "form-encoded": {"content": b"title=t", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
    "json-null": {"json": None},
    "json-array": {"json": [{"title": "t"}]},
    "json-string": {"json": "t"},
    "json-number": {"json": 1},
    "title-number": {"json": {"title": 123}},
    "title-list": {"json": {"title": ["t"]}},
    "title-object": {"json": {"title": {"t": 1}}},
    "title-null": {"json": {"title": None}},
    "body-number": {"json": {"title": "t", "body": 5}},
    "missing-title": {"json": {"body": "b"}},
    "extra-field": {"json": {"title": "t", "authorId": 1}},
    "lone-surrogate": {"content": b'{"title": "\\ud800"}', "headers": {"Content-Type": "application/json"}},
    "deep-nesting": {"content": b"[" * 50_000, "headers": {"Content-Type": "application/json"}},
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_post_bodies_get_4xx_json(base_url, writer, case):
    kw = dict(MALFORMED[case])
    headers = {**writer.headers, **kw.pop("headers", {})}
    r = httpx.post(posts_url(base_url), headers=headers, timeout=10, **kw)
    assert_json_error(r, (400, 415, 422))


@pytest.mark.parametrize("body", [{"content": 5}, {"text": "wrong field"}, {"content": "x", "extra": 1}, []])
def test_malformed_comment_bodies_get_422(base_url, writer, body):
    post = create_post(base_url, writer)
    r = httpx.post(f"{posts_url(base_url)}/{post['id']}/comments", json=body, headers=writer.headers)
    assert_json_error(r, 422)


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_comment_bodies_get_4xx_json_and_write_nothing(base_url, writer, case):
    """A comment is served past the framework stacks (api/hot_paths.py) unless anything
    is wrong with it: then the stacks answer, with the body it read replayed."""
    post = create_post(base_url, writer)
    kw = dict(MALFORMED[case])
    headers = {**writer.headers, **kw.pop("headers", {})}
    r = httpx.post(f"{posts_url(base_url)}/{post['id']}/comments", headers=headers, timeout=10, **kw)
    assert_json_error(r, (400, 415, 422))
    assert get_post(base_url, post["id"])["commentCount"] == 0


def test_a_comment_is_answered_alike_past_the_stacks_and_through_them(base_url, writer, reader):
    """With a Content-Length a JSON comment takes the hot path; sent chunked, it goes
    through the framework stacks. Same status, headers that matter, and body shape."""
    post = create_post(base_url, writer)
    url = f"{posts_url(base_url)}/{post['id']}/comments"
    headers = {**reader.headers, "Content-Type": "application/json", "Origin": base_url}
    body = '{"content": "  같은 댓글  "}'.encode()
    hot = httpx.post(url, content=body, headers=headers)
    stacked = httpx.post(url, content=iter([body]), headers=headers)  # (chunked: no Content-Length)
    for r in (hot, stacked):
        assert r.status_code == 201, r.text
        assert r.headers["content-type"] == "application/json"
        assert r.headers["access-control-allow-origin"] == base_url
        assert r.headers["access-control-allow-credentials"] == "true"
    one, other = hot.json(), stacked.json()
    assert one["id"] != other["id"] and one["createdAt"] <= other["createdAt"]
    assert {**one, "id": 0, "createdAt": ""} == {**other, "id": 0, "createdAt": ""}
    assert one["content"] == "같은 댓글" and one["author"] == {"id": reader.id, "nickname": reader.nickname}
    parse_utc(one["createdAt"])
    assert [c["id"] for c in get_post(base_url, post["id"])["comments"]] == [one["id"], other["id"]]


def test_markup_is_stored_and_returned_literally(base_url, writer, reader):
    title = "<img src=x onerror=alert(1)>"
    body = "<script>alert('x')</script> & \"quotes\" ' </textarea>"
    post = create_post(base_url, writer, title=title, body=body)
    assert post["title"] == title and post["body"] == body
    comment = create_comment(base_url, reader, post["id"], "<b onmouseover=alert(2)>hi</b>")
    r = httpx.get(f"{posts_url(base_url)}/{post['id']}")
    assert r.headers["content-type"].startswith("application/json")
    detail = r.json()
    assert detail["title"] == title and detail["body"] == body
    assert detail["comments"][0]["content"] == comment["content"] == "<b onmouseover=alert(2)>hi</b>"
    assert next(p for p in list_posts(base_url, limit=5)["items"] if p["id"] == post["id"])["title"] == title


# -- cross-origin rules ---------------------------------------------------------------


def test_cors_preflight_from_a_foreign_origin_is_not_allowed(base_url):
    r = httpx.options(
        posts_url(base_url),
        headers={"Origin": EVIL, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"},
    )
    assert r.status_code < 500
    assert "access-control-allow-origin" not in r.headers, r.headers


def test_cors_preflight_from_the_own_origin_is_allowed(base_url):
    r = httpx.options(
        posts_url(base_url),
        headers={"Origin": base_url, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"},
    )
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == base_url
    assert r.headers.get("access-control-allow-credentials") == "true"
    assert "POST" in r.headers["access-control-allow-methods"]


def test_cors_simple_request_headers(base_url):
    own = httpx.get(posts_url(base_url), params={"limit": 1}, headers={"Origin": base_url})
    assert own.headers.get("access-control-allow-origin") == base_url
    foreign = httpx.get(posts_url(base_url), params={"limit": 1}, headers={"Origin": EVIL})
    assert foreign.status_code == 200
    assert "access-control-allow-origin" not in foreign.headers, "a foreign page must not read the answer"
    assert foreign.headers.get("access-control-allow-origin") != "*"


@pytest.mark.parametrize(
    "browser_headers",
    [
        {"Origin": EVIL},
        {"Origin": "null"},
        {"Referer": f"{EVIL}/page"},
        {"Origin": "http://127.0.0.1.evil.example"},
    ],
    ids=["evil-origin", "null-origin", "evil-referer", "lookalike-origin"],
)
def test_cookie_authenticated_cross_origin_writes_are_refused(base_url, writer, browser_headers):
    target = create_post(base_url, writer, title="CSRF 대상")
    cookie = {"Cookie": f"access_token={writer.token}"}
    before = list_posts(base_url, limit=1)["total"]
    r = httpx.post(posts_url(base_url), json={"title": "forged"}, headers={**cookie, **browser_headers})
    assert_json_error(r, 403)
    r = httpx.post(
        f"{posts_url(base_url)}/{target['id']}/comments", json={"content": "forged"}, headers={**cookie, **browser_headers}
    )
    assert_json_error(r, 403)
    assert list_posts(base_url, limit=1)["total"] == before
    assert get_post(base_url, target["id"])["commentCount"] == 0


def test_cookie_authenticated_writes_from_the_own_origin_or_non_browsers_pass(base_url, writer):
    cookie = {"Cookie": f"access_token={writer.token}"}
    for extra in ({"Origin": base_url}, {"Referer": f"{base_url}/posts/new"}, {}):
        r = httpx.post(posts_url(base_url), json={"title": "same-site"}, headers={**cookie, **extra})
        assert r.status_code == 201, (extra, r.text)


def test_bearer_writes_are_not_subject_to_the_origin_check(base_url, writer):
    # A page cannot make a browser attach an Authorization header by itself: no CSRF risk.
    r = httpx.post(posts_url(base_url), json={"title": "bearer"}, headers={**writer.headers, "Origin": EVIL})
    assert r.status_code == 201, r.text
