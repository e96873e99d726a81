"""Real-time delivery: the subscriber registry, the notification log, SSE streams.

The process-wide instances live here. They hold no loop, thread or connection at import
(Reflex's prod server forks workers after importing the app); the app's lifespan wires
them up (notifier_app/lifespan.py).
"""

from __future__ import annotations

from notifier_app.realtime.notifier import Notifier
from notifier_app.realtime.registry import SubscriberRegistry
from notifier_app.realtime.streams import StreamLimits

registry = SubscriberRegistry()
notifier = Notifier(registry)
limits = StreamLimits()
