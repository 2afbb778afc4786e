"""GET /healthz (the process) and GET /readyz (the process and its database), for load balancers and orchestrators."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import World, make_world


def test_healthz_and_readyz_answer_when_all_is_well(world: World) -> None:
    alive = world.http.get("/healthz")
    assert alive.status_code == 200 and alive.json() == {"status": "ok"}
    ready = world.http.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready", "database": "ok"}
    assert ready.headers["cache-control"] == "no-store"


def test_probes_take_only_get(world: World) -> None:
    assert world.http.post("/healthz").status_code == 405
    assert world.http.post("/readyz").status_code == 405


def test_readyz_is_503_while_the_sqlite_file_cannot_be_opened(tmp_path: Path) -> None:
    """The server's open connections would go on answering from a file moved or deleted under them: /readyz opens
    the path afresh, so it says so, and is ready again once the file is back."""
    data = tmp_path / "data"
    data.mkdir()
    with make_world(f"sqlite:///{data / 'sekisho.db'}") as world:
        assert world.http.get("/readyz").status_code == 200
        data.rename(tmp_path / "elsewhere")  # the folder is gone from where the settings say
        try:
            not_ready = world.http.get("/readyz")
            alive = world.http.get("/healthz")
        finally:
            (tmp_path / "elsewhere").rename(data)
        assert not_ready.status_code == 503
        assert not_ready.json() == {"status": "unavailable", "database": "unreachable"}
        assert not_ready.headers["cache-control"] == "no-store" and int(not_ready.headers["retry-after"]) > 0
        assert alive.status_code == 200  # the process is fine: no restart for a database outage
        ready = world.http.get("/readyz")
        assert ready.status_code == 200 and ready.json() == {"status": "ready", "database": "ok"}


def test_readyz_is_503_when_the_sqlite_file_is_no_database(tmp_path: Path) -> None:
    """The file at the path was replaced by something SQLite cannot read."""
    path = tmp_path / "sekisho.db"
    with make_world(f"sqlite:///{path}") as world:
        assert world.http.get("/readyz").status_code == 200
        path.rename(tmp_path / "kept.db")  # the server's connections keep the original file open
        path.write_bytes(b"not a database" * 512)
        not_ready = world.http.get("/readyz")
        assert not_ready.status_code == 503 and not_ready.json()["database"] == "unreachable"
