"""What every route shares: the database, the tokens, the runner (if any), the rate limiter.

Routes take their parts through FastAPI dependencies: ``Ctx`` (the :class:`ApiContext` on
``app.state``), ``Viewer`` (any valid token) and ``Admin`` (the admin role; rate limited).
A caller is known by its token's *name* (``admin#1``): that is what the journal records.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from genebot.api.security import Caller, Tokens
from genebot.core.secrets import SecretRedactor
from genebot.persistence.codec import to_json
from genebot.persistence.database import Database
from genebot.persistence.lock import DATABASE, held, scope_of
from genebot.persistence.repositories import DeploymentRepository
from genebot.persistence.tables import Deployment, JournalEntry

RUNNER_CACHE_S = 0.5
ANY = "any runner"  # the cache key of runner_up() (scopes are "" or "paper:NAME")


class TtlCache:
    """A value recomputed at most every ``ttl_s`` per key. Once a value exists, an expired one
    is still answered while one background thread recomputes it (stale for at most one
    computation), so no request waits on the database read behind a hot route."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._values: dict[object, tuple[float, object]] = {}
        self._refreshing: set[object] = set()
        self._guard = threading.Lock()

    def get(self, key: object, ttl_s: float, compute: Callable[[], object]) -> object:
        if ttl_s <= 0:
            return compute()
        with self._guard:
            found = self._values.get(key)
            if found is not None and self._clock() - found[0] < ttl_s:
                return found[1]
            if found is not None and key in self._refreshing:
                return found[1]
            if found is not None:
                self._refreshing.add(key)
        if found is None:  # the first answer: computed by the caller
            return self._store(key, compute)
        threading.Thread(target=self._refresh, args=(key, compute), daemon=True).start()
        return found[1]

    def clear(self) -> None:
        """Forget every value (after a change the next read must see)."""
        with self._guard:
            self._values.clear()

    def _store(self, key: object, compute: Callable[[], object]) -> object:
        value = compute()
        with self._guard:
            self._values[key] = (self._clock(), value)
        return value

    def _refresh(self, key: object, compute: Callable[[], object]) -> None:
        try:
            self._store(key, compute)
        except Exception:  # the next request tries again (and raises in its own thread)
            with self._guard:
                self._values.pop(key, None)
        finally:
            with self._guard:
                self._refreshing.discard(key)


@dataclass
class ApiSettings:
    """The ``api:`` section's runtime knobs (see genebot.config.sections.ApiSectionConfig)."""

    cors_origins: list[str] = field(default_factory=list)
    rate_limit_per_minute: int = 60  # mutating calls per caller per minute
    command_wait_s: float = 10.0  # how long a control call waits for the runner's answer
    base_config: str | None = None  # the config a deploy starts from
    metrics_cache_s: float = 1.0  # scrapes closer together share one database snapshot


class RateLimiter:
    """A sliding window of mutating calls per caller."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute, self._clock = per_minute, clock
        self._calls: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, who: str) -> float | None:
        """None if the call may go on, else the seconds until it may."""
        now = self._clock()
        with self._lock:
            calls = self._calls.setdefault(who, deque())
            while calls and calls[0] <= now - 60.0:
                calls.popleft()
            if len(calls) >= self.per_minute:
                return max(0.0, calls[0] + 60.0 - now)
            calls.append(now)
            return None


class NoRunner(Exception):
    """A control call with no runner up to apply it (answers 409)."""


@dataclass
class ApiContext:
    db: Database
    tokens: Tokens
    settings: ApiSettings = field(default_factory=ApiSettings)
    runtime: Any = None  # the runner of this process (genebot run), if any
    launcher: Any = None  # starts deployments in their own process (genebot serve)
    redactor: SecretRedactor = field(default_factory=SecretRedactor)
    started: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        self.redactor.add(self.tokens.secrets())
        self.limiter = RateLimiter(self.settings.rate_limit_per_minute)
        self.cache = TtlCache()  # hot read-only answers (the grid, /metrics)
        self._runners: dict[str, tuple[float, bool]] = {}  # scope: (when looked, held)
        self._runner_lock = threading.Lock()

    def runner_up(self) -> bool:
        """Whether any runner trades on this database now (ours, or another process's)."""
        if self.runtime is not None:
            return True
        return self._cached(ANY, self._any_runner)

    def _any_runner(self) -> bool:
        if held(self.db, DATABASE):
            return True
        running = [d for d in DeploymentRepository(self.db).recent() if d.status == "running"]
        return any(held(self.db, scope_of(d.mode, d.name)) for d in running)

    def runner_for(self, row: Deployment) -> bool:
        """Whether a runner holds this deployment's lock now (live: the database's)."""
        return self._held(scope_of(row.mode, row.name))

    def _held(self, scope: str) -> bool:
        return self._cached(scope, lambda: held(self.db, scope))

    def _cached(self, key: str, look: Callable[[], bool]) -> bool:
        """``look()``, asked again at most every RUNNER_CACHE_S (each API call asks)."""
        now = time.monotonic()
        with self._runner_lock:
            when, up = self._runners.get(key, (-1e18, False))
            if now - when >= RUNNER_CACHE_S:
                up = look()
                self._runners[key] = (now, up)
            return up

    def need_runner(self) -> None:
        if not self.runner_up():
            raise NoRunner(
                "no runner: no `genebot run` process is trading on this database, so there is "
                "nothing to control (start one, or deploy from the dashboard)"
            )

    def journal(
        self,
        who: str,
        action: str,
        subject: str,
        detail: Mapping[str, object],
        deployment_id: str | None = None,
    ) -> None:
        """An API action (``api.<action>``), who did it and why, in the append-only journal."""
        with self.db.session() as session:
            session.add(
                JournalEntry(
                    deployment_id=deployment_id,
                    recorded_at=datetime.now(UTC),
                    ts_event=time.time_ns(),
                    kind=f"api.{action}",
                    actor=f"operator:{who}",
                    subject=subject[:128],
                    payload=to_json(dict(detail)),
                )
            )


def get_ctx(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


Ctx = Annotated[ApiContext, Depends(get_ctx)]


BEARER = HTTPBearer(auto_error=False, description="GENEBOT_API_ADMIN_TOKEN or _VIEWER_TOKEN")


def viewer(
    ctx: Ctx, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]
) -> Caller:
    token = credentials.credentials if credentials is not None else ""
    who = ctx.tokens.identify(token.strip()) if token else None
    if who is None:
        raise HTTPException(401, "a valid bearer token is needed", {"WWW-Authenticate": "Bearer"})
    return who


def admin(ctx: Ctx, who: Annotated[Caller, Depends(viewer)]) -> Caller:
    if not who.may("admin"):
        raise HTTPException(403, "this needs the admin role")
    wait = ctx.limiter.allow(who.name)
    if wait is not None:
        raise HTTPException(
            429,
            f"rate limit: at most {ctx.settings.rate_limit_per_minute} changes a minute",
            {"Retry-After": str(int(wait) + 1)},
        )
    return who


Viewer = Annotated[Caller, Depends(viewer)]
Admin = Annotated[Caller, Depends(admin)]
