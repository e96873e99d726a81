"""Accounts and sessions over real HTTP: JSON endpoints, tokens, cookies and the browser forms."""

from __future__ import annotations

import base64
import json
import time
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from tests.api.helpers import assert_json_error, mint
from tests.support.client import signup
from tests.support.server import TEST_SECRET

PASSWORD = "password-123"


def unique_email(tag: str = "auth") -> str:
    return f"{tag}.{time.monotonic_ns()}@example.com"


def session_cookie(r: httpx.Response):
    """The access_token Set-Cookie of a response, parsed (None if there is none)."""
    for header in r.headers.get_list("set-cookie"):
        jar = SimpleCookie()
        jar.load(header)
        if "access_token" in jar:
            return jar["access_token"]
    return None


def assert_session_cookie(r: httpx.Response) -> str:
    morsel = session_cookie(r)
    assert morsel is not None, f"no access_token cookie in {r.headers.get_list('set-cookie')}"
    assert morsel.value, "the session cookie is empty"
    assert morsel["httponly"], "the session cookie must be HttpOnly"
    assert morsel["samesite"].lower() == "lax", morsel.OutputString()
    assert morsel["path"] == "/", morsel.OutputString()
    return morsel.value


def me(base_url: str, **kw) -> httpx.Response:
    return httpx.get(f"{base_url}/api/me", timeout=5, **kw)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}".strip()}


def cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"access_token={token}"}


# -- sign up -------------------------------------------------------------------------


def test_signup_returns_user_token_and_session_cookie(base_url):
    email = unique_email()
    r = httpx.post(f"{base_url}/api/auth/signup", json={"email": email, "nickname": "가입자", "password": PASSWORD})
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"user", "token"}
    assert set(body["user"]) == {"id", "email", "nickname", "role"}, "no password or hash may leak"
    assert isinstance(body["user"]["id"], int)
    assert body["user"]["email"] == email
    assert body["user"]["nickname"] == "가입자"
    assert assert_session_cookie(r) == body["token"]
    claims = jwt.decode(body["token"], TEST_SECRET, algorithms=["HS256"])
    assert claims["sub"] == str(body["user"]["id"])
    assert me(base_url, headers=bearer(body["token"])).json() == body["user"]


def test_signup_normalizes_email_and_refuses_duplicates(base_url):
    email = unique_email("Dup")
    first = httpx.post(f"{base_url}/api/auth/signup", json={"email": email, "nickname": "one", "password": PASSWORD})
    assert first.status_code == 201, first.text
    assert first.json()["user"]["email"] == email.lower()
    for again in (email, email.upper(), f"  {email.lower()} "):
        r = httpx.post(f"{base_url}/api/auth/signup", json={"email": again, "nickname": "two", "password": PASSWORD})
        if r.status_code == 422:  # surrounding spaces may be refused as an invalid address: fine too
            continue
        body = assert_json_error(r, 409)
        assert "exists" in body["detail"]
        assert session_cookie(r) is None


@pytest.mark.parametrize(
    "change",
    [
        {"email": "not-an-email"},
        {"email": ""},
        {"email": "a@"},
        {"nickname": ""},
        {"nickname": "   "},
        {"nickname": "n" * 31},
        {"password": "short77"},
        {"password": ""},
        {"password": "p" * 257},
    ],
    ids=lambda c: f"{next(iter(c))}={next(iter(c.values()))[:12]!r}",
)
def test_signup_rejects_invalid_input_with_422(base_url, change):
    data = {"email": unique_email(), "nickname": "valid", "password": PASSWORD, **change}
    r = httpx.post(f"{base_url}/api/auth/signup", json=data)
    body = assert_json_error(r, 422)
    field = next(iter(change))
    assert any(field in err["loc"] for err in body["detail"]), body
    assert PASSWORD not in r.text and "short77" not in r.text, "validation errors must not echo passwords"
    assert session_cookie(r) is None


def test_signup_accepts_boundary_lengths(base_url):
    data = {"email": unique_email(), "nickname": "n" * 30, "password": "p" * 8}
    r = httpx.post(f"{base_url}/api/auth/signup", json=data)
    assert r.status_code == 201, r.text
    assert r.json()["user"]["nickname"] == "n" * 30


# -- log in --------------------------------------------------------------------------


def test_login_returns_token_and_cookie(base_url):
    account = signup(base_url, "login-ok")
    r = httpx.post(f"{base_url}/api/auth/login", json={"email": account.email.upper(), "password": PASSWORD})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user"] == {"id": account.id, "email": account.email, "nickname": "login-ok", "role": "user"}
    assert assert_session_cookie(r) == body["token"]
    assert me(base_url, headers=bearer(body["token"])).json()["id"] == account.id


