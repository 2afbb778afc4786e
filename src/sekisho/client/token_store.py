"""Saved logins: one JSON file per account, mode 0600 in a 0700 directory, replaced atomically, locked apart; the
account's DPoP key (RFC 9449), when it has one, is kept in the same file as its tokens."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import platformdirs
from joserfc.jwk import ECKey

from sekisho.client import dpop
from sekisho.client.errors import TokenStoreError
from sekisho.client.oauth import ClientCredentials, TokenSet
from sekisho.client.private_files import FileLock, read_private, write_atomically

FORMAT: Final = 1
DEFAULT_FILE: Final = "default"  # the name of the account the last login made the default
MAX_NAME: Final = 200
_TEXT_FIELDS: Final = ("name", "provider", "issuer", "api_base")
_OPTIONAL_FIELDS: Final = ("token_endpoint", "revocation_endpoint", "username", "user_id")


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    provider: str  # sekisho | misskey | x
    issuer: str
    api_base: str
    token_endpoint: str | None  # None: tokens that are never refreshed (MiAuth, Misskey)
    revocation_endpoint: str | None
    credentials: ClientCredentials
    tokens: TokenSet
    username: str | None = None
    user_id: str | None = None
    dpop_key: ECKey | None = field(default=None, repr=False)  # RFC 9449: the private key its proofs are made with

    def to_json(self) -> dict[str, Any]:
        fields = {name: getattr(self, name) for name in (*_TEXT_FIELDS, *_OPTIONAL_FIELDS)}
        client = {"client_id": self.credentials.client_id, "client_secret": self.credentials.client_secret}
        key = {} if self.dpop_key is None else {"dpop_key": dpop.key_to_json(self.dpop_key)}
        return {"format": FORMAT, **fields, "client": client, "tokens": self.tokens.to_json(), **key}

    def prover(
        self, nonces: MutableMapping[str, str] | None = None, clock: Callable[[], float] = time.time
    ) -> dpop.Prover | None:
        """What signs this account's DPoP proofs; None for a Bearer login (one saved before DPoP, or where the
        server has none)."""
        return None if self.dpop_key is None else dpop.Prover(self.dpop_key, nonces, clock=clock)

    @classmethod
    def from_json(cls, data: Any) -> Account:
        """The inverse of `to_json`; `ValueError` names the first field that is wrong."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"not a format {FORMAT} account file")
        for name in _TEXT_FIELDS:
            if not isinstance(data.get(name), str) or not data[name]:
                raise ValueError(f"{name} is missing or not a string")
        for name in _OPTIONAL_FIELDS:
            if not isinstance(data.get(name), str | None):
                raise ValueError(f"{name} is not a string")
        client = data.get("client")
        if not (isinstance(client, dict) and isinstance(client.get("client_id"), str)):
            raise ValueError("client.client_id is missing")
        if not isinstance(client.get("client_secret"), str | None):
            raise ValueError("client.client_secret is not a string")
        key = data.get("dpop_key")
        tokens = TokenSet.from_json(data.get("tokens"))
        if key is None and tokens.token_type.lower() == "dpop":
            raise ValueError("dpop_key is missing, and its token is bound to one")
        return cls(
            name=data["name"],
            provider=data["provider"],
            issuer=data["issuer"],
            api_base=data["api_base"],
            token_endpoint=data.get("token_endpoint"),
            revocation_endpoint=data.get("revocation_endpoint"),
            credentials=ClientCredentials(client["client_id"], client.get("client_secret")),
            tokens=tokens,
            username=data.get("username"),
            user_id=data.get("user_id"),
            dpop_key=None if key is None else dpop.key_from_json(key),
        )


