"""The `sekisho` command: server and admin subcommands (client subcommands come with the client issue).

Imports of the server are lazy so that `sekisho --help` and the client commands stay fast.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any, NoReturn, TypeVar

import typer

T = TypeVar("T")

app = typer.Typer(
    name="sekisho",
    help="OAuth 2.0 authorization code + PKCE: server, resource server and client.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
user_app = typer.Typer(help="Manage users of this server.", no_args_is_help=True)
client_app = typer.Typer(help="Manage registered clients of this server.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage the keys that sign JWT access tokens.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(client_app, name="client")
app.add_typer(keys_app, name="keys")

DatabaseOption = Annotated[
    str, typer.Option("--database", envvar="SEKISHO_DATABASE", help="sqlite:///PATH or postgresql://…")
]


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"sekisho: {message}", err=True)
    raise typer.Exit(code)


def run(action: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run an async admin action; expected failures become one line on stderr and exit 1."""
    from sekisho.server.accounts import AccountError
    from sekisho.server.registry import RegistrationError
    from sekisho.server.settings import SettingsError

    try:
        return asyncio.run(action())
    except (AccountError, RegistrationError, SettingsError) as exc:
        fail(str(exc))
    except Exception as exc:  # a database that cannot be opened, a full disk, …
        if os.environ.get("SEKISHO_DEBUG"):
            raise
        fail(f"{type(exc).__name__}: {exc}".splitlines()[0])


def with_store(database: str, action: Callable[[Any], Awaitable[T]]) -> T:
    """Open the database (migrating it), run `action(store)`, close it; failures are reported as `run` does."""
    from sekisho.server.settings import check_database_url
    from sekisho.server.store.sql import SqlStore

    async def go() -> T:
        check_database_url(database)
        store = await SqlStore.open(database)
        try:
            return await action(store)
        finally:
            await store.close()

    return run(go)


@app.command()
def serve(
    host: Annotated[str, typer.Option(envvar="SEKISHO_HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="SEKISHO_PORT")] = 8000,
    issuer: Annotated[str | None, typer.Option(envvar="SEKISHO_ISSUER", help="default: http://HOST:PORT")] = None,
    database: DatabaseOption = "sqlite:///sekisho.db",
    workers: Annotated[int, typer.Option(envvar="SEKISHO_WORKERS")] = 1,
    allow_private_client_ids: Annotated[
        bool, typer.Option(envvar="SEKISHO_ALLOW_PRIVATE_CLIENT_IDS", help="development and tests only")
    ] = False,
    access_token_format: Annotated[str, typer.Option(envvar="SEKISHO_ACCESS_TOKEN_FORMAT")] = "opaque",
    demo: Annotated[bool, typer.Option(envvar="SEKISHO_DEMO", help="seed a demo user and app")] = False,
) -> None:
    """Run the authorization server (and the demo notes API)."""
    import logging

    import uvicorn

    from sekisho.server.settings import SettingsError, build_settings
    from sekisho.server.setup import prepare

    try:
        settings = build_settings(
            host=host,
            port=port,
            issuer=issuer,
            database=database,
            workers=workers,
            allow_private_client_ids=allow_private_client_ids,
            access_token_format=access_token_format,
            demo=demo,
        )
    except SettingsError as exc:
        fail(str(exc), 2)
    for line in run(lambda: prepare(settings)):
        typer.echo(line, err=True)
    if settings.allow_private_client_ids:
        typer.echo("warning: --allow-private-client-ids is on: for development and tests only", err=True)
    typer.echo(f"sekisho serving {settings.issuer} on http://{host}:{port} (database {database})", err=True)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config: dict[str, Any] = {"host": host, "port": port, "log_level": "info", "proxy_headers": False}
    if workers > 1:
        os.environ.update(
            SEKISHO_HOST=host,
            SEKISHO_PORT=str(port),
            SEKISHO_ISSUER=settings.issuer,
            SEKISHO_DATABASE=database,
            SEKISHO_ALLOW_PRIVATE_CLIENT_IDS="1" if allow_private_client_ids else "",
            SEKISHO_ACCESS_TOKEN_FORMAT=settings.access_token_format,
            SEKISHO_DEMO="1" if demo else "",
        )
        uvicorn.run("sekisho.server.web.app:create_app_from_environment", factory=True, workers=workers, **config)
        return
    from sekisho.server.web.app import create_app

    uvicorn.run(create_app(settings, migrate=False), **config)


@user_app.command("add")
def user_add(
    name: str,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="read the password from stdin")] = False,
    database: DatabaseOption = "sqlite:///sekisho.db",
) -> None:
    """Create a user (prompts twice for the password on a terminal)."""
    from sekisho.server.accounts import create_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        fail("no terminal to ask for a password: pipe it in with --password-stdin", 2)

    async def add(store: Any) -> None:
        await create_user(store, name, password, int(time.time()))

    with_store(database, add)
    typer.echo(f"created user {name}")