def test_wrong_password_and_unknown_email_look_the_same(base_url):
    account = signup(base_url, "login-bad")
    wrong = httpx.post(f"{base_url}/api/auth/login", json={"email": account.email, "password": "wrong-password"})
    unknown = httpx.post(f"{base_url}/api/auth/login", json={"email": unique_email("nobody"), "password": PASSWORD})
    assert_json_error(wrong, 401)
    assert_json_error(unknown, 401)
    assert wrong.json() == unknown.json(), "the answer must not reveal whether the email exists"
    assert session_cookie(wrong) is None and session_cookie(unknown) is None


@pytest.mark.parametrize("body", [{}, {"email": "a@example.com"}, {"email": "", "password": "x"}, {"email": 1, "password": 2}])
def test_login_rejects_malformed_input(base_url, body):
    assert_json_error(httpx.post(f"{base_url}/api/auth/login", json=body), 422)


# -- who am I ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def member(base_url):
    return signup(base_url, "member")


def test_me_with_bearer_header(base_url, member):
    r = me(base_url, headers=bearer(member.token))
    assert r.status_code == 200, r.text
    assert r.json() == {"id": member.id, "email": member.email, "nickname": member.nickname, "role": "user"}


def test_me_with_cookie(base_url, member):
    r = me(base_url, headers=cookie(member.token))
    assert r.status_code == 200, r.text
    assert r.json()["id"] == member.id


def test_me_without_credentials_is_401(base_url):
    body = assert_json_error(me(base_url), 401)
    assert "token" in body["detail"].lower()


def test_me_ignores_token_in_query(base_url, member):
    # ?token= is for EventSource streams only; elsewhere it would leak into logs and history.
    assert_json_error(me(base_url, params={"token": member.token}), 401)


