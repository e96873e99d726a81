"""Project chores: `python -m notifier_app migrate|seed`."""

from __future__ import annotations

import argparse
import sys

from notifier_app import db

DEMO_USERS = [
    ("alice@example.com", "alice", "alice-password"),
    ("bob@example.com", "bob", "bob-password"),
]
DEMO_POSTS = [
    ("alice", "notifier에 오신 것을 환영해요", "다른 사람이 글을 쓰거나 내 글에 댓글을 달면 실시간 알림이 떠요.\n두 개의 브라우저로 alice와 bob으로 로그인해 보세요."),
    ("bob", "SSE로 만드는 실시간 알림", "Server-Sent Events는 서버에서 브라우저로 흐르는 단방향 스트림이에요. 재연결과 Last-Event-ID를 기본으로 지원하죠."),
    ("alice", "Reflex로 파이썬만 써서 웹 앱 만들기", "프론트엔드도 상태도 모두 파이썬으로 작성했어요."),
]


def seed() -> None:
    """Create the demo users and posts unless they exist (idempotent)."""
    from sqlmodel import select

    from notifier_app.blog import services
    from notifier_app.blog.schemas import PostIn, SignupIn
    from notifier_app.models import Post, User

    ids: dict[str, int] = {}
    for index, (email, nickname, password) in enumerate(DEMO_USERS):
        role = services.ADMIN if index == 0 else None  # the first demo user administers the blog
        try:
            ids[nickname] = services.signup(SignupIn(email=email, nickname=nickname, password=password), role=role).id
        except services.EmailTaken:
            with db.session() as s:
                user = s.exec(select(User).where(User.email == email)).one()
                if role and user.role != role:
                    user.role = role
                    s.add(user)
                    s.commit()
                ids[nickname] = user.id
    with db.session() as s:
        has_posts = s.exec(select(Post.id).limit(1)).first() is not None
    if not has_posts:
        for nickname, title, body in DEMO_POSTS:
            services.create_post(ids[nickname], PostIn(title=title, body=body))
    print("demo users (the first is an admin): " + ", ".join(f"{e} / {p}" for e, _, p in DEMO_USERS))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m notifier_app")
    parser.add_argument("command", choices=["migrate", "seed"])
    args = parser.parse_args(argv)
    if args.command == "migrate":
        db.migrate()
        print(f"database migrated: {db.database_url()}")
    else:
        seed()
    return 0


if __name__ == "__main__":
    sys.exit(main())
