"""quiet_prefect: the flows' Prefect settings (heartbeat off, this process's server) are in force
inside it and gone after it, every time; made once and entered afresh while nothing changes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prefect.settings import (
    PREFECT_API_URL,
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
    Settings,
    get_current_settings,
)

import flows.common as common
from flows.common import quiet_prefect


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Every Settings Prefect builds from an update while the test runs."""
    made: list[object] = []
    copy = Settings.copy_with_update

    def counting(self: Settings, *args: object, **kwargs: object) -> Settings:
        made.append(self)
        return copy(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Settings, "copy_with_update", counting)
    monkeypatch.setattr(common, "_quiet_made", None, raising=False)
    yield made


def test_the_quiet_settings_are_made_once_and_in_force_each_time(
        built: list[object], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "_owned_api_url", "http://127.0.0.1:45678/api")
    outside = get_current_settings()
    for _ in range(3):
        with quiet_prefect():
            assert PREFECT_FLOWS_HEARTBEAT_FREQUENCY.value() is None
            assert PREFECT_API_URL.value() == "http://127.0.0.1:45678/api"
        assert get_current_settings() is outside
    # Validating Prefect's whole settings cost serve ~30 ms of CPU a tick: once, not per tick.
    assert len(built) == 1


def test_another_server_makes_them_again(built: list[object],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "_owned_api_url", "http://127.0.0.1:45678/api")
    with quiet_prefect():
        pass
    monkeypatch.setattr(common, "_owned_api_url", "http://127.0.0.1:45679/api")
    with quiet_prefect():
        assert PREFECT_API_URL.value() == "http://127.0.0.1:45679/api"
    assert len(built) == 2


def test_clients_of_the_owned_loopback_server_skip_the_ca_bundle_and_the_csrf_token(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Each Prefect client parsed certifi's whole bundle (45-55 ms of CPU, three a handed tick)
    and asked /csrf-token, for a plain-HTTP server without CSRF protection."""
    from prefect.client.orchestration import get_client

    monkeypatch.setattr(common, "_quiet_made", None, raising=False)
    monkeypatch.setattr(common, "_owned_api_url", "http://127.0.0.1:45678/api")
    with quiet_prefect():
        client = get_client(sync_client=True)
        context = client._client._transport._pool._ssl_context
        assert context.cert_store_stats()["x509_ca"] == 1
        assert client._client.enable_csrf_support is False
        # One file of the data directory, under one name: no temporary file a crash leaves.
        from prefect.settings import PREFECT_API_SSL_CERT_FILE

        from duban.services.locations import private_data_dir

        assert PREFECT_API_SSL_CERT_FILE.value() == str(private_data_dir() / common.LOOPBACK_CA)


def test_clients_of_another_server_keep_prefects_defaults(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A server duban did not start on loopback (the scaled mode's) keeps TLS and CSRF as set."""
    from prefect.client.orchestration import get_client

    monkeypatch.setattr(common, "_quiet_made", None, raising=False)
    monkeypatch.setattr(common, "_owned_api_url", "https://prefect.example.org/api")
    with quiet_prefect():
        client = get_client(sync_client=True)
        context = client._client._transport._pool._ssl_context
        assert context.cert_store_stats()["x509_ca"] > 1
        assert client._client.enable_csrf_support is True
