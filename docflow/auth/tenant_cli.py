"""`docflow tenant ...`: the tenants tokens and users act for, made directly on the store like
the other commands. Each change writes an audit row."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from docflow.auth.cli import DataDir, _change, _store, _when, console

tenant_app = typer.Typer(help="Tenants: each sees only its own documents, batches and search "
                         "hits.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(tenant_app, name="tenant")


@tenant_app.command("create")
def tenant_create(
    name: Annotated[str, typer.Argument(help="1 to 100 of a-z 0-9 . _ - (a letter or digit "
                                        "first).")],
    data_dir: DataDir = None,
) -> None:
    """Make a tenant; then `docflow token create --tenant NAME` makes a token acting for it."""
    from docflow.store.tenants import TenantError, create_tenant

    with _store(data_dir) as store:
        try:
            _change(store, "tenant_create", name, lambda s: create_tenant(s, name))
        except TenantError as exc:
            console.print(f"[red]{exc}[/]", highlight=False)
            raise typer.Exit(1) from None
    console.print(f"tenant [bold]{name}[/]", highlight=False)


@tenant_app.command("list")
def tenant_list(data_dir: DataDir = None) -> None:
    """Every tenant; "default" holds what tokens and users without a tenant store."""
    from docflow.store.tenants import list_tenants

    with _store(data_dir) as store, store.db.read() as session:
        rows = list_tenants(session)
        table = Table("name", "created")
        for t in rows:
            table.add_row(t.name, _when(t.created_at))
    console.print(table)
