"""The `sekisho` command: server and admin subcommands, and the client's (login, post, token, …).

Imports are lazy so that `sekisho --help` and the client commands stay fast (and never load the server).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AbstractContextManager
from functools import partial
from inspect import Parameter, Signature
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
registration_app = typer.Typer(
    help="Initial access tokens for dynamic client registration (serve --registration token).", no_args_is_help=True
)
app.add_typer(user_app, name="user")
app.add_typer(client_app, name="client")
app.add_typer(keys_app, name="keys")
app.add_typer(registration_app, name="registration-token")

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


def serve(**given: Any) -> None:
    """Run the authorization server (and, with --demo-api or --demo, the demo notes APIs)."""
    import logging
    import logging.config

    import uvicorn

    from sekisho.server import events
    from sekisho.server.settings import SettingsError, build_settings, to_environment
    from sekisho.server.setup import prepare

    try:
        settings = build_settings(**given)
    except SettingsError as exc:
        fail(str(exc), 2)
    log_config = events.log_config(settings.log_format, access_log=settings.access_log)
    logging.config.dictConfig(log_config)
    if settings.log_format == "json":
        say: Callable[[str], None] = logging.getLogger("sekisho").info  # every line of stderr is a JSON object
    else:
        say = partial(typer.echo, err=True)
    host, port = settings.host, settings.port
    lines = run(lambda: prepare(settings))
    bound = f"http://{host}:{port}"
    where = settings.issuer if settings.issuer == bound else f"{settings.issuer} on {bound}"
    say(f"sekisho serving {where} (database {settings.database})")
    if settings.allow_private_client_ids:
        say("warning: --allow-private-client-ids is on: for development and tests only")
    if settings.demo:
        command = os.environ.get("SEKISHO_COMMAND", "sekisho")  # scripts/serve names its wrapper, scripts/sekisho
        lines.insert(-1, f'  From a bot  {command} login {settings.issuer}  then  {command} post "hello"')
    for line in lines:
        if line.strip() or settings.log_format == "text":  # blank lines set the block apart on a terminal only
            say(line.strip() if settings.log_format == "json" else line)
    config: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "info",
        "log_config": log_config,
        "proxy_headers": False,
        "http": "httptools",
        "access_log": settings.access_log and settings.log_format == "text",  # json: sekisho's own request lines
    }
    if settings.workers > 1:
        os.environ.update(to_environment(settings))
        factory = "sekisho.app:create_app_from_environment"
        uvicorn.run(factory, factory=True, workers=settings.workers, **config)
        return
    from sekisho.app import create_app
    from sekisho.server.web.app import settle_for_serving

    app = create_app(settings, migrate=False)
    settle_for_serving()
    uvicorn.run(app, **config)


def _serve_parameters() -> list[Parameter]:
    """serve's typer parameters, one per declared setting (sekisho.server.settings.options)."""
    from sekisho.server.settings import options

    parameters = []
    for option in options():
        kind = list[str] | None if option.kind is list else option.kind
        declarations = [option.flag] if option.flag else []
        info = typer.Option(*declarations, envvar=option.env, help=option.help)
        annotation = Annotated[kind, info]  # type: ignore[valid-type]  # a type made at run time, for typer
        parameters.append(Parameter(option.name, Parameter.KEYWORD_ONLY, default=option.default, annotation=annotation))
    return parameters


serve.__signature__ = Signature(_serve_parameters(), return_annotation=None)  # type: ignore[attr-defined]
serve.__annotations__ = {parameter.name: parameter.annotation for parameter in _serve_parameters()}
app.command()(serve)


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
        return list(await store.users.all())

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
        user = await store.users.find_by_name(name)
        return user is not None and bool(await store.users.remove(user.id))

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
    resource: Annotated[
        list[str] | None,
        typer.Option("--resource", help="a resource server's URI it may ask tokens for (RFC 8707); repeat for more"),
    ] = None,
    require_par: Annotated[
        bool, typer.Option("--require-par", help="its authorization requests must be pushed first (RFC 9126)")
    ] = False,
    require_dpop: Annotated[
        bool, typer.Option("--require-dpop", help="every token request must carry a DPoP proof (RFC 9449)")
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
            resources=resource or [],
            require_par=require_par,
            require_dpop=require_dpop,
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
        return list(await store.clients.all())

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
            "dynamic": c.dynamic,
            "created_at": c.created_at,
            "resources": list(c.resources),
            "require_par": c.require_par,
            "require_dpop": c.require_dpop,
        }
        for c in found
    ]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for row in rows:
        kind = "public" if row["public"] else "resource server" if row["resource_server"] else "confidential"
        kind += ", dynamic" if row["dynamic"] else ""
        typer.echo(f"{row['client_id']}  {row['name']}  ({kind})  {' '.join(row['redirect_uris'])}")