@user_app.command("list")
def user_list(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    database: DatabaseOption = "sqlite:///sekisho.db",
) -> None:
    """List users."""

    async def users(store: Any) -> list[Any]:
        return list(await store.list_users())

    found = with_store(database, users)
    if as_json:
        typer.echo(json.dumps([{"id": u.id, "username": u.username, "created_at": u.created_at} for u in found]))
        return
    for user in found:
        typer.echo(user.username)


@user_app.command("remove")
def user_remove(name: str, database: DatabaseOption = "sqlite:///sekisho.db") -> None:
    """Remove a user with their sessions, grants, tokens and notes."""

    async def remove(store: Any) -> bool:
        user = await store.find_user_by_name(name)
        return user is not None and bool(await store.remove_user(user.id))

    if not with_store(database, remove):
        fail(f"no user named {name!r}")
    typer.echo(f"removed user {name}")


@client_app.command("add")
def client_add(
    name: Annotated[str, typer.Option("--name", help="the app's name, shown on the consent page")],
    redirect_uri: Annotated[list[str] | None, typer.Option("--redirect-uri", help="repeat for more")] = None,
    public: Annotated[bool, typer.Option("--public", help="no secret (native apps, CLIs, SPAs)")] = False,
    scope: Annotated[str | None, typer.Option("--scope", help='allowed scopes, e.g. "read:account"')] = None,
    grant_type: Annotated[list[str] | None, typer.Option("--grant-type", help="repeat for more")] = None,
    resource_server: Annotated[
        bool, typer.Option("--resource-server", help="may introspect and revoke every client's tokens")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    database: DatabaseOption = "sqlite:///sekisho.db",
) -> None:
    """Register a client; prints its client_id and, for confidential clients, its secret (shown once)."""
    from sekisho.protocol.scopes import DEFAULT_SCOPES
    from sekisho.server.registry import register_client

    async def add(store: Any) -> tuple[Any, str | None]:
        return await register_client(
            store,
            name=name,
            redirect_uris=redirect_uri or [],
            public=public,
            scope=scope,
            grant_types=grant_type or [],
            known_scopes=DEFAULT_SCOPES,
            now=int(time.time()),
            resource_server=resource_server,
        )

    client, secret = with_store(database, add)
    if as_json:
        typer.echo(json.dumps({"client_id": client.client_id, "client_secret": secret}))
        return
    typer.echo(f"client_id: {client.client_id}")
    if secret:
        typer.echo(f"client_secret: {secret}")
        typer.echo("The secret is shown only now; store it safely.", err=True)


@client_app.command("list")
def client_list(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    database: DatabaseOption = "sqlite:///sekisho.db",
) -> None:
    """List registered clients."""

    async def clients(store: Any) -> list[Any]:
        return list(await store.list_clients())

    found = with_store(database, clients)
    rows = [
        {
            "client_id": c.client_id,
            "name": c.name,
            "public": c.is_public,
            "redirect_uris": list(c.redirect_uris),
            "grant_types": list(c.grant_types),
            "scope": " ".join(c.scopes) if c.scopes is not None else None,
            "resource_server": c.resource_server,
        }
        for c in found
    ]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for row in rows:
        kind = "public" if row["public"] else "resource server" if row["resource_server"] else "confidential"
        typer.echo(f"{row['client_id']}  {row['name']}  ({kind})  {' '.join(row['redirect_uris'])}")


@client_app.command("remove")
def client_remove(client_id: str, database: DatabaseOption = "sqlite:///sekisho.db") -> None:
    """Remove a client with its grants and tokens."""

    async def remove(store: Any) -> bool:
        return bool(await store.remove_client(client_id))

    if not with_store(database, remove):
        fail(f"no client {client_id!r}")
    typer.echo(f"removed client {client_id}")


@keys_app.command("rotate")
def keys_rotate(database: DatabaseOption = "sqlite:///sekisho.db") -> None:
    """Sign new JWT access tokens with a new key; the old key stays published until its tokens expire."""
    from sekisho.server.signing_keys import rotate

    async def new(store: Any) -> Any:
        return await rotate(store, int(time.time()))

    typer.echo(f"new signing key: {with_store(database, new).kid}")


@keys_app.command("list")
def keys_list(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    database: DatabaseOption = "sqlite:///sekisho.db",
) -> None:
    """List the signing keys, newest last (public parts only)."""

    async def keys(store: Any) -> list[Any]:
        return list(await store.list_signing_keys())

    rows = [
        {"kid": k.kid, "algorithm": k.algorithm, "created_at": k.created_at, "retired_at": k.retired_at}
        for k in with_store(database, keys)
    ]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for row in rows:
        status = "signing" if row["retired_at"] is None else "retired"
        typer.echo(f"{row['kid']}  {row['algorithm']}  {status}")


def main() -> None:
    app()
