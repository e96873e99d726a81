"""Messages on channels other than a user's notifications (chat rooms, entity updates).

Like a notification, a message is encoded once when it is published and the same bytes
go to every subscriber of its channel.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from notifier_app.realtime import sse
from notifier_app.realtime.registry import Channel


@dataclasses.dataclass(frozen=True, slots=True)
class Message:
    channel: Channel
    data: dict[str, Any]
    id: int | None  # the SSE id where the channel keeps history (chat), else None
    frame: bytes

    @classmethod
    def build(cls, channel: Channel, data: dict[str, Any], id: int | None = None) -> Message:
        return cls(channel, data, id, sse.frame(data, id=id))

    @property
    def seq(self) -> int | None:
        return self.id
