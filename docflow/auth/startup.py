"""What an API process or `docflow serve` checks about credentials as it starts."""

from __future__ import annotations

import logging

from sqlalchemy import select

from docflow.auth.tokens import ensure_bootstrap_token, is_live
from docflow.config import AuthMode, OidcUsers, Settings
from docflow.store.auth import ApiToken, User
from docflow.store.db import Database

log = logging.getLogger(__name__)

HOW_TO_CREATE = ("Create an admin token with\n"
                 "    docflow token create --scope admin --name admin\n"
                 "(with the same --data-dir or DOCFLOW_DATABASE_URL as the server) and send it as "
                 "`Authorization: Bearer TOKEN`; or set DOCFLOW_BOOTSTRAP_TOKEN to a secret of "
                 "32+ characters (`openssl rand -hex 32`); or create a user for the web app with "
                 "`docflow user create NAME --scope admin`.")


def has_credentials(db: Database, settings: Settings) -> bool:
    """Whether any live token or any user exists, or the OpenID provider makes users: someone
    can get in."""
    if settings.oidc_enabled and settings.oidc_users == OidcUsers.CREATE:
        return True
    with db.read() as session:
        if session.scalar(select(User.id).limit(1)) is not None:
            return True
        tokens = session.scalars(select(ApiToken).where(ApiToken.revoked_at.is_(None)))
        return any(is_live(t) for t in tokens)


def check_credentials_at_start(db: Database, settings: Settings) -> None:
    """Make sure of the bootstrap token; say so loudly when nobody could get in."""
    from docflow.auth.modes import credentials_required, is_loopback

    if settings.auth == AuthMode.OFF and not is_loopback(settings.listen_host):
        log.warning("DOCFLOW_AUTH=off while listening on %s: anyone who reaches it can read, "
                    "change and delete every document", settings.listen_host)
    if settings.bootstrap_token is not None:
        ensure_bootstrap_token(db, settings.bootstrap_token.get_secret_value())
    if credentials_required(settings) and not has_credentials(db, settings):
        log.error("credentials are required (DOCFLOW_AUTH=%s, listening on %s) but no token or "
                  "user exists, so every request will be refused. %s", settings.auth.value,
                  settings.listen_host, HOW_TO_CREATE)
