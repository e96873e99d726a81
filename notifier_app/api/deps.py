"""Request dependencies: who is calling, and whether a cookie-borne request may act."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request

from notifier_app.api.faults import CALLER
from notifier_app.auth.accounts import accounts
from notifier_app.auth.security import COOKIE_NAME, InvalidToken, verify_token
from notifier_app.blog.schemas import UserPublic

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def allowed_origins(request: Request) -> set[str]:
    """The app's own origin plus the configured CORS origins."""
    from reflex.config import get_config

    config = get_config()
    origins = {o.rstrip("/") for o in config.cors_allowed_origins if o != "*"}
    for url in (config.deploy_url, config.api_url):
        if url:
            origins.add(url.rstrip("/"))
    host = request.headers.get("host")
    if host:
        origins.add(f"{request.url.scheme}://{host}")
    return origins


def origin_allowed(request: Request) -> bool:
    origin = request.headers.get("origin") or ""
    if not origin:
        referer = request.headers.get("referer")
        if not referer:
            return True  # not a browser form or fetch: no ambient-credential risk
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    return origin.rstrip("/") in allowed_origins(request)


def request_token(request: Request, *, allow_query: bool = False) -> tuple[str | None, bool]:
    """(token, came_from_cookie). Header first, then cookie, then ?token= if allowed."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), False
    if cookie := request.cookies.get(COOKIE_NAME):
        return cookie, True
    if allow_query and (query := request.query_params.get("token")):
        return query, False
    return None, False


async def authenticate(request: Request, *, allow_query: bool = False, fresh: bool = False) -> UserPublic:
    """The caller, or 401/403. `fresh` reads the account from the database; otherwise a
    lookup from the last few seconds will do (auth/accounts.py)."""
    user, _expires_at = await authenticate_until(request, allow_query=allow_query, fresh=fresh)
    return user


async def authenticate_until(
    request: Request, *, allow_query: bool = False, fresh: bool = False
) -> tuple[UserPublic, float]:
    """`authenticate`, and when the caller's token expires (Unix time)."""
    token, from_cookie = request_token(request, allow_query=allow_query)
    try:
        user_id, expires_at = verify_token(token)
    except InvalidToken:
        raise HTTPException(401, "Not authenticated: a valid token is required", {"WWW-Authenticate": "Bearer"}) from None
    user = await accounts.get(user_id, fresh=fresh)
    if user is None:
        raise HTTPException(401, "Not authenticated: the account no longer exists")
    if from_cookie and request.method in UNSAFE_METHODS and not origin_allowed(request):
        raise HTTPException(403, "Cross-origin request refused")
    request.scope[CALLER] = user.id  # a write refused because the account is gone is a 401 (api/faults.py)
    return user, expires_at


async def current_user(request: Request) -> UserPublic:
    return await authenticate(request)


CurrentUser = Annotated[UserPublic, Depends(current_user)]
