"""The browser side without a browser: toast validation, a tab's toasts, and the
tab hub's fan-out (real registry and hub; the websocket is a recorder of the packets)."""

from __future__ import annotations

import asyncio
import json

import pytest
import socketio

from notifier_app.realtime.log import Published
from notifier_app.realtime.messages import Message
from notifier_app.realtime.registry import SubscriberRegistry, reads_channel
from notifier_app.state.tabs import MAX_TOASTS, TabHub, Toast, Toasts, toast_view

STORE = "root.store"
STREAM = "root.stream"


def view(n: int) -> dict[str, str]:
    return {"id": str(n), "type": "post.created", "title": "t", "message": f"m{n}", "href": "/", "level": "info"}


@pytest.mark.parametrize(
    "event",
    [{}, {"type": "x", "title": "t"}, {"type": "x", "title": "", "message": "m"}, {"type": 1, "title": "t", "message": "m"}, "junk"],
)
def test_payloads_missing_what_a_toast_needs_are_skipped(event):
    assert toast_view(event, 1) is None


def test_a_valid_event_becomes_a_toast_and_unsafe_hrefs_are_replaced():
    got = toast_view({"id": "u", "type": "notice", "title": "t", "message": "m", "href": "javascript:alert(1)", "level": "error"}, 3)
    assert got == {"id": "u", "type": "notice", "title": "t", "message": "m", "href": "/notifications", "level": "error"}


def test_a_tabs_toasts_are_newest_first_at_most_ten_without_duplicates():
    toasts = Toasts()
    for n in range(12):
        toasts.add(Toast(view(n)), deadline=float(n))
    assert not toasts.add(Toast(view(11)), deadline=99.0)
    assert [t.id for t in toasts.items] == [str(n) for n in range(11, 1, -1)]
    assert len(toasts.items) == MAX_TOASTS and toasts.next_deadline() == 2.0
    assert toasts.remove("5") and not toasts.remove("5")
    assert json.loads(toasts.json()) == toasts.views() and "5" not in {v["id"] for v in toasts.views()}
    assert toasts.expire(now=6.0) and [t.id for t in toasts.items] == ["11", "10", "9", "8", "7"]
    assert not toasts.expire(now=6.0)


def test_the_delta_packet_is_what_socketio_encodes_for_reflexs_event():
    """The hub writes socket.io's EVENT packet itself: pin it to socket.io's own encoder."""
    hub = TabHub(SubscriberRegistry(), toast_seconds=lambda: 8.0)
    hub._store_key, hub._stream_key = json.dumps(STORE), json.dumps(STREAM)
    hub._prefix = '2/_event,["event",{"delta":{'
    sent = []

    async def send(sid, text):
        sent.append(text)

    hub._send_raw = send

    async def main():
        tab = await hub.attach("tok", "sid", 7, expires_at=2e9, resume_from=None, delivered_through=0)
        tab.user.unread = 3
        await hub._send(tab)

    asyncio.run(main())
    delta = {STORE: {"items_rx_state_": [], "unread_count_rx_state_": 3}, STREAM: {"last_seq_rx_state_": "0"}}
    expected = socketio.packet.Packet(socketio.packet.EVENT, namespace="/_event", data=["event", {"delta": delta}])
    assert sent[-1] == expected.encode()


class Wire:
    """What the hub sent each tab: the last delta per sid."""

    def __init__(self, hub: TabHub) -> None:
        self.last: dict[str, dict] = {}
        self.count: dict[str, int] = {}
        self.order: list[str] = []
        hub._store_key, hub._stream_key = json.dumps(STORE), json.dumps(STREAM)
        hub._prefix = '2/_event,["event",{"delta":{'
        hub._send_raw = self.send

    async def send(self, sid: str, text: str) -> None:
        assert text.startswith('2/_event,["event",')
        self.last[sid] = json.loads(text[len("2/_event,"):])[1]["delta"]
        self.count[sid] = self.count.get(sid, 0) + 1
        self.order.append(sid)

    def toasts(self, sid: str) -> list[str]:
        return [t["message"] for t in self.last[sid][STORE]["items_rx_state_"]]

    def unread(self, sid: str) -> int | None:
        return self.last[sid][STORE].get("unread_count_rx_state_")


def hub_on_wire(monkeypatch, toast_seconds: float = 8.0, counts=None) -> tuple[SubscriberRegistry, TabHub, Wire]:
    """A real registry and hub whose deltas go to a Wire; unread counts from `counts`
    (user id -> count) instead of the database, none by default."""
    registry = SubscriberRegistry()
    hub = TabHub(registry, toast_seconds=lambda: toast_seconds)
    wire = Wire(hub)

    async def read_count(user_id):
        return (counts or {}).get(user_id, 0)

    monkeypatch.setattr(hub._counts, "get", read_count)
    return registry, hub, wire


