"""One validated Settings object, from CLI flags and SEKISHO_* environment variables."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from sekisho.protocol.scopes import DEFAULT_SCOPES


class SettingsError(ValueError):
    """A setting that cannot work; the message is one line for the user."""


@dataclass(frozen=True, slots=True)
class Settings:
    issuer: str
    database: str = "sqlite:///sekisho.db"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    allow_private_client_ids: bool = False
    access_token_format: Literal["opaque", "jwt"] = "opaque"
    demo: bool = False
    log_format: Literal["text", "json"] = "text"
    scopes: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SCOPES))
    code_ttl: int = 120  # seconds; CONTRACT.md §3: at most 5 minutes
    access_token_ttl: int = 3600
    refresh_token_idle_ttl: int = 30 * 24 * 3600
    refresh_token_absolute_ttl: int = 180 * 24 * 3600
    session_ttl: int = 7 * 24 * 3600
    # peers whose Forwarded / X-Forwarded-* headers are believed (web/proxies.py); none by default
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    metrics_token: str | None = None  # when set, GET /metrics needs `Authorization: Bearer <it>`

    @property
    def secure_cookies(self) -> bool:
        return self.issuer.startswith("https://")


def build_settings(
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    issuer: str | None = None,
    database: str = "sqlite:///sekisho.db",
    workers: int = 1,
    allow_private_client_ids: bool = False,
    access_token_format: str = "opaque",
    demo: bool = False,
    log_format: str = "text",
    trusted_proxies: Iterable[str] = (),
    metrics_token: str | None = None,
) -> Settings:
    """Check the raw values and fill in derived defaults."""
    if not 0 < port < 65536:
        raise SettingsError(f"--port must be between 1 and 65535, not {port}")
    if workers < 1:
        raise SettingsError("--workers must be at least 1")
    if access_token_format not in ("opaque", "jwt"):
        raise SettingsError("--access-token-format must be opaque or jwt")
    if log_format not in ("text", "json"):
        raise SettingsError("--log-format must be text or json")
    issuer = issuer or f"http://{_url_host(host)}:{port}"
    check_issuer(issuer)
    check_database_url(database)
    return Settings(
        issuer=issuer,
        database=database,
        host=host,
        port=port,
        workers=workers,
        allow_private_client_ids=allow_private_client_ids,
        access_token_format="jwt" if access_token_format == "jwt" else "opaque",
        demo=demo,
        log_format="json" if log_format == "json" else "text",
        trusted_proxies=parse_networks(trusted_proxies),
        metrics_token=metrics_token or None,
    )


def parse_networks(values: Iterable[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """`--trusted-proxy` values: addresses or CIDR blocks, each value possibly a comma-separated list."""
    networks = []
    for value in values:
        for item in value.split(","):
            if not item.strip():
                continue
            try:
                networks.append(ipaddress.ip_network(item.strip(), strict=False))
            except ValueError:
                raise SettingsError(f"--trusted-proxy must be an address or CIDR block, not {item.strip()!r}") from None
    return tuple(networks)


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
