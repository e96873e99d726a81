"""Settings, read once from the environment. Every knob of the project is here."""

from __future__ import annotations

import dataclasses
import os
import secrets
from functools import cache
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
# Everything the app writes at run time in development lives in this hidden directory:
# the SQLite database (with its -wal and -shm files) and the generated JWT secret.
# `reflex run` restarts the backend when a file it watches changes, and it watches every
# entry of the project root except hidden directories (Reflex 0.10.1, get_reload_paths):
# nothing written under .data/ can restart it, whatever its name (issue 24).
DATA_DIR = PROJECT_DIR / ".data"
DEV_DATABASE = DATA_DIR / "notifier.db"
DEV_SECRET_FILE = DATA_DIR / "jwt-secret"


def dev_database_url() -> str:
    """The default database (rxconfig's db_url): SQLite in DATA_DIR, which is created here."""
    DATA_DIR.mkdir(exist_ok=True)
    return f"sqlite:///{DEV_DATABASE}"


class ConfigError(RuntimeError):
    """The environment does not describe a runnable configuration."""


def _int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def _float(name: str, default: float, minimum: float = 0.0) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


# How long a database request may wait for a lock or a connection before the request is
# answered 503 + Retry-After (api/faults.py) instead of holding a worker thread: SQLite's
# busy timeout (it was 30 s: a held write lock made every write a 30 s 500), PostgreSQL's
# connect_timeout and lock_timeout, and the connection pool's wait.
DEFAULT_DB_TIMEOUT_SECONDS = 2.5


def db_timeout_seconds() -> float:
    """NOTIFIER_DB_TIMEOUT_SECONDS: the longest wait for a database lock or connection."""
    return _float("NOTIFIER_DB_TIMEOUT_SECONDS", DEFAULT_DB_TIMEOUT_SECONDS, minimum=0.1)


DEFAULT_MAX_BODY_BYTES = 1024 * 1024