def post(seq: int, author: int = 1, exclude: int | None = 1) -> Published:
    event = {"id": f"e{seq}", "type": "post.created", "title": "새 게시글", "message": f"post {seq}", "href": f"/posts/{seq}",
             "author": {"id": str(author), "nickname": "a"}}
    return Published.build(seq, event, None, exclude)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_a_broadcast_reaches_every_tab_of_every_user_through_one_subscription_per_user(monkeypatch):
    async def main():
        counts = {2: 5, 3: 0}
        registry, hub, wire = hub_on_wire(monkeypatch, counts=counts)
        tabs = [await hub.attach(f"t{i}", f"s{i}", 2 + i % 2, 2e9, None, 10) for i in range(4)]
        await settle()
        assert registry.total() == 2, "one subscription per user, not per tab"
        assert wire.unread("s0") == 5 and wire.unread("s1") == 0
        registry.broadcast_users(post(11), exclude_user=1)
        await settle()
        for i in range(4):
            assert wire.toasts(f"s{i}") == ["post 11"]
            assert wire.last[f"s{i}"][STREAM] == {"last_seq_rx_state_": "11"}
        assert wire.unread("s0") == 6 and wire.unread("s2") == 6 and wire.unread("s1") == 1
        # The author's own post makes no toast in the author's tabs (but counts as delivered).
        registry.broadcast_users(post(12, author=2, exclude=None))
        await settle()
        assert wire.toasts("s0") == ["post 11"] and wire.toasts("s1") == ["post 12", "post 11"]
        # Closed in one tab, it stays in the user's other tab.
        hub.dismiss("t0", "e11")
        await settle()
        assert wire.toasts("s0") == [] and wire.toasts("s2") == ["post 11"]
        # Marked read somewhere: every tab of that user is recounted.
        counts[2] = 0
        registry.publish(reads_channel(2), Message.build(reads_channel(2), {"type": "notifications.read"}))
        await settle()
        assert wire.unread("s0") == 0 and wire.unread("s2") == 0 and wire.unread("s1") == 2
        for tab in tabs:
            hub.detach(tab)
        assert registry.total() == 0 and hub.tab_count() == 0

    asyncio.run(main())


def test_a_tab_loading_its_next_page_keeps_its_toasts_and_an_old_load_cannot_detach_it(monkeypatch):
    async def main():
        registry, hub, wire = hub_on_wire(monkeypatch)
        first = await hub.attach("tok", "sid", 2, 2e9, None, 10)
        registry.broadcast_users(post(11))
        await settle()
        second = await hub.attach("tok", "sid", 2, 2e9, None, 11)
        assert first.done.done() and first.done.result() == "reloaded"
        hub.detach(first)  # the old load's task ends after the new one started
        await settle()
        assert hub.tab_count() == 1 and wire.toasts("sid") == ["post 11"]
        hub.detach(second)
        assert registry.total() == 0

    asyncio.run(main())


def test_toasts_expire_and_the_tab_is_told(monkeypatch):
    async def main():
        registry, hub, wire = hub_on_wire(monkeypatch, toast_seconds=0.05)
        await hub.attach("tok", "sid", 2, 2e9, None, 10)
        registry.broadcast_users(post(11))
        await settle()
        assert wire.toasts("sid") == ["post 11"]
        for _ in range(100):
            await asyncio.sleep(0.02)
            if wire.toasts("sid") == []:
                break
        assert wire.toasts("sid") == [], "the toast did not expire within 2 s"

    asyncio.run(main())


def test_a_session_ending_detaches_its_tab(monkeypatch):
    async def main():
        import time

        registry, hub, _wire = hub_on_wire(monkeypatch)
        tab = await hub.attach("tok", "sid", 2, time.time() + 0.05, None, 10)
        assert await asyncio.wait_for(tab.done, 2.0) == "expired"
        assert registry.total() == 0

    asyncio.run(main())


def test_a_page_counter_goes_out_with_the_toast_in_one_delta_and_alone_for_anonymous_tabs(monkeypatch):
    async def main():
        registry, hub, wire = hub_on_wire(monkeypatch)
        feed = ("entity", "feed:posts")

        def by_others(message):
            return 0 if message.data["authorId"] == "2" else 1

        await hub.attach("tok", "sid", 2, 2e9, None, 10)
        mine = hub.count("tok", "sid", "new", feed, "root.feed", "new_posts", by_others)
        anonymous = hub.count("anon", "sid-anon", "new", feed, "root.feed", "new_posts", by_others)
        await settle()
        assert registry.total() == 2, "one subscription for the user, one for the channel"
        sent_before = dict(wire.count)
        registry.broadcast_users(post(11))
        registry.publish(feed, Message.build(feed, {"authorId": "1"}))
        await settle()
        assert wire.count["sid"] == sent_before["sid"] + 1, "toast and count in one delta"
        assert wire.last["sid"]["root.feed"] == {"new_posts_rx_state_": 1} and wire.toasts("sid") == ["post 11"]
        assert wire.last["sid-anon"] == {"root.feed": {"new_posts_rx_state_": 1}}
        registry.publish(feed, Message.build(feed, {"authorId": "2"}))  # counts 0: nothing sent
        await settle()
        assert wire.count["sid-anon"] == 1
        hub.reset_count("anon", "new")
        registry.publish(feed, Message.build(feed, {"authorId": "3"}))
        await settle()
        assert wire.last["sid-anon"] == {"root.feed": {"new_posts_rx_state_": 1}}
        hub.uncount(mine)
        hub.uncount(anonymous)
        assert mine.done.result() == "closed" and registry.total() == 1

    asyncio.run(main())


def test_a_targeted_toast_overtakes_a_broadcast_even_for_a_tab_the_broadcast_queued(monkeypatch):
    async def main():
        registry, hub, wire = hub_on_wire(monkeypatch)
        for u in range(2, 202):
            await hub.attach(f"t{u}", f"s{u}", u, 2e9, None, 10)
        await settle()
        wire.order.clear()
        registry.broadcast_users(post(11))
        comment = {"id": "c", "type": "comment.created", "title": "새 댓글", "message": "for 150",
                   "href": "/posts/1", "author": {"id": "1", "nickname": "a"}}
        registry.notify_user(150, Published.build(12, comment, 150, None))
        await settle()
        assert wire.order[0] == "s150", wire.order[:5]
        assert wire.toasts("s150") == ["for 150", "post 11"]
        for _ in range(50):
            await asyncio.sleep(0)
        assert sorted(wire.order) == sorted(f"s{u}" for u in range(2, 202)), "each tab once"

    asyncio.run(main())
