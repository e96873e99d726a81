from tests.support.client import create_post, open_stream, signup


def test_post_reaches_other_user_stream(base_url):
    alice, bob = signup(base_url, "alice"), signup(base_url, "bob")
    stream = open_stream(base_url, alice)
    try:
        post = create_post(base_url, bob, title="안녕")
        (event,) = stream.collect(1)
        assert event.data["type"] == "post.created"
        assert event.data["href"] == f"/posts/{post['id']}"
        assert event.id.isdigit()
    finally:
        stream.close()
