"""`create_app(settings, agent)`: the FastAPI application. Nothing is built at import time."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from ..accounts.service import AccountService
from ..accounts.staff import StaffLogins
from ..agent.client import Agent, SocketAgent
from ..auth.sessions import (
    ACCESS_TTL,
    FAILURE_FLOOR_SECONDS,
    AuthService,
    ClientAddress,
    LoginThrottle,
    TokenSigner,
    load_secret,
)
from ..db.session import engine_for, init_db, make_sessionmaker
from ..settings import Settings
from ..web.app import install_web
from .context import ApiContext
from .errors import install_handlers
from .middleware import AuditMiddleware, BodyLimitMiddleware
from .routes import (
    admin_domains,
    admin_packages,
    admin_ssh,
    admin_system,
    admin_users,
    auth,
    ssl,
    user,
    user_cron,
    user_databases,
    user_files,
    user_hosting,
)
from .schemas import error_responses

DESCRIPTION = """\
The JoPanel REST API. Log in at `/api/auth/login` and send the access token as
`Authorization: Bearer …`. Admins see every account, resellers the accounts they own,
and a hosting account only itself (under `/api/user`). Errors are `{"detail", "code",
"field"}`; `GET /api/admin/users/{username}` returns an `ETag` that `PUT` takes back as
`If-Match`.
"""


def install_docs(app: FastAPI) -> None:
    """Swagger UI at /api/docs from the swagger-ui-bundle-v2 package (no CDN: hosting servers
    are often offline or firewalled)."""
    import swagger_ui_bundle

    app.mount(
        "/api/docs/static",
        StaticFiles(directory=swagger_ui_bundle.swagger_ui_path),
        name="docs-static",
    )

    @app.get("/api/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/api/openapi.json",
            title="JoPanel API",
            swagger_js_url="/api/docs/static/swagger-ui-bundle.js",
            swagger_css_url="/api/docs/static/swagger-ui.css",
            swagger_favicon_url="/api/docs/static/favicon-32x32.png",
        )


def create_app(
    settings: Settings,
    agent: Agent | None = None,
    *,
    engine: Engine | None = None,
    throttle: LoginThrottle | None = None,
    access_ttl: timedelta = ACCESS_TTL,
    failure_floor: float = FAILURE_FLOOR_SECONDS,
    migrate: bool = True,
) -> FastAPI:
    """Build the API for `settings`, talking to `agent` (default: the agent's socket)."""
    engine = engine or engine_for(settings)
    if migrate:
        init_db(settings, engine)
    sessions = make_sessionmaker(engine)
    agent = agent or SocketAgent(settings)
    accounts = AccountService(settings, agent, sessions)
    auth_service = AuthService(
        TokenSigner(load_secret(settings.secret_key_path), access_ttl),
        (throttle or LoginThrottle()).use(sessions),  # counted in the DB every worker shares
        accounts,
        failure_floor=failure_floor,
    )
    ctx = ApiContext(
        settings=settings,
        agent=agent,
        engine=engine,
        sessions=sessions,
        auth=auth_service,
        accounts=accounts,
        staff=StaffLogins(sessions, agent),
        client_address=ClientAddress(settings.trusted_proxies),
    )
    app = FastAPI(
        title="JoPanel",
        version="2",
        description=DESCRIPTION,
        docs_url=None,  # served below from files shipped in the package, no CDN
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.ctx = ctx
    install_docs(app)
    install_handlers(app)
    app.add_middleware(  # inside the audit: a refused body still gets its audit row
        BodyLimitMiddleware, limit=settings.max_body_bytes, upload_limit=settings.max_upload_bytes
    )
    app.add_middleware(AuditMiddleware, context=lambda: ctx)
    for module in (
        auth,
        admin_users,
        admin_packages,
        admin_system,
        admin_domains,
        admin_ssh,
        user,
        user_hosting,
        user_cron,
        user_databases,
        user_files,
        ssl,
    ):
        # Our 422 body everywhere, in place of FastAPI's default HTTPValidationError.
        app.include_router(module.router, responses=error_responses(422))
    install_web(app)  # the pages, on the same context and services
    return app
