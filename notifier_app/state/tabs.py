"""Every open browser tab of this worker, fed by one subscription per user.

`NotificationStream.run` (state/notifications.py) hands its tab to `tabs` when the page
loads and parks until Reflex cancels the page's load chain (the tab closed, or loaded
another page). From then on `TabHub` keeps what the tab shows of its notifications —
its toasts and its user's unread count — and sends the tab's `NotificationStore` its
new values as a Reflex delta on the tab's own websocket.

Why not each tab for itself, under its state lock: a broadcast then woke one task per
tab, took each tab's lock, rebuilt its delta through Reflex's machinery and recounted its
unread notifications in the database before the first toast went out. Here:
- a user's tabs share one registry subscription whose sink takes each notification at
  publish time; a broadcast is one pass over the users, not a task per tab;
- the unread count is kept per user, +1 per notification delivered (each is unread when
  it is born), and read from the database only when a user's first tab opens and when
  someone marks notifications read (`Notifier.reads_changed`, heard on every worker);
- each toast is encoded once per notification, and a tab's delta is those pieces joined;
- the pass yields every `CHUNK` tabs and serves events for a few tabs first, so a
  comment's toast does not wait for a broadcast to reach every tab.

What must stay true: the NotificationStore vars `items` and `unread_count` are written
only here (and reset by the stream on logout); the server's copy of them in Reflex state
is never read. A tab that loads a page again gets its toasts again (`attach` sends them).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from reflex_base.constants.state import FIELD_MARKER  # how a delta names a var

from notifier_app.batching import BatchedReads
from notifier_app.realtime import events, log
from notifier_app.realtime.feeds import resumes
from notifier_app.realtime.log import Published
from notifier_app.realtime.messages import Message
from notifier_app.realtime.registry import Channel, SubscriberRegistry, Subscription, reads_channel, user_channel

logger = logging.getLogger("notifier.browser")


MAX_TOASTS = 10
REQUIRED_FIELDS = ("type", "title", "message")
# Where a tab waits for its next delta (Tab.dirty, Counter.dirty).
CLEAN, BULK, URGENT = 0, 1, 2
# Tabs sent to per turn of the event loop during a broadcast: between turns, requests and
# events for a few tabs (a comment's toast) go first.
CHUNK = 8
# A toast may stay up to this much longer than NOTIFIER_TOAST_SECONDS, so that toasts
# falling due close together go in one sweep (a broadcast's all fall due together, give
# or take the time its pass took), or with the next delta the tab gets anyway.
EXPIRY_SLACK = 1.0


def toast_view(event: dict[str, Any], seq: int | None) -> dict[str, str] | None:
    """The toast fields of a valid event; None for a payload missing what a toast needs."""
    if not isinstance(event, dict) or not all(isinstance(event.get(k), str) and event[k] for k in REQUIRED_FIELDS):
        return None
    href = event.get("href")
    return {
        "id": str(event.get("id") or seq),
        "type": event["type"],
        "title": event["title"],
        "message": event["message"],
        "href": href if isinstance(href, str) and href.startswith("/") else "/notifications",
        "level": str(event.get("level") or "info"),
    }


class Toast:
    __slots__ = ("id", "view", "json")

    def __init__(self, view: dict[str, str]) -> None:
        self.id = view["id"]
        self.view = view
        self.json = json.dumps(view, ensure_ascii=False, separators=(",", ":"))


class Toasts:
    """One tab's toasts: newest first, at most ten, no id twice, each with its deadline."""

    __slots__ = ("items", "deadlines")

    def __init__(self) -> None:
        self.items: list[Toast] = []
        self.deadlines: list[float] = []  # parallel to items (loop time)

    def add(self, toast: Toast, deadline: float) -> bool:
        if any(t.id == toast.id for t in self.items):
            return False
        self.items.insert(0, toast)
        self.deadlines.insert(0, deadline)
        del self.items[MAX_TOASTS:], self.deadlines[MAX_TOASTS:]
        return True

    def remove(self, toast_id: str) -> bool:
        for i, t in enumerate(self.items):
            if t.id == toast_id:
                del self.items[i], self.deadlines[i]
                return True
        return False

    def expire(self, now: float) -> bool:
        """Drop the toasts due by `now`; True if any went."""
        if not any(d <= now for d in self.deadlines):
            return False
        kept = [(t, d) for t, d in zip(self.items, self.deadlines) if d > now]
        self.items = [t for t, _ in kept]
        self.deadlines = [d for _, d in kept]
        return True

    def next_deadline(self) -> float | None:
        return min(self.deadlines, default=None)

    def views(self) -> list[dict[str, str]]:
        return [t.view for t in self.items]

    def json(self) -> str:
        return "[" + ",".join(t.json for t in self.items) + "]"