@client_app.command("remove")
def client_remove(client_id: str, database: DatabaseOption = "sqlite:///sekisho.db") -> None:
    """Remove a client with its grants and tokens."""

    async def remove(store: Any) -> bool:
        return bool(await store.clients.remove(client_id))

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
        return list(await store.keys.list_signing_keys())

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


@registration_app.command("add")
def registration_token_add(
    expires_in: Annotated[
        int, typer.Option("--expires-in", min=0, help="seconds the token is good for; 0: no expiry")
    ] = 24 * 3600,
    uses: Annotated[int, typer.Option("--uses", min=0, help="registrations it allows; 0: any number")] = 1,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    database: DatabaseOption = "sqlite:///sekisho.db",
) -> None:
    """Make an initial access token (shown once; stored as a digest) for `serve --registration token`."""
    from sekisho.server.registration import add_initial_token

    now = int(time.time())

    async def add(store: Any) -> str:
        return await add_initial_token(store, now, expires_in=expires_in or None, uses=uses or None)

    from sekisho.server.registration import token_id

    token = with_store(database, add)
    expires_at = now + expires_in if expires_in else None
    if as_json:
        made = {"token": token, "id": token_id(token), "expires_at": expires_at, "uses": uses or None}
        typer.echo(json.dumps(made))
        return
    typer.echo(token)
    until = f"for {expires_in} seconds" if expires_in else "with no expiry"
    count = f"{uses} registration{'s' if uses != 1 else ''}" if uses else "any number of registrations"
    typer.echo(f"Send it as `Authorization: Bearer` to /oauth/register: good {until}, for {count}.", err=True)
    typer.echo(f"It is shown only now; its id is {token_id(token)} (registration-token remove ID).", err=True)


@registration_app.command("list")
def registration_token_list(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    database: DatabaseOption = "sqlite:///sekisho.db",
) -> None:
    """List initial access tokens by id (the tokens themselves are not kept)."""

    async def tokens(store: Any) -> list[Any]:
        return list(await store.registrations.tokens())

    rows = [
        {"id": t.digest[:12], "created_at": t.created_at, "expires_at": t.expires_at, "uses_left": t.uses_left}
        for t in with_store(database, tokens)
    ]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for row in rows:
        uses = "any number" if row["uses_left"] is None else row["uses_left"]
        expires = "never" if row["expires_at"] is None else row["expires_at"]
        typer.echo(f"{row['id']}  uses left: {uses}  expires: {expires}")


@registration_app.command("remove")
def registration_token_remove(token_id: str, database: DatabaseOption = "sqlite:///sekisho.db") -> None:
    """Withdraw an initial access token by its id (from `add` or `list`)."""

    async def remove(store: Any) -> bool:
        found = [t for t in await store.registrations.tokens() if t.digest[:12] == token_id]
        return len(found) == 1 and bool(await store.registrations.remove_token(found[0].digest))

    if not with_store(database, remove):
        fail(f"no initial access token {token_id!r}")
    typer.echo(f"removed initial access token {token_id}")


@app.command("purge")
def purge_command(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    registration_purge_after: Annotated[
        int,
        typer.Option(
            "--registration-purge-after",
            min=1,
            envvar="SEKISHO_REGISTRATION_PURGE_AFTER",
            help="seconds after which a dynamically registered client with no grant left is deleted",
        ),
    ] = 24 * 3600,
    database: DatabaseOption = "sqlite:///sekisho.db",
) -> None:
    """Delete expired codes, tokens, sessions and cached client pages now (the server also does it every 10 min)."""
    from sekisho.server.purge import purge

    async def run_purge(store: Any) -> dict[str, int]:
        return await purge(store, int(time.time()), dynamic_clients=registration_purge_after)

    removed = with_store(database, run_purge)
    if as_json:
        typer.echo(json.dumps(removed))
        return
    typer.echo(f"purged {sum(removed.values())} rows: " + ", ".join(f"{n} {table}" for table, n in removed.items()))


