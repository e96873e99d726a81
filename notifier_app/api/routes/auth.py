"""Sign up, log in, log out: JSON for programs, form posts (303 redirects) for the browser UI.

Passwords are hashed in a bounded pool (auth/hashing.py): when it is full, the JSON
endpoints answer 503 + Retry-After and the forms redirect back with `error=busy`. Logins
are throttled per account and client address (auth/throttle.py): 429 + Retry-After, and
the login form goes back with `error=throttled`.

The browser session is the JWT in an HttpOnly cookie, so only the server can set or clear
it: the UI's login and signup forms post here natively and are redirected back.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import ValidationError

from notifier_app.api.clients import client_address
from notifier_app.api.deps import CurrentUser, allowed_origins, origin_allowed
from notifier_app.auth import credentials, hashing
from notifier_app.auth.security import COOKIE_NAME, create_token
from notifier_app.auth.throttle import Throttled
from notifier_app.blog import services
from notifier_app.blog.schemas import LoginIn, SignupIn, UserPublic
from notifier_app.config import settings

router = APIRouter()
forms = APIRouter(include_in_schema=False)


def set_session_cookie(response: Response, token: str) -> None:
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=settings().token_ttl_seconds,
        httponly=True,
        samesite="lax",
        secure=settings().cookie_secure,
        path="/",
    )
    # A response carrying a session is never stored by a browser or a proxy cache.
    response.headers["Cache-Control"] = "no-store"


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="lax", secure=settings().cookie_secure)
    response.headers["Cache-Control"] = "no-store"


def _session(user: UserPublic, status: int) -> JSONResponse:
    token = create_token(user.id)
    response = JSONResponse({"user": user.model_dump(), "token": token}, status_code=status)
    set_session_cookie(response, token)
    return response


def busy(exc: hashing.Busy) -> JSONResponse:
    """The hashing pool and its queue are full (auth/hashing.py): nothing was done."""
    detail = "Too many logins and signups at once; nothing was done, retry later"
    return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": str(exc.retry_after)})


@router.post("/api/auth/signup", status_code=201, response_model=None, responses={409: {}, 503: {}})
async def signup(data: SignupIn) -> JSONResponse:
    try:
        user = await credentials.signup(data)
    except services.EmailTaken:
        return JSONResponse({"detail": "An account with this email already exists"}, status_code=409)
    except hashing.Busy as exc:
        return busy(exc)
    return _session(user, 201)


def throttled(exc: Throttled) -> JSONResponse:
    """Too many login attempts (auth/throttle.py): nothing was checked."""
    whose = {"pair": "for this account from your address", "account": "for this account", "address": "from your address"}
    detail = f"Too many login attempts {whose.get(exc.why, '')}; retry in {exc.retry_after} s"
    return JSONResponse({"detail": detail}, status_code=429, headers={"Retry-After": str(exc.retry_after)})


@router.post("/api/auth/login", response_model=None, responses={401: {}, 429: {}, 503: {}})
async def login(data: LoginIn, request: Request) -> JSONResponse:
    try:
        user = await credentials.login(data, client_address(request.scope))
    except services.BadCredentials:
        return JSONResponse({"detail": "Invalid email or password"}, status_code=401)
    except Throttled as exc:
        return throttled(exc)
    except hashing.Busy as exc:
        return busy(exc)
    return _session(user, 200)


@router.post("/api/auth/logout", status_code=204, responses={403: {}})
def logout(request: Request) -> Response:
    # The same Origin check as every cookie-borne write (api/deps.py): another site must
    # not log our users out.
    if request.cookies.get(COOKIE_NAME) and not origin_allowed(request):
        return JSONResponse({"detail": "Cross-origin request refused"}, status_code=403)
    response = Response(status_code=204)
    clear_session_cookie(response)
    return response


@router.get("/api/me", response_model=UserPublic)
async def me(user: CurrentUser) -> UserPublic:
    return user


# -- browser form posts --------------------------------------------------------------


def _frontend_base(request: Request) -> str:
    """Send the browser back where the form came from, if that is one of our origins."""
    from reflex.config import get_config

    origin = (request.headers.get("origin") or "").rstrip("/")
    if origin and origin in allowed_origins(request):
        return origin
    return (get_config().deploy_url or "").rstrip("/")


def _safe_next(value: str | None) -> str:
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def _cross_site(request: Request) -> RedirectResponse | None:
    """Form posts from other sites are refused (login CSRF: signing someone into our
    account, or out of theirs); they land back on our login page."""
    if origin_allowed(request):
        return None
    from reflex.config import get_config

    return RedirectResponse((get_config().deploy_url or "").rstrip("/") + "/login?error=origin", status_code=303)


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def _back(request: Request, path: str, **query: str) -> RedirectResponse:
    url = _frontend_base(request) + path
    if query:
        url += "?" + urlencode(query)
    return RedirectResponse(url, status_code=303)


@forms.post("/auth/login")
async def login_form(request: Request) -> RedirectResponse:
    if refused := _cross_site(request):
        return refused
    form = await _form(request)
    email = form.get("email", "")
    try:
        user = await credentials.login(LoginIn(email=email, password=form.get("password", "")), client_address(request.scope))
    except (ValidationError, services.BadCredentials):
        return _back(request, "/login", error="credentials", email=email[:320])
    except Throttled:
        return _back(request, "/login", error="throttled", email=email[:320])
    except hashing.Busy:
        return _back(request, "/login", error="busy", email=email[:320])
    response = _back(request, _safe_next(form.get("next")))
    set_session_cookie(response, create_token(user.id))
    return response


@forms.post("/auth/signup")
async def signup_form(request: Request) -> RedirectResponse:
    if refused := _cross_site(request):
        return refused
    form = await _form(request)
    email, nickname = form.get("email", ""), form.get("nickname", "")
    try:
        data = SignupIn(email=email, nickname=nickname, password=form.get("password", ""))
        user = await credentials.signup(data)
    except hashing.Busy:
        return _back(request, "/signup", error="busy", email=email[:320], nickname=nickname[:30])
    except ValidationError as exc:
        field = str(exc.errors()[0]["loc"][0]) if exc.errors() else "input"
        return _back(request, "/signup", error=field, email=email[:320], nickname=nickname[:30])
    except services.EmailTaken:
        return _back(request, "/signup", error="taken", email=email[:320], nickname=nickname[:30])
    response = _back(request, "/")
    set_session_cookie(response, create_token(user.id))
    return response


@forms.post("/auth/logout")
async def logout_form(request: Request) -> RedirectResponse:
    if refused := _cross_site(request):
        return refused
    response = _back(request, "/login")
    clear_session_cookie(response)
    return response
