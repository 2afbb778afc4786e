"""sekisho.server.settings: one validated Settings object (CONTRACT.md §1)."""

from __future__ import annotations

import dataclasses

import pytest

from sekisho.protocol.scopes import DEFAULT_SCOPES
from sekisho.server.settings import (
    Settings,
    SettingsError,
    build_settings,
    check_database_url,
    check_issuer,
    from_environment,
    options,
    to_environment,
)


def test_defaults() -> None:
    settings = build_settings()
    assert settings.issuer == "http://127.0.0.1:8000"
    assert settings.database == "sqlite:///sekisho.db"
    assert settings.host == "127.0.0.1"
    assert settings.port == 8000
    assert settings.workers == 1
    assert settings.allow_private_client_ids is False
    assert settings.access_token_format == "opaque"
    assert settings.demo is False
    assert settings.scopes == DEFAULT_SCOPES
    assert settings.secure_cookies is False


def test_issuer_default_follows_host_and_port() -> None:
    assert build_settings(host="0.0.0.0", port=9000).issuer == "http://0.0.0.0:9000"
    assert build_settings(host="auth.local", port=80).issuer == "http://auth.local:80"


@pytest.mark.parametrize(("host", "issuer"), [("::1", "http://[::1]:8000"), ("[::1]", "http://[::1]:8000")])
def test_ipv6_host_is_bracketed_in_the_issuer(host: str, issuer: str) -> None:
    assert build_settings(host=host).issuer == issuer


def test_explicit_values_are_kept() -> None:
    settings = build_settings(
        host="0.0.0.0",
        port=443,
        issuer="https://auth.example",
        database="postgresql://u:p@db:5432/sekisho",
        workers=4,
        allow_private_client_ids=True,
        access_token_format="jwt",
        demo=True,
    )
    assert settings.issuer == "https://auth.example"
    assert settings.database == "postgresql://u:p@db:5432/sekisho"
    assert settings.workers == 4
    assert settings.allow_private_client_ids is True
    assert settings.access_token_format == "jwt"
    assert settings.demo is True
    assert settings.secure_cookies is True


def test_issuer_with_a_path_is_allowed() -> None:
    assert build_settings(issuer="https://example.com/sekisho").issuer == "https://example.com/sekisho"


@pytest.mark.parametrize("port", [1, 65535])
def test_port_bounds_are_accepted(port: int) -> None:
    assert build_settings(port=port).port == port


@pytest.mark.parametrize("port", [0, -1, 65536, 100_000])
def test_port_out_of_range_is_refused(port: int) -> None:
    with pytest.raises(SettingsError) as caught:
        build_settings(port=port)
    assert str(caught.value) == f"--port must be between 1 and 65535, not {port}"


@pytest.mark.parametrize("workers", [0, -1])
def test_workers_below_one_is_refused(workers: int) -> None:
    with pytest.raises(SettingsError) as caught:
        build_settings(workers=workers)
    assert str(caught.value) == "--workers must be at least 1"


FORMATS = {  # option: (the refusal, values it refuses)
    "access_token_format": ("--access-token-format must be opaque or jwt", ["JWT", "Opaque", "", "paseto"]),
    "log_format": ("--log-format must be text or json", ["JSON", "Text", "", "bogus"]),
}
UNKNOWN_FORMATS = [(option, value, message) for option, (message, values) in FORMATS.items() for value in values]


