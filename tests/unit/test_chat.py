"""Chat history reads (realtime/chat.py): what a join replays, read for many rooms at once."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import col, select

from notifier_app import db
from notifier_app.models import ChatMessage
from notifier_app.realtime import chat
from tests.unit.conftest import run


def replayed_by_query(room: str, after_id: int | None) -> list[int]:
    """What a join replays, as one query per join would read it: the newest HISTORY
    messages of the room with an id above `after_id`, oldest first."""
    query = select(ChatMessage.id).where(ChatMessage.room == room)
    if after_id is not None:
        query = query.where(ChatMessage.id > after_id)
    with db.session() as s:
        return sorted(s.exec(query.order_by(col(ChatMessage.id).desc()).limit(chat.HISTORY)).all())


@pytest.fixture
def rooms(users) -> dict[str, list[int]]:
    """`busy` past the kept history (trimmed to its newest HISTORY), `quiet` with three
    messages, `empty` with none: room -> the ids of its kept messages."""
    alice, bob = users["alice"], users["bob"]
    busy = [chat.append("busy", alice if i % 2 else bob, "누군가", f"m{i}").id for i in range(chat.HISTORY + 7)]
    quiet = [chat.append("quiet", alice, "앨리스", f"q{i}").id for i in range(3)]
    return {"busy": busy[-chat.HISTORY :], "quiet": quiet, "empty": []}


def test_histories_reads_every_room_asked_for_oldest_first(rooms):
    found = chat.histories(["busy", "quiet", "empty"])

    assert {room: [m.id for m in found[room]] for room in found} == rooms
    assert [m.data["message"] for m in found["quiet"]] == ["q0", "q1", "q2"]
    assert all(m.channel == chat.room_channel("busy") for m in found["busy"])


def test_a_join_replays_what_a_query_after_its_id_would(rooms):
    kept = rooms["busy"]
    newest = chat.histories(["busy"])["busy"]
    for after_id in (None, 0, kept[0] - 3, kept[0], kept[20], kept[-2], kept[-1], kept[-1] + 10):
        assert [m.id for m in chat.after(newest, after_id)] == replayed_by_query("busy", after_id), after_id


def test_joins_that_arrive_together_are_answered_from_one_read(rooms, monkeypatch):
    reads: list[list[str]] = []
    read = chat.histories

    def counted(wanted):
        reads.append(list(wanted))
        return read(wanted)

    monkeypatch.setattr(chat._joins, "_read_many", counted)

    async def join_all():
        return await asyncio.gather(
            chat.backlog("busy", None),
            chat.backlog("quiet", rooms["quiet"][0]),
            chat.backlog("busy", rooms["busy"][-3]),
        )

    fresh, resumed_quiet, resumed_busy = run(join_all())

    assert reads == [["busy", "quiet"]]  # one read, each room once
    assert [m.id for m in fresh] == rooms["busy"]
    assert [m.id for m in resumed_quiet] == rooms["quiet"][1:]
    assert [m.id for m in resumed_busy] == rooms["busy"][-2:]
