"""One validated Settings object. Each `sekisho serve` setting is declared once, as a field of Settings made with
`setting()`: its name gives the flag and the SEKISHO_* variable, and the declaration the default, help and check."""

from __future__ import annotations

import dataclasses
import ipaddress
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal
from urllib.parse import urlsplit

from sekisho.errors import InvalidTarget
from sekisho.protocol.resources import check_uri
from sekisho.protocol.scopes import DEFAULT_SCOPES

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_OPTION = "sekisho.option"
_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


class SettingsError(ValueError):
    """A setting that cannot work; the message is one line for the user."""


@dataclass(frozen=True, slots=True)
class Option:
    """How a setting is given: its flag, SEKISHO_* variable, input type and default, help, and check.

    `check` turns the given value into the field's value, or raises SettingsError; a `list` input is a repeatable
    flag, comma-separated in its variable."""

    name: str
    help: str
    kind: Any  # str, int, bool, `str | None`, or list (of str)
    default: Any
    check: Callable[[Any], Any] | None = None
    flag: str | None = None  # default: --NAME with dashes

    @property
    def option(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return "SEKISHO_" + self.name.upper()


def setting(
    help: str,
    default: Any = dataclasses.MISSING,
    *,
    kind: Any = None,
    given: Any = dataclasses.MISSING,
    check: Callable[[Any], Any] | None = None,
    flag: str | None = None,
) -> Any:
    """A Settings field that is also a `sekisho serve` option; `kind` and `given` (its default as an option) when
    they differ from the field's type and default."""
    details = {"help": help, "kind": kind, "given": default if given is dataclasses.MISSING else given}
    metadata = {_OPTION: {**details, "check": check, "flag": flag}}
    if default is dataclasses.MISSING:
        return field(metadata=metadata)
    return field(default=default, metadata=metadata)


def _port(port: int) -> int:
    if not 0 < port < 65536:
        raise SettingsError(f"--port must be between 1 and 65535, not {port}")
    return port


def _workers(workers: int) -> int:
    if workers < 1:
        raise SettingsError("--workers must be at least 1")
    return workers


def _one_of(flag: str, *choices: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in choices:
            raise SettingsError(f"{flag} must be {' or '.join(choices)}")
        return value

    return check


def _positive(flag: str) -> Callable[[int], int]:
    def check(value: int) -> int:
        if value < 1:
            raise SettingsError(f"{flag} must be at least 1")
        return value

    return check


def _database(url: str) -> str:
    check_database_url(url)
    return url


def _issuer(issuer: str | None) -> str | None:
    if issuer:
        check_issuer(issuer)
    return issuer or None


def _token(token: str | None) -> str | None:
    return token or None


@dataclass(frozen=True, slots=True)
class Settings:
    issuer: str = setting("default: http://HOST:PORT", kind=str | None, given=None, check=_issuer)
    database: str = setting("sqlite:///PATH or postgresql://…", "sqlite:///sekisho.db", check=_database)
    host: str = setting("the address to listen on", "127.0.0.1")
    port: int = setting("the port to listen on", 8000, check=_port)
    workers: int = setting("worker processes", 1, check=_workers)
    allow_private_client_ids: bool = setting("development and tests only", False)
    access_token_format: Literal["opaque", "jwt"] = setting(
        "opaque or jwt", "opaque", kind=str, check=_one_of("--access-token-format", "opaque", "jwt")
    )
    demo: bool = setting("seed a demo user and app (and serve the demo APIs: --demo-api)", False)
    demo_api: bool = setting("serve the demo notes APIs (/api/…, /2/…) and /@NAME pages", False)
    x_rate_limits: bool = setting("demo: answer 429 past X's per-user rate limits on /2/… (docs/x-stand-in.md)", False)
    access_log: bool = setting("one log line per request", True)
    log_format: Literal["text", "json"] = setting(
        "text, or json: one JSON object per line, requests too",
        "text",
        kind=str,
        check=_one_of("--log-format", "text", "json"),
    )
    # peers whose Forwarded / X-Forwarded-* headers are believed (web/proxies.py); none by default
    trusted_proxies: tuple[Network, ...] = setting(
        "address or CIDR of a reverse proxy whose Forwarded / X-Forwarded-* headers are believed "
        "(repeatable; the variable is comma-separated)",
        (),
        kind=list,
        given=None,
        check=lambda values: parse_networks(values or ()),
        flag="--trusted-proxy",
    )
    metrics_token: str | None = setting(
        "GET /metrics needs `Authorization: Bearer` this token", None, kind=str | None, check=_token
    )
    registration: Literal["off", "open", "token"] = setting(
        "dynamic client registration at /oauth/register (RFC 7591): off, open, or token (an initial access token "
        "from `sekisho registration-token add`)",
        "off",
        kind=str,
        check=_one_of("--registration", "off", "open", "token"),
    )
    registration_limit: int = setting(
        "dynamic registrations per client address per hour", 20, check=_positive("--registration-limit")
    )
    # per-address request limits (rate_limits.py; the defaults' reasons: docs/security.md)
    device_authorization_limit: int = setting(
        "device authorization requests (POST /oauth/device_authorization) per client address per minute",
        60,
        check=_positive("--device-authorization-limit"),
    )
    par_limit: int = setting(
        "pushed authorization requests (POST /oauth/par) per client address per minute",
        600,
        check=_positive("--par-limit"),
    )
    registration_purge_after: int = setting(
        "seconds after which a dynamically registered client with no grant left is deleted",
        24 * 3600,
        check=_positive("--registration-purge-after"),
    )
    # RFC 8707: the resources any client may name (`resource`), besides the issuer (the demo API's own)
    resources: tuple[str, ...] = setting(
        "a resource server's URI (RFC 8707 resource indicator) clients may ask tokens for "
        "(repeatable; the variable is comma-separated)",
        (),
        kind=list,
        given=None,
        check=lambda values: parse_resources(values or ()),
        flag="--resource",
    )
    require_par: bool = setting(
        "every authorization request must be pushed to /oauth/par first (RFC 9126: "
        "require_pushed_authorization_requests)",
        False,
    )
    dpop_nonce: bool = setting(
        "DPoP proofs at the token endpoint must carry a server nonce (RFC 9449 §8: use_dpop_nonce, DPoP-Nonce)", False
    )
    scopes: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SCOPES))
    code_ttl: int = 120  # seconds; CONTRACT.md §3: at most 5 minutes
    access_token_ttl: int = 3600
    refresh_token_idle_ttl: int = 30 * 24 * 3600
    refresh_token_absolute_ttl: int = 180 * 24 * 3600
    session_ttl: int = 7 * 24 * 3600

    @property
    def secure_cookies(self) -> bool:
        return self.issuer.startswith("https://")

    def allowed_resources(self, client: Iterable[str]) -> frozenset[str]:
        """The resources (RFC 8707) a client with these resources of its own may name: the issuer (the demo API's,
        already every token's default audience), the server's and the client's."""
        return frozenset((self.issuer, *self.resources, *client))