@pytest.mark.parametrize(("option", "value", "message"), UNKNOWN_FORMATS)
def test_unknown_access_token_or_log_format_is_refused(option: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        build_settings(**{option: value})
    assert str(caught.value) == message


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_log_formats_are_kept(fmt: str) -> None:
    assert build_settings(log_format=fmt).log_format == fmt


@pytest.mark.parametrize("issuer", ["ftp://auth.example", "auth.example", "https://", "//auth.example", "file:///x"])
def test_issuer_that_is_not_an_http_url_is_refused(issuer: str) -> None:
    with pytest.raises(SettingsError) as caught:
        build_settings(issuer=issuer)
    assert str(caught.value) == f"--issuer must be an http(s) URL, not {issuer!r}"


@pytest.mark.parametrize(
    "issuer", ["https://auth.example?x=1", "https://auth.example?", "https://auth.example#top", "https://auth.example#"]
)
def test_issuer_with_query_or_fragment_is_refused(issuer: str) -> None:
    # RFC 8414 §2: the issuer has no query or fragment components.
    with pytest.raises(SettingsError) as caught:
        build_settings(issuer=issuer)
    assert str(caught.value) == "--issuer must not have a query or fragment"


@pytest.mark.parametrize("issuer", ["https://auth.example/", "https://auth.example/sekisho/"])
def test_issuer_with_trailing_slash_is_refused(issuer: str) -> None:
    with pytest.raises(SettingsError) as caught:
        check_issuer(issuer)
    assert str(caught.value) == "--issuer must not end with a slash"


@pytest.mark.parametrize(
    "url", ["sqlite:///sekisho.db", "sqlite:////tmp/x.db", "postgresql://u@localhost/db", "postgres://u@h/db"]
)
def test_supported_database_urls(url: str) -> None:
    check_database_url(url)
    assert build_settings(database=url).database == url


@pytest.mark.parametrize("url", ["mysql://u@h/db", "sekisho.db", "", "sqlite+aiosqlite:///x.db", "SQLITE:///x.db"])
def test_unsupported_database_url_is_refused(url: str) -> None:
    with pytest.raises(SettingsError) as caught:
        build_settings(database=url)
    assert str(caught.value) == f"--database must be sqlite:///PATH or postgresql://…, not {url!r}"


def test_settings_error_is_a_value_error() -> None:
    assert issubclass(SettingsError, ValueError)


def test_settings_are_frozen() -> None:
    settings = build_settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.port = 1  # type: ignore[misc]


def test_code_lifetime_is_at_most_five_minutes() -> None:
    # CONTRACT.md §3: codes are short-lived (≤ 5 min).
    assert 0 < build_settings().code_ttl <= 300


def test_each_settings_has_its_own_scopes() -> None:
    first, second = Settings(issuer="https://a.example"), Settings(issuer="https://b.example")
    first.scopes["custom"] = "A custom scope"
    assert "custom" not in second.scopes
    assert "custom" not in DEFAULT_SCOPES


def test_secure_cookies_follow_the_issuer_scheme() -> None:
    assert Settings(issuer="https://auth.example").secure_cookies is True
    assert Settings(issuer="http://127.0.0.1:8000").secure_cookies is False


def test_trusted_proxies_take_addresses_and_blocks_repeated_or_comma_separated() -> None:
    settings = build_settings(trusted_proxies=["10.0.0.0/8,127.0.0.1", " ::1 ", ""])
    assert [str(network) for network in settings.trusted_proxies] == ["10.0.0.0/8", "127.0.0.1/32", "::1/128"]
    assert build_settings().trusted_proxies == ()


def test_a_trusted_proxy_that_is_no_address_is_refused() -> None:
    with pytest.raises(SettingsError, match="--trusted-proxy must be an address or CIDR block, not 'proxy.local'"):
        build_settings(trusted_proxies=["proxy.local"])


def test_metrics_token_is_kept_and_empty_means_none() -> None:
    assert build_settings(metrics_token="s3cret").metrics_token == "s3cret"
    assert build_settings(metrics_token="").metrics_token is None


SERVE_OPTIONS = [  # (field, flag, variable, default as an option): what `sekisho serve` has always taken
    ("issuer", "--issuer", "SEKISHO_ISSUER", None),
    ("database", "--database", "SEKISHO_DATABASE", "sqlite:///sekisho.db"),
    ("host", "--host", "SEKISHO_HOST", "127.0.0.1"),
    ("port", "--port", "SEKISHO_PORT", 8000),
    ("workers", "--workers", "SEKISHO_WORKERS", 1),
    ("allow_private_client_ids", "--allow-private-client-ids", "SEKISHO_ALLOW_PRIVATE_CLIENT_IDS", False),
    ("access_token_format", "--access-token-format", "SEKISHO_ACCESS_TOKEN_FORMAT", "opaque"),
    ("demo", "--demo", "SEKISHO_DEMO", False),
    ("demo_api", "--demo-api", "SEKISHO_DEMO_API", False),
    ("x_rate_limits", "--x-rate-limits", "SEKISHO_X_RATE_LIMITS", False),  # issue 23: X's 429s on the stand-in
    ("access_log", "--access-log", "SEKISHO_ACCESS_LOG", True),
    ("log_format", "--log-format", "SEKISHO_LOG_FORMAT", "text"),
    ("trusted_proxies", "--trusted-proxy", "SEKISHO_TRUSTED_PROXIES", None),
    ("metrics_token", "--metrics-token", "SEKISHO_METRICS_TOKEN", None),
    ("registration", "--registration", "SEKISHO_REGISTRATION", "off"),  # issue 25: RFC 7591
    ("registration_limit", "--registration-limit", "SEKISHO_REGISTRATION_LIMIT", 20),
    # per-address limits on the other requests anyone may make unsigned in (docs/security.md)
    ("device_authorization_limit", "--device-authorization-limit", "SEKISHO_DEVICE_AUTHORIZATION_LIMIT", 60),
    ("par_limit", "--par-limit", "SEKISHO_PAR_LIMIT", 600),
    ("registration_purge_after", "--registration-purge-after", "SEKISHO_REGISTRATION_PURGE_AFTER", 86400),
    ("resources", "--resource", "SEKISHO_RESOURCES", None),  # issue 25: RFC 8707 resource indicators
    ("require_par", "--require-par", "SEKISHO_REQUIRE_PAR", False),  # issue 26: RFC 9126 pushed requests
    ("dpop_nonce", "--dpop-nonce", "SEKISHO_DPOP_NONCE", False),  # issue 26: RFC 9449 server nonces
]


def test_each_serve_setting_is_declared_once_with_its_flag_variable_and_default() -> None:
    """Issue 22 item 4: one declaration per setting gives the flag, the SEKISHO_* variable, the default and help."""
    declared = [(option.name, option.option, option.env, option.default) for option in options()]
    assert declared == SERVE_OPTIONS
    assert all(option.help for option in options())


def test_serve_takes_its_options_from_the_declarations() -> None:
    """Issue 22 item 4: `sekisho serve`'s parameters are generated from the declarations, help included."""
    from typer.main import get_command

    from sekisho.cli import app

    serve = get_command(app).commands["serve"]  # type: ignore[attr-defined]
    params = {param.name: param for param in serve.params}
    assert list(params) == [name for name, *_ in SERVE_OPTIONS]
    for name, flag, variable, default in SERVE_OPTIONS:
        assert flag in params[name].opts and params[name].envvar == variable
        assert params[name].default == default
    assert params["access_log"].secondary_opts == ["--no-access-log"]
    assert params["trusted_proxies"].multiple


def test_the_environment_carries_settings_to_workers_and_back() -> None:
    """Issue 22 item 4: `--workers N` hands its settings over in SEKISHO_* variables derived from the declarations."""
    settings = build_settings(
        issuer="https://auth.example",
        database="postgresql://u@db/sekisho",
        host="0.0.0.0",
        port=9000,
        workers=3,
        allow_private_client_ids=True,
        access_token_format="jwt",
        demo=True,
        access_log=False,
        log_format="json",
        trusted_proxies=["10.0.0.0/8", "::1"],
        metrics_token="s3cret",
        registration="token",
        registration_limit=5,
        registration_purge_after=600,
        device_authorization_limit=7,
        par_limit=9,
    )
    environment = to_environment(settings)
    assert environment["SEKISHO_TRUSTED_PROXIES"] == "10.0.0.0/8,::1/128"
    assert from_environment(environment) == settings
    assert from_environment(to_environment(build_settings())) == build_settings()


def test_variables_read_as_the_cli_reads_them() -> None:
    settings = from_environment(
        {"SEKISHO_PORT": "9000", "SEKISHO_DEMO": "yes", "SEKISHO_TRUSTED_PROXIES": "10.0.0.0/8,127.0.0.1", "X": "1"}
    )
    assert settings.port == 9000 and settings.demo is True and settings.issuer == "http://127.0.0.1:9000"
    assert [str(network) for network in settings.trusted_proxies] == ["10.0.0.0/8", "127.0.0.1/32"]
    assert from_environment({"SEKISHO_DEMO": "", "SEKISHO_ISSUER": ""}) == build_settings()


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"SEKISHO_PORT": "eighty"}, "SEKISHO_PORT must be a whole number, not 'eighty'"),
        ({"SEKISHO_DEMO": "maybe"}, "SEKISHO_DEMO must be true or false, not 'maybe'"),
        ({"SEKISHO_PORT": "0"}, "--port must be between 1 and 65535, not 0"),
        ({"SEKISHO_REGISTRATION": "anyone"}, "--registration must be off or open or token"),
        ({"SEKISHO_REGISTRATION_LIMIT": "0"}, "--registration-limit must be at least 1"),
        ({"SEKISHO_DEVICE_AUTHORIZATION_LIMIT": "0"}, "--device-authorization-limit must be at least 1"),
        ({"SEKISHO_PAR_LIMIT": "-1"}, "--par-limit must be at least 1"),
        ({"SEKISHO_PAR_LIMIT": "many"}, "SEKISHO_PAR_LIMIT must be a whole number, not 'many'"),
        ({"SEKISHO_REGISTRATION_PURGE_AFTER": "-5"}, "--registration-purge-after must be at least 1"),
    ],
)
def test_a_bad_variable_is_refused_in_one_line(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        from_environment(environ)
    assert str(caught.value) == message


def test_the_demo_turns_the_demo_api_on_too() -> None:
    """Issue 22 item 2: --demo's callback page points at /api/i, so --demo serves the demo APIs as --demo-api does."""
    assert build_settings().demo_api is False
    assert build_settings(demo_api=True).demo_api is True
    assert build_settings(demo=True).demo_api is True


def test_an_unknown_setting_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="unknown settings"):
        build_settings(prot=80)


def test_resources_come_from_a_repeatable_flag_or_a_comma_separated_variable() -> None:
    """Issue 25 item 3 (CONTRACT.md §4): `--resource URI …`, `SEKISHO_RESOURCES` comma-separated."""
    given = from_environment({"SEKISHO_RESOURCES": "https://mcp.example/mcp, https://files.example/,"})
    assert given.resources == ("https://mcp.example/mcp", "https://files.example/")
    assert from_environment(to_environment(given)).resources == given.resources
    assert build_settings(resources=["https://a.example", "https://a.example"]).resources == ("https://a.example",)
    assert given.allowed_resources(["https://own.example"]) == {
        given.issuer,
        "https://mcp.example/mcp",
        "https://files.example/",
        "https://own.example",
    }
    for bad in ("/relative", "https://a.example/#frag", "not a uri"):
        with pytest.raises(SettingsError, match="--resource"):
            build_settings(resources=[bad])