class Tab:
    """One open tab: its websocket, its user, what it shows."""

    __slots__ = ("token", "sid", "user", "toasts", "cursor", "held", "done", "expiry", "dirty")

    def __init__(self, token: str, sid: str, user: UserTabs, cursor: int) -> None:
        self.token = token
        self.sid = sid
        self.user = user
        self.toasts = Toasts()
        self.cursor = cursor  # the newest seq this tab has seen (its resume point)
        # Live notifications that arrive while the tab's missed ones are read from the log.
        self.held: list[Published] | None = None
        self.done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.expiry: asyncio.TimerHandle | None = None  # the session's end
        self.dirty = CLEAN


class Counter:
    """A number a page shows that grows with a channel's messages (the feed's "new posts"),
    kept here for every tab showing it: one subscription per channel, no task per tab."""

    __slots__ = ("token", "sid", "key", "channel", "state_key", "var", "counts", "value", "done", "dirty")

    def __init__(self, token: str, sid: str, key: str, channel: Channel, state_key: str, var: str,
                 counts: Callable[[Message], int]) -> None:
        self.token = token
        self.sid = sid
        self.key = key
        self.channel = channel
        self.state_key = json.dumps(state_key)
        self.var = json.dumps(var + FIELD_MARKER)
        self.counts = counts
        self.value = 0
        self.done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.dirty = CLEAN

    def delta(self) -> str:
        return f"{self.state_key}:{{{self.var}:{self.value}}}"


class UserTabs:
    """A user's tabs in this worker, and the one subscription feeding them."""

    __slots__ = ("user_id", "tabs", "subscription", "unread", "counting", "recount")

    def __init__(self, user_id: int) -> None:
        self.user_id = user_id
        self.tabs: list[Tab] = []
        self.subscription: Subscription | None = None
        self.unread: int | None = None  # None until read from the database
        self.counting = False  # a read of the count is under way
        self.recount = False  # ...and the count changed meanwhile: read again


