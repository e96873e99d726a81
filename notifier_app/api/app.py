"""The FastAPI app: routers plus error handling that always answers JSON.

Mounted into Reflex with `rx.App(api_transformer=api)`; Reflex's own routes (/ping,
/_event websocket, the prod frontend) sit behind it.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from notifier_app.api.faults import fault_response, unexpected_error
from notifier_app.api.routes import auth, notifications, posts, publishing, streams
from notifier_app.blog import services

__all__ = ["create_api", "http_error", "unexpected_error"]


def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    # Echoing the input back would echo passwords: keep where and what only.
    errors = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", "invalid"), "type": e.get("type", "invalid")}
        for e in exc.errors()
    ]
    return JSONResponse({"detail": errors}, status_code=422)


def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))


def create_api() -> FastAPI:
    api = FastAPI(title="notifier", version="0.1.0", docs_url="/docs", redoc_url=None, openapi_url="/openapi.json")
    api.add_exception_handler(RequestValidationError, _validation_error)
    api.add_exception_handler(StarletteHTTPException, http_error)
    # A locked or unreachable database: 503 + Retry-After; a deleted caller: 401 (api/faults.py).
    api.add_exception_handler(SQLAlchemyError, fault_response)
    api.add_exception_handler(services.UnknownAuthor, fault_response)
    api.add_exception_handler(Exception, unexpected_error)
    for module in (auth, posts, notifications, streams, publishing):
        api.include_router(module.router)
    api.include_router(auth.forms)
    return api
