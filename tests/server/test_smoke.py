from tests.conftest import World


def test_whole_flow(world: World) -> None:
    world.login()
    tokens = world.tokens()
    assert str(tokens["access_token"]).startswith("sek_at_")
    me = world.http.post("/api/i", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200, me.text
    assert me.json()["username"] == "alice"
