"""Blog services against a real SQLite database migrated by Alembic."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlmodel import select

from notifier_app import db
from notifier_app.auth import security
from notifier_app.blog import services
from notifier_app.blog.events import CommentCreated, PostCreated
from notifier_app.blog.schemas import CommentIn, LoginIn, PostIn, SignupIn
from notifier_app.blog.services import BadCredentials, EmailTaken, NotFound
from notifier_app.models import Comment, User


class RecordingBus:
    """Records what the blog emits; every event must come inside the write's open transaction."""

    def __init__(self) -> None:
        self.events: list[object] = []

    def emit(self, event: object, *, session=None) -> None:
        assert session is not None and session.in_transaction(), "emitted outside the write's transaction"
        self.events.append(event)


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch):
    """Real argon2, with the smallest cost: these tests are about the rules, not the hash."""
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def emitted(monkeypatch) -> list[object]:
    bus = RecordingBus()
    monkeypatch.setattr(services, "bus", bus)
    return bus.events


# -- accounts -------------------------------------------------------------------------


def test_signup_normalises_the_email_and_stores_a_hash(database):
    user = services.signup(SignupIn(email="Alice.Kim@Example.COM", nickname="  앨리스 ", password="password123"))
    assert user.email == "alice.kim@example.com"
    assert user.nickname == "앨리스"
    assert set(user.model_dump()) == {"id", "email", "nickname", "role"}  # never the hash
    assert user.role == "user"
    with db.session() as s:
        row = s.get(User, user.id)
    assert row.email == "alice.kim@example.com"
    assert row.password_hash.startswith("$argon2") and "password123" not in row.password_hash
    assert services.get_user(user.id) == user


def test_signup_with_a_taken_email_in_any_case_is_refused(database):
    services.signup(SignupIn(email="bob@example.com", nickname="밥", password="password123"))
    with pytest.raises(EmailTaken):
        services.signup(SignupIn(email="BOB@example.com", nickname="밥2", password="another-pass"))
    with db.session() as s:
        assert len(s.exec(select(User)).all()) == 1


def test_login(database):
    created = services.signup(SignupIn(email="carol@example.com", nickname="캐롤", password="password123"))
    assert services.login(LoginIn(email=" Carol@Example.com ", password="password123")) == created
    with pytest.raises(BadCredentials):
        services.login(LoginIn(email="carol@example.com", password="password124"))
    with pytest.raises(BadCredentials):
        services.login(LoginIn(email="nobody@example.com", password="password123"))


def test_get_user_not_found(database):
    with pytest.raises(NotFound):
        services.get_user(12345)


# -- posts and comments ---------------------------------------------------------------


def test_create_post_and_list_posts_newest_first(users, emitted):
    alice, bob = users["alice"], users["bob"]
    first = services.create_post(alice, PostIn(title="  첫 글 ", body="본문"))
    second = services.create_post(bob, PostIn(title="두 번째"))
    third = services.create_post(alice, PostIn(title="세 번째", body="..."))

    assert first.title == "첫 글"  # stripped
    assert first.author.model_dump() == {"id": alice, "nickname": "앨리스"}
    assert first.comment_count == 0

    page = services.list_posts()
    assert page.total == 3
    assert [p.id for p in page.items] == [third.id, second.id, first.id]
    assert [p.author.nickname for p in page.items] == ["앨리스", "밥", "앨리스"]
    assert second.body == ""

    assert [p.id for p in services.list_posts(limit=2).items] == [third.id, second.id]
    later = services.list_posts(limit=2, offset=2)
    assert [p.id for p in later.items] == [first.id]
    assert later.total == 3

    assert [type(e) for e in emitted] == [PostCreated] * 3
    event = emitted[0]
    assert (event.post_id, event.title, event.author_id, event.author_nickname) == (first.id, "첫 글", alice, "앨리스")


def test_list_posts_json_shape_and_comment_counts(users, emitted):
    alice, bob = users["alice"], users["bob"]
    post = services.create_post(alice, PostIn(title="t"))
    quiet = services.create_post(bob, PostIn(title="q"))
    for text in ("하나", "둘"):
        services.create_comment(bob, post.id, CommentIn(content=text))

    page = services.list_posts().model_dump()
    assert page["total"] == 2
    counts = {item["id"]: item["commentCount"] for item in page["items"]}
    assert counts == {post.id: 2, quiet.id: 0}
    item = page["items"][-1]
    assert set(item) == {"id", "title", "body", "author", "createdAt", "commentCount"}
    assert item["createdAt"].endswith("Z")


def test_list_posts_when_empty(database):
    page = services.list_posts()
    assert page.items == [] and page.total == 0


def test_get_post_with_comments_oldest_first(users, emitted):
    alice, bob, carol = users["alice"], users["bob"], users["carol"]
    post = services.create_post(alice, PostIn(title="제목", body="본문"))
    c1 = services.create_comment(bob, post.id, CommentIn(content="  첫 댓글 "))
    c2 = services.create_comment(carol, post.id, CommentIn(content="둘째"))
    c3 = services.create_comment(alice, post.id, CommentIn(content="셋째"))
    other = services.create_post(bob, PostIn(title="other"))
    services.create_comment(alice, other.id, CommentIn(content="elsewhere"))

    detail = services.get_post(post.id)
    assert (detail.id, detail.title, detail.body) == (post.id, "제목", "본문")
    assert detail.author.nickname == "앨리스"
    assert detail.comment_count == 3
    assert [c.id for c in detail.comments] == [c1.id, c2.id, c3.id]
    assert [c.content for c in detail.comments] == ["첫 댓글", "둘째", "셋째"]
    assert [c.author.nickname for c in detail.comments] == ["밥", "캐롤", "앨리스"]
    dumped = detail.model_dump()
    assert dumped["commentCount"] == 3
    assert set(dumped["comments"][0]) == {"id", "content", "author", "createdAt"}


def test_get_post_not_found(database):
    with pytest.raises(NotFound):
        services.get_post(999)


def test_create_comment_emits_an_event_for_the_post_author(users, emitted):
    alice, bob = users["alice"], users["bob"]
    post = services.create_post(alice, PostIn(title="t"))
    emitted.clear()
    comment = services.create_comment(bob, post.id, CommentIn(content="안녕하세요"))

    [event] = emitted
    assert isinstance(event, CommentCreated)
    assert (event.comment_id, event.post_id, event.post_author_id) == (comment.id, post.id, alice)
    assert (event.author_id, event.author_nickname, event.content) == (bob, "밥", "안녕하세요")


def test_create_comment_on_a_missing_post(users, emitted):
    with pytest.raises(NotFound):
        services.create_comment(users["bob"], 999, CommentIn(content="hello"))
    assert emitted == []
    with db.session() as s:
        assert s.exec(select(Comment)).all() == []


def test_missing_author_cannot_post_or_comment(users, emitted):
    post = services.create_post(users["alice"], PostIn(title="t"))
    emitted.clear()
    with pytest.raises(NotFound):
        services.create_post(999, PostIn(title="t"))
    with pytest.raises(NotFound):
        services.create_comment(999, post.id, CommentIn(content="c"))
    assert emitted == []
    assert services.list_posts().total == 1