class TabHub:
    def __init__(self, registry: SubscriberRegistry, toast_seconds: Callable[[], float]) -> None:
        self.registry = registry
        self._toast_seconds = toast_seconds
        self._tabs: dict[str, Tab] = {}
        self._users: dict[int, UserTabs] = {}
        self._counters: dict[str, dict[str, Counter]] = {}  # by tab token, then key
        self._channels: dict[Channel, tuple[Subscription, list[Counter]]] = {}
        self._app: Any = None
        self._send_raw: Callable[[str, str], Any] | None = None  # (sid, text) -> awaitable
        self._prefix = ""  # the socket.io packet up to the delta's first substate
        self._store_key = self._stream_key = ""
        self._urgent: deque[Tab | Counter] = deque()  # tabs to send to first (events for few tabs)
        self._bulk: deque[Tab | Counter] = deque()
        self._sender: asyncio.Task | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = float("inf")
        self._counts = BatchedReads(log.unread_counts, name="notifier-unread-counts")
        self._made: tuple[Published, Toast, float] | None = None  # the last notification's toast
        self.sent = 0  # deltas sent (status)

    # -- wiring ----------------------------------------------------------------------
    def bind(self, app: Any, store_key: str, stream_key: str) -> None:
        """Send deltas through the Reflex app's websocket server; `store_key`/`stream_key`
        are the full names of the states the deltas address. (The server exists once the
        app serves, so it is looked up on first use.)"""
        self._app = app
        self._store_key = json.dumps(store_key)
        self._stream_key = json.dumps(stream_key)

    def _wire(self) -> Callable[[str, str], Any] | None:
        """`send(sid, packet)`: a socket.io packet onto a tab's engine.io socket.

        A delta is what Reflex's `emit_update` sends (event "event", {"delta": ...}),
        encoded here with the toasts' JSON pieces instead of through socket.io's emit,
        which creates a task per recipient. `engineio.AsyncServer.send` is public API; the
        packet's shape is pinned by tests/unit/test_tabs.py against socket.io's encoder.
        """
        if self._send_raw is None:
            namespace = getattr(self._app, "event_namespace", None)
            server = getattr(namespace, "server", None)
            if server is None:
                return None
            name = namespace.namespace
            manager, eio = server.manager, server.eio
            self._prefix = f'2{name},["event",{{"delta":{{'

            async def send(sid: str, text: str) -> None:
                eio_sid = manager.eio_sid_from_sid(sid, name)
                if eio_sid is not None:
                    await eio.send(eio_sid, text)

            self._send_raw = send
        return self._send_raw

    # -- tabs come and go ----------------------------------------------------------
    async def attach(self, token: str, sid: str, user_id: int, expires_at: float, resume_from: int | None,
                     delivered_through: int | None) -> Tab:
        """Follow a tab's user's notifications after `resume_from` (its cursor), or from now.

        `delivered_through`: every seq up to it has been delivered to this worker's
        subscribers (broker.Dispatcher), so a fresh tab that joins in the same step as it
        reads that figure misses nothing and needs no database read.
        """
        start = delivered_through if delivered_through is not None else await asyncio.to_thread(log.last_seq)
        # From here on, nothing awaits: the tab joins its user's subscription in one step.
        old = self._tabs.pop(token, None)
        if old is not None:
            self._drop(old, "reloaded")  # the same tab loading a page again, or back
        user = self._users.get(user_id)
        if user is None:
            user = self._users[user_id] = UserTabs(user_id)
        if user.subscription is None:
            user.subscription = self.registry.subscribe(user_channel(user_id), reads_channel(user_id))
            user.subscription.sink = lambda item, user=user: self._offer(user, item)
        tab = Tab(token, sid, user, start if resume_from is None else min(resume_from, start))
        if old is not None and old.user.user_id == user_id:
            tab.toasts = old.toasts  # what it showed stays on its next page
            tab.cursor = max(tab.cursor, old.cursor)
        self._tabs[token] = tab
        user.tabs.append(tab)
        tab.expiry = asyncio.get_running_loop().call_later(max(0.0, expires_at - time.time()), self._expired, tab)
        if user.unread is None:
            asyncio.ensure_future(self._recount(user))
        if resume_from is not None and (tab.cursor < start or resume_from > start):
            # Resuming (a reconnect after a restart): what it missed comes from the log;
            # a cursor ahead of everything delivered means the log may have been reset.
            tab.held = []
            asyncio.ensure_future(self._replay(tab, resume_from if resume_from > start else tab.cursor))
        self._queue(tab, urgent=True)
        return tab

    def detach(self, tab: Tab, reason: str = "closed") -> None:
        if self._tabs.get(tab.token) is tab:
            self._drop(tab, reason)
            if tab.toasts.items:
                # Kept while it shows toasts: the same tab may be loading its next page.
                self._tabs[tab.token] = tab
                tab.sid = ""
            else:
                self._tabs.pop(tab.token, None)

    def _drop(self, tab: Tab, reason: str) -> None:
        user = tab.user
        if tab in user.tabs:
            user.tabs.remove(tab)
        if tab.expiry is not None:
            tab.expiry.cancel()
        if not tab.done.done():
            tab.done.set_result(reason)
        if not user.tabs:
            if user.subscription is not None:
                user.subscription.close()
                user.subscription = None
            self._users.pop(user.user_id, None)

    def _expired(self, tab: Tab) -> None:
        """The tab's session ended: it stops getting notifications (its status says so)."""
        self.detach(tab, "expired")

    def dismiss(self, token: str, toast_id: str) -> None:
        tab = self._tabs.get(token)
        if tab is not None and tab.toasts.remove(toast_id):
            self._queue(tab, urgent=True)

    def tab_count(self) -> int:
        return sum(len(u.tabs) for u in self._users.values())

    # -- page counters -----------------------------------------------------------------
    def count(self, token: str, sid: str, key: str, channel: Channel, state_key: str, var: str,
              counts: Callable[[Message], int]) -> Counter:
        """Show in the tab's `state_key.var` how much `channel`'s messages have added up to
        (`counts(message)` each) since now. A tab has one counter per `key`: a new one
        replaces the old (the page loaded again). `uncount` ends it."""
        mine = self._counters.setdefault(token, {})
        old = mine.pop(key, None)
        if old is not None:
            self._drop_counter(old, "reloaded")
        counter = mine[key] = Counter(token, sid, key, channel, state_key, var, counts)
        entry = self._channels.get(channel)
        if entry is None:
            subscription = self.registry.subscribe(channel)
            subscription.sink = lambda item, channel=channel: self._offer_counted(channel, item)
            entry = self._channels[channel] = (subscription, [])
        entry[1].append(counter)
        return counter

    def uncount(self, counter: Counter) -> None:
        mine = self._counters.get(counter.token)
        if mine is not None and mine.get(counter.key) is counter:
            del mine[counter.key]
            if not mine:
                del self._counters[counter.token]
            self._drop_counter(counter, "closed")

    def reset_count(self, token: str, key: str) -> None:
        """The page showed everything counted so far (the feed reloaded its posts)."""
        counter = self._counters.get(token, {}).get(key)
        if counter is not None:
            counter.value = 0

    def _drop_counter(self, counter: Counter, reason: str) -> None:
        if not counter.done.done():
            counter.done.set_result(reason)
        entry = self._channels.get(counter.channel)
        if entry is None:
            return
        subscription, counters = entry
        if counter in counters:
            counters.remove(counter)
        if not counters:
            subscription.close()
            del self._channels[counter.channel]

    def _offer_counted(self, channel: Channel, item: Message) -> bool:
        entry = self._channels.get(channel)
        if entry is not None:
            for counter in entry[1]:
                try:
                    added = counter.counts(item)
                except Exception:  # a page's rule must not stop the publish for everyone
                    logger.exception("counting %s for a browser tab failed", counter.key)
                    continue
                if added:
                    counter.value += added
                    self._queue(counter, urgent=False)
        return True

    # -- notifications in ------------------------------------------------------------
    def _offer(self, user: UserTabs, item: Published | Message) -> bool:
        """The subscription's sink: runs inside the publish, for every user it reaches."""
        if isinstance(item, Message):  # READS: someone marked notifications read
            asyncio.ensure_future(self._recount(user))
            return True
        if item.seq is not None:  # a stored notification: unread when it is born
            if user.counting:
                user.recount = True  # the count being read may miss it: read again
            elif user.unread is not None:
                user.unread += 1
        toast: Toast | None = None
        deadline = 0.0
        urgent = item.user_id is not None  # addressed to one user: few tabs, send first
        for tab in user.tabs:
            if tab.held is not None:
                tab.held.append(item)
                continue
            if item.seq is not None:
                if item.seq <= tab.cursor:
                    continue
                tab.cursor = item.seq
            if toast is None:
                toast, deadline = self._toast(item, user.user_id)
            if toast is not None:
                tab.toasts.add(toast, deadline)
            self._queue(tab, urgent)
        return True

    def _toast(self, item: Published, user_id: int) -> tuple[Toast | None, float]:
        event = item.event
        author = event.get("author")
        if isinstance(author, dict) and author.get("id") == str(user_id):
            return None, 0.0  # my own doing
        made = self._made
        if made is not None and made[0] is item:  # a broadcast: the same toast for everyone
            return made[1], made[2]
        view = toast_view(event, item.seq)
        if view is None:
            return None, 0.0
        deadline = asyncio.get_running_loop().time() + self._toast_seconds()
        self._schedule(deadline)
        toast = Toast(view)
        self._made = (item, toast, deadline)
        return toast, deadline

    async def _replay(self, tab: Tab, resume_from: int) -> None:
        """A resuming tab: what it missed, from the log, then what arrived meanwhile."""
        try:
            user_id = tab.user.user_id
            missed: list[Published] = []
            found = await resumes.get((user_id, resume_from))
            if resume_from > found.last_seq:
                tab.cursor = found.last_seq  # the log was reset: from now on
            else:
                if resume_from < found.pruned_through:
                    missed.append(Published.build(None, events.stream_reset(), user_id, None))
                missed.extend(found.missed)
            held, tab.held = tab.held or [], None
            for item in [*missed, *held]:
                if item.seq is not None:
                    if item.seq <= tab.cursor:
                        continue
                    tab.cursor = item.seq
                toast, deadline = self._toast(item, user_id)
                if toast is not None:
                    tab.toasts.add(toast, deadline)
        except Exception:
            logger.exception("replay for a browser tab of user %s failed", tab.user.user_id)
            held, tab.held = tab.held or [], None
        self._queue(tab, urgent=True)

    async def _recount(self, user: UserTabs) -> None:
        """Read the user's unread count, again if notifications arrived during the read."""
        if user.counting:
            user.recount = True
            return
        user.counting = True
        try:
            while True:
                user.recount = False
                count = await self._counts.get(user.user_id)
                if not user.recount:
                    break
        except Exception:
            logger.exception("unread count for user %s failed", user.user_id)
            return
        finally:
            user.counting = False
        user.unread = count or 0
        for tab in user.tabs:
            self._queue(tab, urgent=True)

    # -- toasts go ---------------------------------------------------------------------
    def _schedule(self, deadline: float) -> None:
        """Sweep at `deadline` + EXPIRY_SLACK at the latest: every toast goes between its
        deadline and EXPIRY_SLACK after it."""
        at = deadline + EXPIRY_SLACK
        if at < self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = at
            self._timer = asyncio.get_running_loop().call_at(at, self._sweep)

    def _sweep(self) -> None:
        self._timer, self._timer_at = None, float("inf")
        now = asyncio.get_running_loop().time()
        following = None
        for token, tab in list(self._tabs.items()):
            toasts = tab.toasts
            if not toasts.items:
                continue
            if toasts.expire(now):
                if tab.sid:
                    self._queue(tab, urgent=False)
                elif not toasts.items:
                    self._tabs.pop(token, None)  # a closed tab's last toast went
            due = toasts.next_deadline()
            if due is not None and (following is None or due < following):
                following = due
        if following is not None:
            self._schedule(following)

    # -- deltas out --------------------------------------------------------------------
    def _queue(self, tab: Tab | Counter, urgent: bool) -> None:
        if type(tab) is Counter:
            # A logged-in tab's counters go out in its toasts' delta: one send, not two.
            owner = self._tabs.get(tab.token)
            if owner is not None and owner.sid == tab.sid:
                tab = owner
        if not tab.sid or tab.dirty == URGENT or (tab.dirty == BULK and not urgent):
            return
        # A tab waiting in a broadcast's queue that gets a targeted event too moves ahead:
        # its later place in the broadcast's queue is skipped (it is clean by then).
        tab.dirty = URGENT if urgent else BULK
        (self._urgent if urgent else self._bulk).append(tab)
        if self._sender is None or self._sender.done():
            self._sender = asyncio.ensure_future(self._send_all())

    async def _send_all(self) -> None:
        """Send every queued tab its delta: tabs of targeted events first, a broadcast's
        in chunks with a turn of the loop between them."""
        urgent, bulk = self._urgent, self._bulk
        while urgent or bulk:
            for queue in (urgent, bulk):
                n = 0
                while queue and (queue is urgent or n < CHUNK):
                    tab = queue.popleft()
                    if tab.dirty == CLEAN:
                        continue  # sent already, from the urgent queue
                    tab.dirty = CLEAN
                    n += 1
                    try:
                        await self._send(tab)
                    except Exception:
                        logger.exception("sending a delta to a browser tab failed")
            await asyncio.sleep(0)

    async def _send(self, target: Tab | Counter) -> None:
        send = self._wire()
        if not target.sid or send is None:
            return
        if type(target) is Counter:
            self.sent += 1
            await send(target.sid, f"{self._prefix}{target.delta()}}}}}]")
            return
        tab = target
        # Toasts due go with this delta rather than in one of their own.
        tab.toasts.expire(asyncio.get_running_loop().time())
        unread = tab.user.unread
        store = f'"items{FIELD_MARKER}":{tab.toasts.json()}'
        if unread is not None:
            store += f',"unread_count{FIELD_MARKER}":{unread}'
        parts = [
            f'{self._store_key}:{{{store}}}',
            f'{self._stream_key}:{{"last_seq{FIELD_MARKER}":"{tab.cursor}"}}',
        ]
        for counter in self._counters.get(tab.token, {}).values():
            if counter.sid == tab.sid:
                parts.append(counter.delta())
        self.sent += 1
        await send(tab.sid, f"{self._prefix}{','.join(parts)}}}}}]")