@cache
def options() -> tuple[Option, ...]:
    """The `sekisho serve` options, in the order of Settings' fields."""
    hints = typing.get_type_hints(Settings)
    found = []
    for item in dataclasses.fields(Settings):
        if _OPTION in item.metadata:
            meta = item.metadata[_OPTION]
            kind = meta["kind"] or hints[item.name]
            found.append(Option(item.name, meta["help"], kind, meta["given"], meta["check"], meta["flag"]))
    return tuple(found)


def build_settings(**given: Any) -> Settings:
    """Settings from option values by name (`options()`; the rest default): each checked, the issuer derived."""
    unknown = set(given) - {option.name for option in options()}
    if unknown:
        raise TypeError(f"build_settings() got unknown settings {sorted(unknown)}")
    values: dict[str, Any] = {}
    for option in options():
        value = given.get(option.name, option.default)
        values[option.name] = option.check(value) if option.check else value
    values["demo_api"] = values["demo_api"] or values["demo"]  # the demo's callback page points at /api/i
    values["issuer"] = values["issuer"] or f"http://{_url_host(values['host'])}:{values['port']}"
    check_issuer(values["issuer"])
    return Settings(**values)


def from_environment(environ: Mapping[str, str]) -> Settings:
    """Settings from the SEKISHO_* variables that are set and not empty (the others default), as the CLI reads
    them."""
    given = {option.name: _parse(option, environ[option.env]) for option in options() if environ.get(option.env)}
    return build_settings(**given)


def to_environment(settings: Settings) -> dict[str, str]:
    """The SEKISHO_* variables that `from_environment` reads back as `settings`."""
    return {option.env: _format(getattr(settings, option.name)) for option in options()}


def _parse(option: Option, text: str) -> Any:
    if option.kind is bool:
        if text.strip().lower() not in _TRUE | _FALSE:
            raise SettingsError(f"{option.env} must be true or false, not {text!r}")
        return text.strip().lower() in _TRUE
    if option.kind is int:
        try:
            return int(text)
        except ValueError:
            raise SettingsError(f"{option.env} must be a whole number, not {text!r}") from None
    if option.kind is list:
        return [item for item in text.split(",") if item.strip()]
    return text


def _format(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(str(item) for item in value)
    return "" if value is None else str(value)


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """`--trusted-proxy` values: addresses or CIDR blocks, each value possibly a comma-separated list."""
    networks = []
    for item in _items(values):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise SettingsError(f"--trusted-proxy must be an address or CIDR block, not {item!r}") from None
    return tuple(networks)


def _items(values: Iterable[str]) -> Iterable[str]:
    """A repeatable flag's values, each possibly a comma-separated list: every item, stripped, empty ones left out."""
    return (item.strip() for value in values for item in value.split(",") if item.strip())


def parse_resources(values: Iterable[str]) -> tuple[str, ...]:
    """`--resource` values: absolute URIs without fragment (RFC 8707 §2), each value possibly a comma-separated
    list."""
    found: list[str] = []
    for item in _items(values):
        try:
            found.append(check_uri(item))
        except InvalidTarget:
            raise SettingsError(f"--resource must be an absolute URI without fragment, not {item!r}") from None
    return tuple(dict.fromkeys(found))


def check_issuer(issuer: str) -> None:
    """RFC 8414 §2: an https URL with no query or fragment (http allowed for local use)."""
    parts = urlsplit(issuer)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(f"--issuer must be an http(s) URL, not {issuer!r}")
    if parts.query or parts.fragment or "?" in issuer or "#" in issuer:
        raise SettingsError("--issuer must not have a query or fragment")
    if issuer.endswith("/"):
        raise SettingsError("--issuer must not end with a slash")


def check_database_url(url: str) -> None:
    if not url.startswith(("sqlite://", "postgresql://", "postgres://")):
        raise SettingsError(f"--database must be sqlite:///PATH or postgresql://…, not {url!r}")


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