def max_body_bytes() -> int:
    """NOTIFIER_MAX_BODY_BYTES: the largest request body read (then 413, api/bodies.py)."""
    return _int("NOTIFIER_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, minimum=1024)


# Password hashing (auth/security.py, auth/hashing.py). argon2id at OWASP's m=19 MiB,
# t=2, p=1 profile: 33 ms per hash on this 2-core machine (argon2-cffi's default, 64 MiB,
# t=3, p=4, took 238 ms and 64 MiB each, and ran up to 40 at once: 2.4 GB).
DEFAULT_ARGON2_MEMORY_KIB = 19 * 1024
DEFAULT_ARGON2_TIME_COST = 2


def argon2_memory_kib() -> int:
    """NOTIFIER_ARGON2_MEMORY_KIB: memory per new hash (KiB); OWASP's floor is 19456 at t=2."""
    return _int("NOTIFIER_ARGON2_MEMORY_KIB", DEFAULT_ARGON2_MEMORY_KIB, minimum=8 * 1024)


def argon2_time_cost() -> int:
    """NOTIFIER_ARGON2_TIME_COST: passes over that memory per new hash."""
    return _int("NOTIFIER_ARGON2_TIME_COST", DEFAULT_ARGON2_TIME_COST, minimum=1)


def hash_workers() -> int:
    """NOTIFIER_HASH_WORKERS: password hashes run at once per process (default: one per core)."""
    return _int("NOTIFIER_HASH_WORKERS", os.cpu_count() or 1, minimum=1)


DEFAULT_HASH_QUEUE = 32


def hash_queue() -> int:
    """NOTIFIER_HASH_QUEUE: hashes that may wait for a worker; past that, 503 at once."""
    return _int("NOTIFIER_HASH_QUEUE", DEFAULT_HASH_QUEUE, minimum=0)


# Login throttling (auth/throttle.py): `limits` notation, several windows each; empty: none.
DEFAULT_LOGIN_LIMIT_PAIR = "5/minute;10/10 minutes;20/hour"
DEFAULT_LOGIN_LIMIT_ACCOUNT = "20/minute;100/hour"
DEFAULT_LOGIN_LIMIT_ADDRESS = "30/minute;200/hour"


def login_limits() -> tuple[str, str, str]:
    """NOTIFIER_LOGIN_LIMIT_PAIR, _ACCOUNT, _ADDRESS: login attempts per (account, address),
    per account (from addresses it was never logged in from), and failures per address."""
    from limits import parse_many

    values = []
    for name, default in (
        ("NOTIFIER_LOGIN_LIMIT_PAIR", DEFAULT_LOGIN_LIMIT_PAIR),
        ("NOTIFIER_LOGIN_LIMIT_ACCOUNT", DEFAULT_LOGIN_LIMIT_ACCOUNT),
        ("NOTIFIER_LOGIN_LIMIT_ADDRESS", DEFAULT_LOGIN_LIMIT_ADDRESS),
    ):
        value = os.environ.get(name, default).strip()
        if value:
            try:
                parse_many(value)
            except ValueError:
                raise ConfigError(f"{name} must be limits like '5/minute;20/hour', got {value!r}") from None
        values.append(value)
    return values[0], values[1], values[2]


def throttle_storage_url() -> str | None:
    """Where login counts are kept: Redis when REFLEX_REDIS_URL is set (shared by every
    worker), else in the process."""
    url = os.environ.get("REFLEX_REDIS_URL", "").strip()
    if url:
        return url
    try:
        from reflex.config import get_config

        return get_config().redis_url or None
    except Exception:  # noqa: BLE001 (no rxconfig: a script or a unit test)
        return None


def trusted_proxies() -> tuple:
    """NOTIFIER_TRUSTED_PROXIES: comma-separated addresses or networks (CIDR) of proxies
    whose X-Forwarded-For is believed; none by default (the peer is the client)."""
    import ipaddress

    networks = []
    for part in os.environ.get("NOTIFIER_TRUSTED_PROXIES", "").split(","):
        if part.strip():
            try:
                networks.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError:
                raise ConfigError(f"NOTIFIER_TRUSTED_PROXIES: {part.strip()!r} is no address or network") from None
    return tuple(networks)


def admin_emails() -> frozenset[str]:
    """NOTIFIER_ADMIN_EMAILS: comma-separated emails that are admins from signup on."""
    raw = os.environ.get("NOTIFIER_ADMIN_EMAILS", "")
    return frozenset(e.strip().lower() for e in raw.split(",") if e.strip())


def is_production() -> bool:
    """True when Reflex runs in prod mode (`reflex run --env prod`) or NOTIFIER_ENV=production."""
    if os.environ.get("NOTIFIER_ENV", "").lower() in {"prod", "production"}:
        return True
    return os.environ.get("REFLEX_ENV_MODE", "").lower() == "prod"


def _jwt_secret() -> str:
    secret = os.environ.get("NOTIFIER_JWT_SECRET", "")
    if secret:
        if len(secret) < 32:
            raise ConfigError("NOTIFIER_JWT_SECRET must be at least 32 characters")
        return secret
    if is_production():
        raise ConfigError("NOTIFIER_JWT_SECRET is required in production")
    # Development: generate once, keep it in a git-ignored file so sessions survive restarts.
    if DEV_SECRET_FILE.exists():
        return DEV_SECRET_FILE.read_text().strip()
    secret = secrets.token_urlsafe(48)
    DEV_SECRET_FILE.parent.mkdir(exist_ok=True)
    DEV_SECRET_FILE.write_text(secret + "\n")
    DEV_SECRET_FILE.chmod(0o600)
    return secret


# Stream capacity. Every open stream is one request the ASGI server is running; the
# server's own concurrency limit (granian's "backpressure") must stay above the stream cap
# by a margin, or streams starve every other request (see notifier_app/serving.py).
DEFAULT_MAX_STREAMS = 10_000
SERVER_HEADROOM = 2_048


def max_streams() -> int:
    """NOTIFIER_MAX_STREAMS: open streams per process before new ones get 503."""
    return _int("NOTIFIER_MAX_STREAMS", DEFAULT_MAX_STREAMS, minimum=1)


def server_backpressure() -> int:
    """NOTIFIER_SERVER_BACKPRESSURE: requests one worker runs at once (default: stream cap + headroom)."""
    value = _int("NOTIFIER_SERVER_BACKPRESSURE", max_streams() + SERVER_HEADROOM, minimum=1)
    if value < max_streams() + 64:
        raise ConfigError(
            f"NOTIFIER_SERVER_BACKPRESSURE={value} leaves no room above NOTIFIER_MAX_STREAMS={max_streams()}: "
            "streams would starve ordinary requests"
        )
    return value


SERVER_HTTP_MODES = ("1", "auto")


def server_http() -> str:
    """NOTIFIER_SERVER_HTTP: "1" (HTTP/1.1 only, the default) or "auto" (also cleartext HTTP/2)."""
    value = os.environ.get("NOTIFIER_SERVER_HTTP", "1").strip().lower() or "1"
    if value not in SERVER_HTTP_MODES:
        raise ConfigError(f"NOTIFIER_SERVER_HTTP must be one of {', '.join(SERVER_HTTP_MODES)}, got {value!r}")
    return value


def server_threads() -> int:
    """NOTIFIER_SERVER_THREADS: granian's I/O threads per worker (its runtime threads)."""
    return _int("NOTIFIER_SERVER_THREADS", 2, minimum=1)


SERVER_ACCESS_LOG = "NOTIFIER_SERVER_ACCESS_LOG"


def server_access_log() -> bool:
    """NOTIFIER_SERVER_ACCESS_LOG: granian's access log, "1" or "0" (the default, as Reflex runs it)."""
    value = os.environ.get(SERVER_ACCESS_LOG, "0").strip().lower() or "0"
    if value not in {"0", "1"}:
        raise ConfigError(f"{SERVER_ACCESS_LOG} must be 0 or 1, got {value!r}")
    return value == "1"


def server_backlog() -> int:
    """NOTIFIER_SERVER_BACKLOG: the listen queue, for bursts of new connections."""
    return _int("NOTIFIER_SERVER_BACKLOG", 4_096, minimum=128)


@dataclasses.dataclass(frozen=True)
class Settings:
    jwt_secret: str
    token_ttl_seconds: int
    cookie_secure: bool
    heartbeat_seconds: float
    retry_ms: int
    max_streams_per_user: int
    max_streams: int
    max_status_streams: int
    subscriber_queue_size: int
    retention_days: float
    toast_seconds: float


@cache
def settings() -> Settings:
    return Settings(
        jwt_secret=_jwt_secret(),
        token_ttl_seconds=_int("NOTIFIER_TOKEN_TTL_SECONDS", 7 * 24 * 3600, minimum=1),
        cookie_secure=os.environ.get("NOTIFIER_COOKIE_SECURE", "").lower() in {"1", "true", "yes"},
        heartbeat_seconds=_float("NOTIFIER_HEARTBEAT_SECONDS", 15.0, minimum=0.05),
        retry_ms=_int("NOTIFIER_RETRY_MS", 5000, minimum=0),
        max_streams_per_user=_int("NOTIFIER_MAX_STREAMS_PER_USER", 10, minimum=1),
        max_streams=max_streams(),
        max_status_streams=_int("NOTIFIER_MAX_STATUS_STREAMS", 100, minimum=1),
        subscriber_queue_size=_int("NOTIFIER_SUBSCRIBER_QUEUE", 256, minimum=1),
        retention_days=_float("NOTIFIER_RETENTION_DAYS", 7.0, minimum=0.0),
        toast_seconds=_float("NOTIFIER_TOAST_SECONDS", 8.0, minimum=0.1),
    )
