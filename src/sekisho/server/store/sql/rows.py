"""Records to statement parameters and rows to records, and the deletion of a record with what names it.

A SELECT's columns are its record's fields by name (queries.columns), so a row builds its record positionally, in
field order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any

from sekisho.protocol import client_ids
from sekisho.server.entities import Client
from sekisho.server.store import queries as q
from sekisho.server.store.driver import Database, Query

_FIELD_NAMES: dict[type, tuple[str, ...]] = {}  # dataclasses.fields() builds a tuple per call: once per record type


def params(record: object, **extra: object) -> dict[str, object]:
    """A record's fields as statement parameters (column names match field names), plus `extra`."""
    names = _FIELD_NAMES.get(type(record))
    if names is None:
        names = _FIELD_NAMES[type(record)] = tuple(field.name for field in fields(record))  # type: ignore[arg-type]
    return {name: getattr(record, name) for name in names} | extra


def arrays(rows: Sequence[Mapping[str, object]]) -> dict[str, list[object]]:
    """A batch's rows as one list per parameter, for a statement over `unnest` of arrays (queries._batch); a
    parameter the statement does not name (a check it does not make) is not sent (driver.Query.arguments)."""
    return {name: [row[name] for row in rows] for name in rows[0]}


def client_checks(client: Client) -> dict[str, str | None]:
    """The parameters of the check a statement makes of a client the caller may have recalled from memory
    (queries._client_current): a URL client is nowhere to be removed from, so has nothing to check."""
    registered_id = None if client_ids.is_url(client.client_id) else client.client_id
    return {"registered_id": registered_id, "secret_digest": client.secret_digest}


async def delete_with_dependents(database: Database, dependents: Sequence[Query], owner: Query, **key: str) -> bool:
    """Delete the rows that name a record (`dependents`), then the record (`owner`, RETURNING), in one transaction;
    whether the record was there."""
    async with database.transaction() as tx:
        for query in dependents:
            await tx.execute(query, **key)
        return await tx.fetch_one(owner, **key) is not None


def client(row: Sequence[Any]) -> Client:
    """A registered client from its row (queries.CLIENT_COLUMNS): lists are stored space-separated."""
    found = dict(zip(CLIENT_FIELDS, row, strict=True))
    return Client(
        **found
        | {
            "redirect_uris": tuple(found["redirect_uris"].split()),
            "grant_types": tuple(found["grant_types"].split()),
            "scopes": tuple(found["scopes"].split()) if found["scopes"] is not None else None,
            "resource_server": bool(found["resource_server"]),
            "dynamic": bool(found["dynamic"]),
            "require_dpop": bool(found["require_dpop"]),
            "resources": tuple((found["resources"] or "").split()),
            "require_par": bool(found["require_par"]),
        }
    )


def client_params(record: Client) -> dict[str, object]:
    """A registered client's row: lists space-separated, the flag an integer."""
    return {name: getattr(record, name) for name in CLIENT_FIELDS} | {
        "redirect_uris": " ".join(record.redirect_uris),
        "grant_types": " ".join(record.grant_types),
        "scopes": " ".join(record.scopes) if record.scopes is not None else None,
        "resource_server": int(record.resource_server),
        "dynamic": int(record.dynamic),
        "require_dpop": int(record.require_dpop),
        "resources": " ".join(record.resources) or None,
        "require_par": int(record.require_par),
        "logo": record.logo,  # written, never read with the rest (Clients.logo): it is large
    }


CLIENT_FIELDS = tuple(column.name for column in q.CLIENT_COLUMNS)
