"""`docflow token ...` and `docflow user ...`: credentials, made directly on the store (the data
dir, or DOCFLOW_DATABASE_URL) like the other commands. Each change writes an audit row."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Column, Table

from docflow.auth.scopes import MAX_EXPIRES_DAYS, Scope

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from docflow.store import Store

T = TypeVar("T")
console = Console()
token_app = typer.Typer(help="API tokens: `Authorization: Bearer TOKEN`.", no_args_is_help=True)
user_app = typer.Typer(help="Users who log in to the web app with a password.",
                       no_args_is_help=True)

DataDir = Annotated[Path | None, typer.Option(
    "--data-dir", help="The server's data dir (env DOCFLOW_DATA_DIR; default ./docflow-data); "
    "with DOCFLOW_DATABASE_URL set, that database.", show_default=False)]
ScopeOption = Annotated[Scope, typer.Option("--scope", help="read; upload (and read); admin "
                                            "(everything).")]
Tenant = Annotated[str | None, typer.Option(help="The tenant it acts for: its documents, "
                                            "batches and search (made with `docflow tenant "
                                            "create`; default: the default tenant).",
                                            show_default=False)]


def register(app: typer.Typer) -> None:
    app.add_typer(token_app, name="token")
    app.add_typer(user_app, name="user")


@contextmanager
def _store(data_dir: Path | None) -> Iterator[Store]:
    from docflow.config import Settings
    from docflow.store import open_store

    settings = Settings(data_dir=data_dir) if data_dir is not None else Settings()
    store = open_store(settings, migrate=True)
    try:
        yield store
    finally:
        store.db.dispose()


def _change(store: Store, action: str, target: str, do: Callable[[Session], T]) -> T:
    """Run `do` and write its audit row in the same transaction."""
    from docflow.auth.audit import Actor, record

    with store.db.write() as session:
        result = do(session)
        record(session, Actor(f"cli:{getpass.getuser()}", "cli"), action, target=target)
        return result


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


@token_app.command("create")
def token_create(
    scope: ScopeOption,
    tenant: Tenant = None,
    name: Annotated[str | None, typer.Option(help="A name to know it by (default: "
                                             "token-ID).", show_default=False)] = None,
    expires: Annotated[float | None, typer.Option(
        "--expires", min=0.001, max=MAX_EXPIRES_DAYS,
        help="Days until it stops working (default: never).",
        show_default=False)] = None,
    data_dir: DataDir = None,
) -> None:
    """Make a token. It is printed once, as the last line: keep it, it cannot be shown again."""
    from docflow.auth.tokens import TokenError, create_token
    from docflow.store.tenants import UnknownTenant

    with _store(data_dir) as store:
        try:
            made = _change(store, "token_create", name or "", lambda s: create_token(
                s, scope, name=name, tenant=tenant, expires_days=expires))
        except UnknownTenant as exc:
            console.print(f"[red]{exc}[/]", highlight=False)
            raise typer.Exit(2) from None
        except TokenError as exc:
            console.print(f"[red]{exc}[/]", highlight=False)
            raise typer.Exit(1) from None
    row = made.row
    console.print(f"token [bold]{row.name}[/] (id {row.id}), scope {row.scope}"
                  + (f", tenant {row.tenant}" if row.tenant else "")
                  + (f", expires {_when(row.expires_at)} UTC" if row.expires_at else "")
                  + ". Send it as `Authorization: Bearer TOKEN`; it is shown only now:",
                  highlight=False)
    typer.echo(made.token)


@token_app.command("list")
def token_list(data_dir: DataDir = None) -> None:
    """Every token, without its secret."""
    from docflow.auth.tokens import is_live, list_tokens

    with _store(data_dir) as store, store.db.read() as session:
        rows = list_tokens(session)
    table = Table(Column("id", no_wrap=True), Column("name", no_wrap=True),
                  Column("scope", no_wrap=True), Column("state", no_wrap=True), "tenant",
                  "created", "expires", "last used", title=f"{len(rows)} tokens (times in UTC)")
    for t in rows:
        state = ("revoked" if t.revoked_at else "live" if is_live(t) else "expired")
        table.add_row(t.id, t.name, t.scope, state, t.tenant or "", _when(t.created_at),
                      _when(t.expires_at) or "never", _when(t.last_used_at))
    console.print(table)


@token_app.command("revoke")
def token_revoke(id_or_name: Annotated[str, typer.Argument(help="The token's id or name "
                                                           "(docflow token list).")],
                 data_dir: DataDir = None) -> None:
    """Stop a token from working, at once, on every API process."""
    from docflow.auth.tokens import TokenError, revoke_token

    with _store(data_dir) as store:
        try:
            row = _change(store, "token_revoke", id_or_name,
                          lambda s: revoke_token(s, id_or_name))
        except TokenError as exc:
            console.print(f"[red]{exc}[/]", highlight=False)
            raise typer.Exit(1) from None
    console.print(f"revoked token {row.name} (id {row.id})", highlight=False)


@user_app.command("create")
def user_create(
    name: Annotated[str, typer.Argument(help="The user name to log in with.")],
    scope: ScopeOption,
    tenant: Tenant = None,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from the first line of standard input "
        "(else it is asked for).")] = False,
    data_dir: DataDir = None,
) -> None:
    """Make a user who logs in to the web app with a password."""
    from docflow.auth.users import UserError, create_user
    from docflow.store.tenants import UnknownTenant

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        console.print("[red]No terminal to ask the password on:[/] pass it on standard input "
                      "with --password-stdin.")
        raise typer.Exit(2)
    with _store(data_dir) as store:
        try:
            user = _change(store, "user_create", name,
                           lambda s: create_user(s, name, password, scope, tenant))
        except UnknownTenant as exc:
            console.print(f"[red]{exc}[/]", highlight=False)
            raise typer.Exit(2) from None
        except UserError as exc:
            console.print(f"[red]{exc}[/]", highlight=False)
            raise typer.Exit(1) from None
    console.print(f"user {user.name}: scope {user.scope}"
                  + (f", tenant {user.tenant}" if user.tenant else ""), highlight=False)


@user_app.command("list")
def user_list(data_dir: DataDir = None) -> None:
    """Every user (never their password)."""
    from docflow.auth.users import list_users

    with _store(data_dir) as store, store.db.read() as session:
        rows = list_users(session)
    table = Table(Column("name", no_wrap=True), "scope", "tenant", "created", "last login",
                  title=f"{len(rows)} users (times in UTC)")
    for u in rows:
        table.add_row(u.name, u.scope, u.tenant or "", _when(u.created_at),
                      _when(u.last_login_at))
    console.print(table)


@user_app.command("delete")
def user_delete(name: Annotated[str, typer.Argument(help="The user to remove.")],
                data_dir: DataDir = None) -> None:
    """Remove a user; their logins end at once."""
    from docflow.auth.users import UserError, delete_user

    with _store(data_dir) as store:
        try:
            _change(store, "user_delete", name, lambda s: delete_user(s, name))
        except UserError as exc:
            console.print(f"[red]{exc}[/]", highlight=False)
            raise typer.Exit(1) from None
    console.print(f"deleted user {name}", highlight=False)
