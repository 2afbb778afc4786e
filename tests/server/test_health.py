"""GET /healthz (the process) and GET /readyz (the process and its database), for load balancers and orchestrators."""

from __future__ import annotations

from tests.conftest import World


def test_healthz_and_readyz_answer_when_all_is_well(world: World) -> None:
    alive = world.http.get("/healthz")
    assert alive.status_code == 200 and alive.json() == {"status": "ok"}
    ready = world.http.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready", "database": "ok"}
    assert ready.headers["cache-control"] == "no-store"


def test_probes_take_only_get(world: World) -> None:
    assert world.http.post("/healthz").status_code == 405
    assert world.http.post("/readyz").status_code == 405
