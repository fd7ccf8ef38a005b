"""``/api/ws``: a websocket of events so the dashboard updates without polling.

The client's first message authenticates (``{"type": "auth", "token": ..., "since": N}``: a
token in the URL would land in access logs); the server answers ``hello`` with the newest
journal id, replays the journal entries after ``since`` (a reconnect resyncs), then pushes each
new entry (``event``: orders, fills, risk events, kill switch, operator commands, runtime
records) and each deployment's status when its runner rewrites it (``status``: the card and the
positions: equity ticks). One poller per app reads the database for every client; a client
too slow to keep up is closed (code 1013) and resyncs when it reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import datetime
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy import func, select

from genebot.api.context import ApiContext
from genebot.core.exactjson import dumps_exact
from genebot.persistence.repositories import DeploymentRepository
from genebot.persistence.tables import Deployment, JournalEntry, RuntimeStatusRow
from genebot.services.deployments import card, positions

log = logging.getLogger(__name__)
router = APIRouter()
POLL_S = 0.02
AUTH_WAIT_S = 5.0
QUEUE = 2000
REPLAY_MAX = 1000
QUIET = frozenset({"runtime.checkpoint"})  # too chatty to push; nothing a screen shows


def event_json(entry: JournalEntry) -> dict[str, Any]:
    try:
        payload = json.loads(entry.payload)
    except ValueError:
        payload = {}
    return {
        "type": "event",
        "id": entry.id,
        "deployment_id": entry.deployment_id,
        "kind": entry.kind,
        "actor": entry.actor,
        "subject": entry.subject,
        "payload": payload,
        "recorded_at": entry.recorded_at.isoformat(),
    }


class Hub:
    """Polls the journal and the status rows; fans what is new out to every subscriber."""

    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        self.subscribers: set[asyncio.Queue[dict[str, Any] | None]] = set()
        self.last_id = self.newest_id()
        self.seen: dict[str, tuple[datetime, str]] = {}
        self.task: asyncio.Task[None] | None = None

    def newest_id(self) -> int:
        with self.ctx.db.reader() as session:
            return int(session.scalar(select(func.max(JournalEntry.id))) or 0)

    def entries_after(self, after: int, limit: int = REPLAY_MAX) -> list[dict[str, Any]]:
        with self.ctx.db.reader() as session:
            rows = session.scalars(
                select(JournalEntry)
                .where(JournalEntry.id > after)
                .order_by(JournalEntry.id)
                .limit(limit)
            ).all()
            return [event_json(r) for r in rows if r.kind not in QUIET] + (
                [{"type": "cursor", "id": rows[-1].id}] if rows else []
            )

    def statuses(self) -> list[dict[str, Any]]:
        with self.ctx.db.reader() as session:  # a new status row, or the deployment's end
            rows = session.execute(
                select(
                    RuntimeStatusRow.deployment_id, RuntimeStatusRow.updated_at, Deployment.status
                ).join(Deployment, Deployment.id == RuntimeStatusRow.deployment_id)
            ).all()
        changed = [d for d, when, state in rows if self.seen.get(d) != (when, state)]
        self.seen.update({d: (when, state) for d, when, state in rows})
        out = []
        repo = DeploymentRepository(self.ctx.db)
        for dep in changed:
            row = repo.get(dep)
            if row is not None:
                out.append(
                    {
                        "type": "status",
                        "deployment_id": dep,
                        "card": card(self.ctx.db, row, self.ctx.runner_for(row)),
                        "positions": positions(self.ctx.db, dep),
                    }
                )
        return out

    def poll(self) -> list[dict[str, Any]]:
        found = self.entries_after(self.last_id)
        cursor = [m for m in found if m["type"] == "cursor"]
        if cursor:
            self.last_id = int(cursor[-1]["id"])
        return [m for m in found if m["type"] != "cursor"] + self.statuses()

    async def run(self) -> None:
        while self.subscribers:
            try:
                messages = await asyncio.to_thread(self.poll)
            except Exception:  # the database hiccuped: say so in the log, try again
                log.exception("websocket poll failed")
                messages = []
            for message in messages:
                for queue in list(self.subscribers):
                    try:
                        queue.put_nowait(message)
                    except asyncio.QueueFull:  # too slow: drop it; it resyncs on reconnect
                        self.subscribers.discard(queue)
                        with contextlib.suppress(asyncio.QueueFull):
                            queue.put_nowait(None)
            await asyncio.sleep(POLL_S)
        self.task = None

    def subscribe(self) -> asyncio.Queue[dict[str, Any] | None]:
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(QUEUE)
        if not self.subscribers:
            self.last_id = self.newest_id()
        self.subscribers.add(queue)
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self.run())
        return queue


def hub_of(ctx: ApiContext) -> Hub:
    hub: Hub | None = getattr(ctx, "hub", None)
    if hub is None:
        hub = Hub(ctx)
        ctx.hub = hub  # type: ignore[attr-defined]
    return hub


async def _authenticate(ws: WebSocket, ctx: ApiContext) -> tuple[str, int] | None:
    try:
        first = json.loads(await asyncio.wait_for(ws.receive_text(), AUTH_WAIT_S))
    except (TimeoutError, ValueError, WebSocketDisconnect):
        first = {}
    token = str(first.get("token") or "") if isinstance(first, dict) else ""
    who = ctx.tokens.identify(token)
    if who is None or first.get("type") != "auth":
        with contextlib.suppress(Exception):
            await ws.send_text(
                dumps_exact(
                    {
                        "type": "error",
                        "detail": 'send {"type": "auth", "token": ...} first, with a valid token',
                    }
                )
            )
            await ws.close(code=4401)
        return None
    since = first.get("since")
    return who.role, int(since) if isinstance(since, int) and since >= 0 else -1


@router.websocket("/api/ws")
async def events(ws: WebSocket) -> None:
    ctx: ApiContext = ws.app.state.ctx
    await ws.accept()
    auth = await _authenticate(ws, ctx)
    if auth is None:
        return
    role, since = auth
    hub = hub_of(ctx)
    queue = hub.subscribe()
    try:
        await ws.send_text(dumps_exact({"type": "hello", "role": role, "last_id": hub.last_id}))
        replayed = 0
        if since >= 0:  # a reconnect: what it missed, then live
            for message in await asyncio.to_thread(hub.entries_after, since):
                if message["type"] == "event" and message["id"] <= hub.last_id:
                    await ws.send_text(dumps_exact(message))
                    replayed = message["id"]
        await _pump(ws, queue, replayed)
    except WebSocketDisconnect:
        pass
    finally:
        hub.subscribers.discard(queue)


async def _pump(ws: WebSocket, queue: asyncio.Queue[dict[str, Any] | None], after: int) -> None:
    receiver = asyncio.create_task(ws.receive_text())  # notices the client going away
    getter: asyncio.Task[dict[str, Any] | None] | None = None
    try:
        while True:
            getter = asyncio.create_task(queue.get())
            done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
            if receiver in done:
                receiver.result()  # raises WebSocketDisconnect when the client left
                receiver = asyncio.create_task(ws.receive_text())  # (pings are ignored)
            if getter not in done:
                getter.cancel()
                continue
            message = getter.result()
            if message is None:
                await ws.close(code=1013)  # too slow: reconnect and resync
                return
            if message["type"] == "event" and message["id"] <= after:
                continue  # already replayed
            await ws.send_text(dumps_exact(message))
    finally:
        receiver.cancel()
        if getter is not None:
            getter.cancel()
