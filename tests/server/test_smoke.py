import subprocess
import sys

from tests.conftest import World


def test_whole_flow(world: World) -> None:
    world.login()
    tokens = world.tokens()
    assert str(tokens["access_token"]).startswith("sek_at_")
    me = world.http.post("/api/i", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200, me.text
    assert me.json()["username"] == "alice"


def test_a_serving_process_settles_its_collector_once_its_app_is_built() -> None:
    """`sekisho serve` (and each worker) calls settle_for_serving; checked in a process of its own, since it changes
    the whole process's collector."""
    script = (
        "import gc; from sekisho.server.web.app import settle_for_serving; settle_for_serving(); "
        "print(gc.get_threshold()[0], gc.get_freeze_count() > 1000)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.split() == ["50000", "True"]
