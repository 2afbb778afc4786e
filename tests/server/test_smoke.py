import logging.config
import subprocess
import sys
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette
from typer.testing import CliRunner

from sekisho import app as sekisho_app
from sekisho import cli
from sekisho.server.web import app as web_app
from tests.conftest import World


def test_whole_flow(world: World) -> None:
    world.login()
    tokens = world.tokens()
    assert str(tokens["access_token"]).startswith("sek_at_")
    me = world.http.post("/api/i", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200, me.text
    assert me.json()["username"] == "alice"


def test_settling_freezes_start_up_and_raises_the_young_generation_threshold() -> None:
    """Checked in a process of its own, since it changes the whole process's collector."""
    script = (
        "import gc; from sekisho.server.web.app import settle_for_serving; settle_for_serving(); "
        "print(gc.get_threshold()[0], gc.get_freeze_count() > 1000)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.split() == ["50000", "True"]


def test_sekisho_serve_settles_the_collector_after_building_its_app_and_before_serving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(logging.config, "dictConfig", lambda config: None)  # leave this process's logging alone
    monkeypatch.setattr(web_app, "settle_for_serving", lambda: calls.append("settle"))
    monkeypatch.setattr(
        uvicorn, "run", lambda app, **config: calls.append(f"serve {type(app).__name__} {config['http']}")
    )
    result = CliRunner().invoke(cli.app, ["serve", "--database", f"sqlite:///{tmp_path / 'serve.db'}"])
    assert result.exit_code == 0, result.output
    assert calls == ["settle", "serve Starlette httptools"]


def test_each_worker_settles_the_collector_once_its_app_is_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`sekisho serve --workers N`: uvicorn calls create_app_from_environment in each worker process."""
    calls: list[str] = []
    monkeypatch.setattr(web_app, "settle_for_serving", lambda: calls.append("settle"))
    monkeypatch.setenv("SEKISHO_DATABASE", f"sqlite:///{tmp_path / 'workers.db'}")
    assert isinstance(sekisho_app.create_app_from_environment(), Starlette)
    assert calls == ["settle"]