# ---------------------------------------------------------------- client side: log in somewhere, then post

AccountOption = Annotated[str | None, typer.Option("--account", help="which saved login (default: the only one)")]


def run_client(action: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a client action; expected failures become one line on stderr and exit 1."""
    from sekisho.client.errors import ClientError

    try:
        return asyncio.run(action())
    except ClientError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        fail("interrupted", 130)


def _store() -> Any:
    from sekisho.client.token_store import TokenStore

    return TokenStore()


@app.command()
def login(
    server: Annotated[
        str | None, typer.Argument(help="issuer URL or host name; for --provider x, a stand-in (default: X itself)")
    ] = None,
    provider: Annotated[str, typer.Option("--provider", help="sekisho, misskey or x")] = "sekisho",
    client_id: Annotated[str | None, typer.Option("--client-id", help="a registered app's id")] = None,
    client_secret: Annotated[
        str | None, typer.Option("--client-secret", envvar="SEKISHO_CLIENT_SECRET", help="for a confidential app")
    ] = None,
    scope: Annotated[str | None, typer.Option("--scope", help='e.g. "read:account write:notes"')] = None,
    port: Annotated[int, typer.Option("--port", help="loopback port for the redirect (0: any free one)")] = 0,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="print the URL instead of opening it")] = False,
    account: AccountOption = None,
    timeout: Annotated[float, typer.Option("--timeout", help="seconds to wait for the browser")] = 300.0,
    authorize_url: Annotated[str | None, typer.Option("--authorize-url", help="override (X, for tests)")] = None,
    token_url: Annotated[str | None, typer.Option("--token-url", help="override (X, for tests)")] = None,
    api_url: Annotated[str | None, typer.Option("--api-url", help="override where the API lives")] = None,
    miauth: Annotated[
        bool, typer.Option("--miauth", help="Misskey: use MiAuth (taken anyway where the server has no OAuth)")
    ] = False,
    device: Annotated[
        bool, typer.Option("--device", help="RFC 8628: show a code to enter in a browser anywhere (no browser here)")
    ] = False,
    dpop: Annotated[
        bool,
        typer.Option(
            "--dpop/--no-dpop", help="RFC 9449: bind the tokens to a key kept with them, where the server offers DPoP"
        ),
    ] = True,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Log in with OAuth 2.0 + PKCE in the browser (or, with --device, a code entered in a browser elsewhere); the
    tokens are kept for post, token and whoami."""
    from sekisho.client.login import Hooks, LoginOptions
    from sekisho.client.login import login as do_login

    if not 0 <= port < 65536:
        fail("--port must be between 0 and 65535", 2)
    options = LoginOptions(
        provider=provider,
        server=server,
        client_id=client_id,
        client_secret=client_secret,
        scope=scope,
        port=port,
        account=account,
        timeout=timeout,
        authorize_url=authorize_url,
        token_url=token_url,
        api_url=api_url,
        miauth=miauth,
        device=device,
        dpop=dpop,
    )
    hooks = Hooks(
        say=lambda line: typer.echo(line, err=True),
        show_url=lambda url: typer.echo(f"Open this URL to sign in:\n{url}", err=True),
        open_browser=None if no_browser else _open_browser,
        waiting=_spinner(),
        show_code=_show_device_code,
    )
    saved = run_client(lambda: do_login(options, _store(), hooks))
    if as_json:
        typer.echo(json.dumps({"account": saved.name, "username": saved.username, "server": saved.issuer}))
        return
    typer.echo(f"logged in as @{saved.username} on {saved.issuer} (account {saved.name})")


def _spinner() -> Callable[[str], AbstractContextManager[object]] | None:
    """rich's spinner on a terminal; None elsewhere, so that logs and pipes get the message once, as a line."""
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:
        return None
    return lambda message: console.status(message, spinner="dots")


def _show_device_code(started: Any) -> None:
    """--device: the user code and where to enter it, on stderr; a QR code of the URL (the code filled in) when
    stderr is a terminal wide and tall enough for it."""
    import shutil
    import sys

    from sekisho.client.qr import terminal_qr

    lines = [
        "To sign in, open this URL in a browser on any device:",
        f"  {started.verification_uri}",
        "and enter the code:",
        f"  {started.user_code}",
    ]
    if started.verification_uri_complete:
        lines += ["or open this URL, which has the code in it:", f"  {started.verification_uri_complete}"]
    typer.echo("\n".join(lines), err=True)
    if started.verification_uri_complete and sys.stderr.isatty():
        size = shutil.get_terminal_size()
        qr = terminal_qr(started.verification_uri_complete, columns=size.columns, rows=size.lines - len(lines) - 2)
        if qr is not None:
            typer.echo(qr, err=True)


def _open_browser(url: str) -> bool:
    import webbrowser

    try:
        return webbrowser.open(url)
    except webbrowser.Error:
        return False


@app.command()
def post(
    text: Annotated[str, typer.Argument(help="what to post")],
    account: AccountOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Post a note (Misskey notes/create, X POST /2/tweets, sekisho's demo API), refreshing the token first."""
    from sekisho.client.accounts import post_text

    if not text.strip():
        fail("nothing to post: the text is empty", 2)
    used, posted = run_client(lambda: post_text(_store(), account, text))
    if as_json:
        typer.echo(json.dumps({"id": posted.id, "url": posted.url, "account": used.name}))
        return
    typer.echo(f"posted {posted.id}\n{posted.url}")


@app.command()
def whoami(account: AccountOption = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Who the saved login acts for, as the server says now."""
    from sekisho.client.accounts import who

    used, me = run_client(lambda: who(_store(), account))
    if as_json:
        typer.echo(json.dumps({"id": me.id, "username": me.username, "server": used.issuer, "account": used.name}))
        return
    typer.echo(f"@{me.username} on {used.issuer} (account {used.name})")


@app.command()
def token(account: AccountOption = None) -> None:
    """Print a valid access token, refreshed if need be: `curl -H "Authorization: Bearer $(sekisho token)" …`."""
    from sekisho.client.accounts import access_token

    tokens = run_client(lambda: access_token(_store(), account))
    if tokens.token_type == "DPoP":
        typer.echo(
            "note: this token is DPoP-bound: it works only with a proof of this login's key (RFC 9449)", err=True
        )
    typer.echo(tokens.access_token)


@app.command()
def logout(account: AccountOption = None) -> None:
    """Revoke the login at the server where it can, then forget it."""
    from sekisho.client.accounts import logout as do_logout

    used, problem = run_client(lambda: do_logout(_store(), account))
    if problem:
        typer.echo(f"warning: not revoked at the server: {problem}", err=True)
    typer.echo(f"logged out of {used.name}")


@app.command()
def accounts(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The saved logins."""
    from sekisho.client.errors import ClientError

    try:
        saved = _store().accounts()
    except ClientError as exc:
        fail(str(exc))
    rows = [
        {
            "account": a.name,
            "provider": a.provider,
            "server": a.issuer,
            "username": a.username,
            "expires_at": a.tokens.expires_at,
            "refreshes": a.token_endpoint is not None and a.tokens.refresh_token is not None,
        }
        for a in saved
    ]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    if not rows:
        typer.echo("no saved logins: run `sekisho login SERVER`", err=True)
    for row in rows:
        typer.echo(f"{row['account']}  {row['provider']}  {row['server']}")


@app.command("client-page")
def client_page_command(
    name: Annotated[str, typer.Option("--name", help="the app's name, shown on the consent page")],
    url: Annotated[str, typer.Option("--url", help="where you will host the page: it is the client_id")],
    redirect_uri: Annotated[list[str], typer.Option("--redirect-uri", help="repeat for more")],
    output: Annotated[str | None, typer.Option("--output", "-o", help="file to write (default: stdout)")] = None,
) -> None:
    """Write the static client page for servers that take URL client ids (Misskey, IndieAuth, sekisho)."""
    from urllib.parse import urlsplit

    from sekisho.client.loopback import client_page

    if urlsplit(url).scheme not in ("https", "http") or not urlsplit(url).netloc:
        fail("--url must be the https URL where the page will live", 2)
    page = client_page(name, url, redirect_uri)
    if output is None:
        typer.echo(page, nl=False)
        return
    try:
        with open(output, "w", encoding="utf-8") as sink:
            sink.write(page)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror}")
    typer.echo(f"wrote {output}: host it at {url} and use that URL as --client-id", err=True)


def main() -> None:
    app()