def file_stem(name: str) -> str:
    """A file name for an account name: `/`, `%` and anything unusual percent-encoded, no leading dot."""
    if not name or len(name) > MAX_NAME:
        raise TokenStoreError(f"an account name has 1 to {MAX_NAME} characters; pick another with --account")
    if not name.isprintable():  # e.g. the surrogates that undecodable bytes of argv become
        raise TokenStoreError("an account name is printable text; pick another with --account")
    stem = quote(name, safe="@.+-_~")
    return "%2E" + stem[1:] if stem.startswith(".") else stem


def default_directory() -> Path:
    """`$SEKISHO_CONFIG_DIR/accounts`, else the platform's user config directory for sekisho."""
    base = os.environ.get("SEKISHO_CONFIG_DIR") or platformdirs.user_config_dir("sekisho")
    return Path(base) / "accounts"


class TokenStore:
    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory if directory is not None else default_directory()

    def path_of(self, name: str) -> Path:
        return self.directory / f"{file_stem(name)}.json"

    def save(self, account: Account, *, default: bool = True) -> None:
        """Write the account's file atomically; `default` (a login) also makes it the default account."""
        self._ensure_directory()
        body = json.dumps(account.to_json(), indent=2).encode() + b"\n"
        write_atomically(self.path_of(account.name), body)
        if default:
            write_atomically(self.directory / DEFAULT_FILE, account.name.encode())

    def load(self, name: str) -> Account:
        account = read_account(self.path_of(name))
        if account is None:
            raise TokenStoreError(f"no saved login named {name!r}; `sekisho accounts` lists them")
        return account

    def accounts(self) -> list[Account]:
        found = (read_account(path) for path in self.directory.glob("*.json") if not path.name.startswith("."))
        return sorted((account for account in found if account is not None), key=lambda account: account.name)

    def remove(self, name: str) -> bool:
        """Forget the account; False if there was none. The lock file stays (another process may hold it)."""
        try:
            self.path_of(name).unlink()
        except FileNotFoundError:
            return False
        except OSError as error:
            raise TokenStoreError(f"cannot remove {self.path_of(name)} ({error.strerror})") from None
        if self._default_name() == name:
            with contextlib.suppress(FileNotFoundError):
                (self.directory / DEFAULT_FILE).unlink()
        return True

    def default(self) -> Account:
        """The account marked by the last login, else the only one."""
        marked = self._default_name()
        if marked is not None and self.path_of(marked).exists():
            return self.load(marked)
        accounts = self.accounts()
        if not accounts:
            raise TokenStoreError("no saved logins: run `sekisho login SERVER` first")
        if len(accounts) > 1:
            names = ", ".join(account.name for account in accounts)
            raise TokenStoreError(f"there are {len(accounts)} saved logins ({names}): choose one with --account")
        return accounts[0]

    def locked(self, name: str) -> FileLock:
        """An exclusive lock on NAME.lock: `with store.locked(name): …` (or acquire/release from a thread)."""
        self._ensure_directory()
        return FileLock(self.directory / f"{file_stem(name)}.lock")

    def _default_name(self) -> str | None:
        try:
            return (self.directory / DEFAULT_FILE).read_text(encoding="utf-8").rstrip("\r\n") or None
        except (OSError, UnicodeDecodeError):
            return None

    def _ensure_directory(self) -> None:
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            if self.directory.stat().st_mode & 0o077:
                self.directory.chmod(0o700)
        except OSError as error:
            raise TokenStoreError(f"cannot use {self.directory} for saved logins ({error.strerror})") from None


def read_account(path: Path) -> Account | None:
    """The account in `path`, None if there is no such file; `TokenStoreError` if others may read it or it is bad."""
    body = read_private(path)
    if body is None:
        return None
    try:
        account = Account.from_json(json.loads(body.decode("utf-8")))
        if file_stem(account.name) != path.stem:
            raise ValueError(f"it holds the account {account.name!r}")
    except (ValueError, RecursionError, TokenStoreError) as error:  # JSONDecodeError, UnicodeDecodeError too
        raise TokenStoreError(f"{path} is damaged ({error}); delete it and run `sekisho login` again") from None
    return account