def _tampered(token: str, new_sub: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = new_sub
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def _alg_none(sub) -> str:
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    now = int(time.time())
    claims = {"sub": str(sub), "iat": now, "exp": now + 3600}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{payload}."


BAD_TOKENS = {
    "expired": lambda m: mint(m.id, ttl=-30),
    "tampered": lambda m: _tampered(m.token, str(m.id + 1)),
    "alg-none": lambda m: _alg_none(m.id),
    "wrong-secret": lambda m: mint(m.id, secret="another-secret-" + "y" * 40),
    "hs512": lambda m: mint(m.id, algorithm="HS512"),
    "no-exp": lambda m: jwt.encode({"sub": str(m.id), "iat": int(time.time())}, TEST_SECRET, algorithm="HS256"),
    "non-numeric-sub": lambda m: mint("alice"),
    "unknown-user": lambda m: mint(10**9),
    "garbage": lambda m: "not.a.jwt",
    "empty": lambda m: "",
}


@pytest.mark.parametrize("kind", list(BAD_TOKENS))
@pytest.mark.parametrize("carrier", [bearer, cookie], ids=["bearer", "cookie"])
def test_me_rejects_bad_tokens(base_url, member, kind, carrier):
    r = me(base_url, headers=carrier(BAD_TOKENS[kind](member)))
    assert_json_error(r, 401)


def test_bad_bearer_header_does_not_fall_back_to_a_valid_cookie_silently(base_url, member):
    # A present-but-invalid Authorization header is what the caller meant: it must not pass.
    r = me(base_url, headers={**bearer(mint(member.id, ttl=-30)), **cookie(member.token)})
    assert_json_error(r, 401)


# -- log out -------------------------------------------------------------------------


def test_logout_clears_the_cookie(base_url, member):
    r = httpx.post(f"{base_url}/api/auth/logout", headers=cookie(member.token))
    assert r.status_code == 204, r.text
    assert r.content == b""
    morsel = session_cookie(r)
    assert morsel is not None, "logout must send a Set-Cookie that clears access_token"
    assert morsel.value == ""
    assert morsel["max-age"] == "0" or morsel["expires"], morsel.OutputString()
    assert morsel["path"] == "/"


# -- browser forms -------------------------------------------------------------------


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def form_post(base_url: str, path: str, data: dict, **kw) -> httpx.Response:
    return httpx.post(f"{base_url}{path}", data=data, follow_redirects=False, timeout=5, **kw)


def location(r: httpx.Response):
    assert r.status_code == 303, f"expected a 303 redirect, got {r.status_code}: {r.text[:300]}"
    return urlsplit(r.headers["location"])


def assert_same_site(base_url: str, url) -> None:
    assert f"{url.scheme}://{url.netloc}" in ("://", base_url), f"redirect left the site: {url.geturl()}"


@pytest.fixture(scope="module")
def form_user(base_url):
    return signup(base_url, "form-user")


def test_form_login_redirects_with_cookie(base_url, form_user):
    account = form_user
    r = form_post(base_url, "/auth/login", {"email": account.email, "password": PASSWORD, "next": "/posts/7"})
    url = location(r)
    assert_same_site(base_url, url)
    assert url.path == "/posts/7"
    token = assert_session_cookie(r)
    assert me(base_url, headers=cookie(token)).json()["id"] == account.id


@pytest.mark.parametrize(
    "data",
    [
        {"password": "wrong-password"},
        {"email": "nobody@example.com"},
        {"email": ""},
        {"password": ""},
    ],
    ids=["wrong-password", "unknown-email", "no-email", "no-password"],
)
def test_form_login_failure_redirects_back_with_error(base_url, form_user, data):
    account = form_user
    r = form_post(base_url, "/auth/login", {"email": account.email, "password": PASSWORD, **data})
    url = location(r)
    assert_same_site(base_url, url)
    assert url.path == "/login"
    assert parse_qs(url.query)["error"] == ["credentials"]
    assert "password" not in parse_qs(url.query), "the password must never travel in a URL"
    assert session_cookie(r) is None


@pytest.mark.parametrize(
    "next_url", ["http://evil.example/", "//evil.example/x", "https://evil.example", "/\\evil.example", "javascript:alert(1)", ""]
)
def test_form_login_does_not_follow_foreign_next(base_url, form_user, next_url):
    account = form_user
    r = form_post(base_url, "/auth/login", {"email": account.email, "password": PASSWORD, "next": next_url})
    url = location(r)
    assert_same_site(base_url, url)
    assert url.path == "/", f"next={next_url!r} redirected to {url.geturl()}"
    assert "evil" not in r.headers["location"]
    assert_session_cookie(r)


def test_form_login_with_explicit_content_type_header(base_url, form_user):
    account = form_user
    body = f"email={account.email}&password={PASSWORD}".replace("@", "%40")
    r = httpx.post(f"{base_url}/auth/login", content=body, headers=FORM, follow_redirects=False)
    assert location(r).path == "/"
    assert_session_cookie(r)


def test_form_signup_redirects_home_with_cookie(base_url):
    email = unique_email("form-signup")
    r = form_post(base_url, "/auth/signup", {"email": email, "nickname": "폼가입", "password": PASSWORD})
    url = location(r)
    assert_same_site(base_url, url)
    assert url.path == "/"
    token = assert_session_cookie(r)
    assert me(base_url, headers=cookie(token)).json()["email"] == email


def test_form_signup_failures_redirect_back_with_error(base_url):
    account = signup(base_url, "form-taken")
    taken = form_post(base_url, "/auth/signup", {"email": account.email, "nickname": "x", "password": PASSWORD})
    url = location(taken)
    assert url.path == "/signup"
    assert parse_qs(url.query)["error"] == ["taken"]
    assert session_cookie(taken) is None

    short = form_post(base_url, "/auth/signup", {"email": unique_email(), "nickname": "x", "password": "short"})
    url = location(short)
    assert url.path == "/signup"
    assert parse_qs(url.query)["error"] == ["password"]
    assert "short" not in short.headers["location"], "the password must never travel in a URL"
    assert session_cookie(short) is None


def test_form_logout_clears_cookie_and_redirects_to_login(base_url, member):
    r = form_post(base_url, "/auth/logout", {}, headers=cookie(member.token))
    assert location(r).path == "/login"
    morsel = session_cookie(r)
    assert morsel is not None and morsel.value == ""


# -- issue 21: responses with a session are not cached; logout checks the Origin ------


def test_responses_carrying_a_session_are_not_stored(base_url):
    account = signup(base_url, "no-store")
    answers = {
        "signup": httpx.post(f"{base_url}/api/auth/signup", json={"email": unique_email("ns"), "nickname": "n", "password": PASSWORD}),
        "login": httpx.post(f"{base_url}/api/auth/login", json={"email": account.email, "password": PASSWORD}),
        "form-login": form_post(base_url, "/auth/login", {"email": account.email, "password": PASSWORD}),
        "logout": httpx.post(f"{base_url}/api/auth/logout", headers=cookie(account.token)),
    }
    for name, r in answers.items():
        assert r.status_code in (200, 201, 204, 303), (name, r.status_code)
        assert r.headers.get("cache-control") == "no-store", (name, r.headers)


def test_api_logout_from_another_site_is_refused_and_keeps_the_cookie(base_url, member):
    r = httpx.post(f"{base_url}/api/auth/logout", headers={**cookie(member.token), "Origin": "http://evil.example"})
    assert_json_error(r, 403)
    assert session_cookie(r) is None
    ok = httpx.post(f"{base_url}/api/auth/logout", headers={**cookie(member.token), "Origin": base_url})
    assert ok.status_code == 204 and session_cookie(ok).value == ""
