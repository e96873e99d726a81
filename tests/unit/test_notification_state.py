"""The browser-side rules, without a browser: toast validation, the store's bounds, backoff."""

from __future__ import annotations

import pytest
import reflex as rx

from notifier_app.state.notifications import MAX_ITEMS, NotificationStore, backoff_delay, toast_view


def item(n: int) -> dict[str, str]:
    return {"id": str(n), "type": "post.created", "title": "t", "message": f"m{n}", "href": "/", "level": "info"}


@pytest.mark.parametrize(
    "event",
    [{}, {"type": "x", "title": "t"}, {"type": "x", "title": "", "message": "m"}, {"type": 1, "title": "t", "message": "m"}, "junk"],
)
def test_payloads_missing_what_a_toast_needs_are_skipped(event):
    assert toast_view(event, 1) is None


def test_a_valid_event_becomes_a_toast_and_unsafe_hrefs_are_replaced():
    view = toast_view({"id": "u", "type": "notice", "title": "t", "message": "m", "href": "javascript:alert(1)", "level": "error"}, 3)
    assert view == {"id": "u", "type": "notice", "title": "t", "message": "m", "href": "/notifications", "level": "error"}


@pytest.fixture
def store() -> NotificationStore:
    """A real instance of the state class, inside a root state as Reflex builds it."""
    import notifier_app.notifier_app  # noqa: F401  (registers the app's states)

    root = rx.State(_reflex_internal_init=True)
    return root.get_substate(NotificationStore.get_full_name().split(".")[1:])


def test_store_keeps_newest_first_at_most_ten_without_duplicates(store):
    for n in range(12):
        store.add(item(n), 8)
    assert not store.add(item(11), 8)
    assert [i["id"] for i in store.items] == [str(n) for n in range(11, 1, -1)]
    assert len(store.items) == MAX_ITEMS and set(store._expires) == {i["id"] for i in store.items}
    store.remove("5")
    assert "5" not in {i["id"] for i in store.items}
    store.expire(now=float("inf"))
    assert store.items == []
    store.add(item(1), 8)
    store.clear()
    assert store.items == [] and store._expires == {} and store.unread_count == 0


def test_backoff_grows_with_jitter_and_is_capped():
    first = [backoff_delay(0) for _ in range(200)]
    assert all(0.5 <= d <= 1.0 for d in first) and len(set(first)) > 1
    assert all(8 <= backoff_delay(4) <= 16 for _ in range(50))
    assert all(15 <= backoff_delay(20) <= 30 for _ in range(50))
