"""Exact JSON for every route: money leaves as JSON numbers written from the Decimal's own
text, never through a float (FastAPI's own encoder would turn a Decimal into a float or a
string). ``ExactRoute`` wraps each endpoint so what it returns is rendered by ``ExactJSON``."""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute

from genebot.core.exactjson import dumps_exact


def plain(value: Any) -> Any:
    """What JSON can hold: Decimals kept (written exactly), times as ISO text, NaN as null."""
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if value is None or isinstance(value, str | int | bool):
        return value
    if hasattr(value, "model_dump"):
        return plain(value.model_dump(mode="json"))
    return str(value)


class ExactJSON(JSONResponse):
    def render(self, content: object) -> bytes:
        return dumps_exact(plain(content)).encode()


def _exact(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(endpoint):

        @functools.wraps(endpoint)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            out = await endpoint(*args, **kwargs)
            return out if isinstance(out, Response) else ExactJSON(out)

        return run_async

    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        out = endpoint(*args, **kwargs)
        return out if isinstance(out, Response) else ExactJSON(out)

    return run


class ExactRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, _exact(endpoint), **kwargs)
