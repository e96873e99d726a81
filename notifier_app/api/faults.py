"""What a fault is answered: fast, in JSON, and never a 500 for something the client or an
operator can fix.

- The database is locked (SQLite: another connection holds the write lock), unreachable
  (PostgreSQL down, the pool exhausted) or otherwise refuses to work: `503` with
  `Retry-After` and a JSON detail. Every wait behind it is bounded by
  NOTIFIER_DB_TIMEOUT_SECONDS (db.py), so the answer comes within seconds, not after
  SQLite's old 30 s busy timeout; nothing was written (the transaction failed).
- A write refused because the caller's account is gone (deleted while its token lives,
  and still remembered by auth/accounts.py for a few seconds): the service says so
  (`services.UnknownAuthor`) or a foreign key does (IntegrityError). `401`, as any request
  of that token gets from then on: the account is forgotten here.
- Anything else unexpected: a JSON 500, logged with its traceback.

`fault_response` serves the FastAPI app's handler and the hot paths (api/hot_paths.py),
which answer outside the framework stacks.
"""

from __future__ import annotations

import logging

from sqlalchemy import exc as sa_exc
from starlette.requests import Request
from starlette.responses import JSONResponse

log = logging.getLogger("notifier.faults")

# Who the request authenticated as (api/deps.py), in its ASGI scope: the fault handler
# sees the scope, not the endpoint's locals.
CALLER = "notifier.caller_id"
DATABASE_RETRY_AFTER_SECONDS = 3
DATABASE_UNAVAILABLE = "The database is busy or unreachable; nothing was changed, retry later"
ACCOUNT_GONE = "Not authenticated: the account no longer exists"


def database_unavailable(exc: BaseException) -> bool:
    """A fault of the database rather than of the request: locked, unreachable, timed out."""
    if isinstance(exc, (sa_exc.OperationalError, sa_exc.TimeoutError, sa_exc.InterfaceError)):
        return True
    return isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated


def unavailable_response() -> JSONResponse:
    return JSONResponse(
        {"detail": DATABASE_UNAVAILABLE}, status_code=503, headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)}
    )


def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "Internal server error"}, status_code=500)


async def fault_response(request: Request, exc: Exception) -> JSONResponse:
    """The answer to an exception an endpoint raised (see the module's docstring)."""
    if database_unavailable(exc):
        # One line, no traceback: the operator needs to know it happens, not where.
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, _first_line(exc))
        return unavailable_response()
    from notifier_app.blog.services import UnknownAuthor

    if isinstance(exc, UnknownAuthor) or (isinstance(exc, sa_exc.IntegrityError) and await _caller_is_gone(request)):
        from notifier_app.auth.accounts import accounts

        if (user_id := request.scope.get(CALLER)) is not None:
            accounts.forget(user_id)
        return JSONResponse({"detail": ACCOUNT_GONE}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
    return unexpected_error(request, exc)


async def _caller_is_gone(request: Request) -> bool:
    """Whether the request's caller has no account (any more): the cause of a foreign-key
    failure on a write made for them, or not."""
    user_id = request.scope.get(CALLER)
    if user_id is None:
        return False
    from notifier_app.auth.accounts import accounts

    try:
        return await accounts.get(user_id, fresh=True) is None
    except sa_exc.SQLAlchemyError:
        return False


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.splitlines()[0][:200] if text else type(exc).__name__
