"""Password hashing and access tokens."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from notifier_app.auth import security
from notifier_app.auth.security import (
    InvalidToken,
    create_token,
    decode_token,
    hash_password,
    token_from_cookie_header,
    verify_password,
    verify_token,
)
from notifier_app.config import ConfigError, settings

OTHER_SECRET = "another-secret-" + "y" * 40


# -- passwords ------------------------------------------------------------------------


def test_hash_and_verify_round_trip():
    hashed = hash_password("correct horse 비밀번호")
    assert hashed.startswith("$argon2")
    assert "correct horse" not in hashed
    assert verify_password(hashed, "correct horse 비밀번호")
    assert not verify_password(hashed, "correct horse 비밀번호!")
    assert not verify_password(hashed, "")


def test_hashes_are_salted():
    assert hash_password("same password") != hash_password("same password")


def test_verify_without_a_hash_or_with_a_broken_one_is_false():
    assert verify_password(None, "not-a-real-password") is False  # even the dummy's password
    assert verify_password("not a hash", "whatever") is False


# -- tokens ---------------------------------------------------------------------------


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_token_round_trip(jwt_secret):
    token = create_token(42)
    assert decode_token(token) == 42
    claims = jwt.decode(token, jwt_secret, algorithms=["HS256"])
    assert claims["sub"] == "42"
    assert claims["exp"] - claims["iat"] == 7 * 24 * 3600
    assert verify_token(token) == (42, claims["exp"])


def test_a_token_checked_once_is_not_decoded_again(monkeypatch):
    token = create_token(7)
    first = verify_token(token)
    decoded = []

    def refuse(*args, **kwargs):
        decoded.append(args)
        raise jwt.InvalidTokenError("checked in full")

    monkeypatch.setattr(security.jwt, "decode", refuse)
    assert verify_token(token) == first
    assert decoded == []
    with pytest.raises(InvalidToken):  # any other text is checked in full
        verify_token(token + "x")
    assert len(decoded) == 1


def test_a_remembered_token_is_refused_once_it_expires():
    token = create_token(7, ttl_seconds=60)
    expires_at = verify_token(token).expires_at
    assert verify_token(token, now=expires_at - 1).user_id == 7
    with pytest.raises(InvalidToken, match="expired"):
        verify_token(token, now=expires_at)


def test_a_new_secret_forgets_the_tokens_checked_with_the_old_one(monkeypatch):
    token = create_token(7)
    assert verify_token(token).user_id == 7
    monkeypatch.setenv("NOTIFIER_JWT_SECRET", OTHER_SECRET)
    settings.cache_clear()
    with pytest.raises(InvalidToken):
        verify_token(token)


def test_remembered_tokens_are_bounded_oldest_out_first():
    memo = security.VerifiedTokens(max_entries=2)
    for n in range(3):
        memo.add("s", f"t{n}", security.VerifiedToken(n, 0.0))
    assert [memo.get("s", f"t{n}") for n in range(3)] == [None, (1, 0.0), (2, 0.0)]
    assert memo.get("another secret", "t2") is None


def test_settings_read_the_secret_and_ttl_from_the_environment(monkeypatch, jwt_secret):
    assert settings().jwt_secret == jwt_secret
    monkeypatch.setenv("NOTIFIER_TOKEN_TTL_SECONDS", "60")
    settings.cache_clear()
    claims = claims_of(create_token(1, now=1_000_000))
    assert (claims["iat"], claims["exp"]) == (1_000_000, 1_000_060)


def test_a_short_secret_is_refused(monkeypatch):
    monkeypatch.setenv("NOTIFIER_JWT_SECRET", "short")
    settings.cache_clear()
    with pytest.raises(ConfigError):
        settings()


def test_expired_token_is_rejected():
    token = create_token(1, now=time.time() - 3600, ttl_seconds=60)
    with pytest.raises(InvalidToken):
        decode_token(token)


def test_token_issued_in_the_past_but_not_expired_is_accepted():
    assert decode_token(create_token(1, now=time.time() - 3600, ttl_seconds=7200)) == 1


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_tampered_payload_is_rejected():
    header, payload, signature = create_token(1).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "2"
    forged = ".".join([header, b64url(json.dumps(claims).encode()), signature])
    with pytest.raises(InvalidToken):
        decode_token(forged)


def test_tampered_signature_is_rejected():
    token = create_token(1)
    last = "A" if token[-1] != "A" else "B"
    with pytest.raises(InvalidToken):
        decode_token(token[:-1] + last)


def valid_claims(**overrides) -> dict:
    now = int(time.time())
    claims = {"sub": "1", "iat": now, "exp": now + 600}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def test_token_signed_with_another_secret_is_rejected():
    token = jwt.encode(valid_claims(), OTHER_SECRET, algorithm="HS256")
    with pytest.raises(InvalidToken):
        decode_token(token)


def test_token_with_alg_none_is_rejected():
    token = jwt.encode(valid_claims(), None, algorithm="none")
    assert jwt.get_unverified_header(token)["alg"] == "none"
    with pytest.raises(InvalidToken):
        decode_token(token)


@pytest.mark.filterwarnings("ignore:The HMAC key")
def test_token_with_another_algorithm_is_rejected(jwt_secret):
    token = jwt.encode(valid_claims(), jwt_secret, algorithm="HS512")
    with pytest.raises(InvalidToken):
        decode_token(token)


def test_well_signed_control_token_is_accepted(jwt_secret):
    # The same construction as the rejections below, with every claim: accepted.
    assert decode_token(jwt.encode(valid_claims(sub="5"), jwt_secret, algorithm="HS256")) == 5


@pytest.mark.parametrize("missing", ["sub", "exp", "iat"])
def test_token_missing_a_required_claim_is_rejected(jwt_secret, missing):
    token = jwt.encode(valid_claims(**{missing: None}), jwt_secret, algorithm="HS256")
    assert missing not in claims_of(token)
    with pytest.raises(InvalidToken):
        decode_token(token)


@pytest.mark.parametrize(
    "sub", ["abc", "", "1.5", str(2**70), str(2**31), "-1", "0", "05", " 5", "5 ", "5_0", "５", "1e3", "5\n", 5]
)
def test_token_whose_sub_is_not_a_user_id_is_rejected(jwt_secret, sub):
    token = jwt.encode(valid_claims(sub=sub), jwt_secret, algorithm="HS256")
    with pytest.raises(InvalidToken):
        decode_token(token)


@pytest.mark.parametrize("token", [None, "", "garbage", "a.b.c", "a.b", "...."])
def test_missing_or_malformed_token_is_rejected(token):
    with pytest.raises(InvalidToken):
        decode_token(token)


def test_a_changed_secret_invalidates_old_tokens(monkeypatch):
    token = create_token(1)
    monkeypatch.setenv("NOTIFIER_JWT_SECRET", OTHER_SECRET)
    settings.cache_clear()
    with pytest.raises(InvalidToken):
        decode_token(token)


# -- cookies --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header, expected",
    [
        ("access_token=abc.def.ghi", "abc.def.ghi"),
        ("theme=dark; access_token=abc.def.ghi; lang=ko", "abc.def.ghi"),
        ("theme=dark;access_token=tok", "tok"),
        ('access_token="quoted"', "quoted"),
        ("access_token=tok;", "tok"),
        # Other apps' cookies that http.cookies.SimpleCookie chokes on must not hide ours.
        ('prefs={"a":1,"b":2}; access_token=tok', "tok"),
        ("ga=GA1.1 x; access_token=tok", "tok"),
        ("a b c=d; access_token=tok", "tok"),
        ("x=a\\b; access_token=tok", "tok"),
        (";;;access_token=tok", "tok"),
        (None, None),
        ("", None),
        ("theme=dark", None),
        ("access_token=", None),
        ("access_token", None),
        ("my_access_token=tok", None),
        ("garbage", None),
        ("\x00\x01;;==;", None),
        ("=;=;=", None),
    ],
)
def test_token_from_cookie_header(header, expected):
    assert token_from_cookie_header(header) == expected


def test_cookie_name():
    assert security.COOKIE_NAME == "access_token"
