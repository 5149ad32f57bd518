"""tomtoolkit's catalogue services in this TOM: one that cannot be reached says so on the query
page (offline, as the demo runs, each was an HTTP 500)."""
from __future__ import annotations

import pytest
from django.urls import reverse

from classifier_service.stream.tansu import free_port

SEARCH = {"search_term": "M31", "target_name": "M31", "name": "M31"}


@pytest.fixture
def no_route_out(monkeypatch):
    """Every HTTP(S) request goes through a proxy port nothing listens on: the connection
    failure a machine without internet gives, whatever this one has."""
    closed = f"http://127.0.0.1:{free_port()}"
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, closed)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("service", ["Simbad", "TNS", "NED", "MPC Explorer"])
def test_a_catalogue_service_that_cannot_be_reached_is_a_message_not_a_server_error(client, user, no_route_out,
                                                                                    service):
    client.force_login(user)
    session = client.session
    session["query_parameters"] = {"data_service": service, **SEARCH}  # as the query form leaves them
    session.save()

    response = client.get(reverse("dataservices:run"))

    assert response.status_code == 200
    assert f"{service} could not be reached from this TOM (no connection to " in response.content.decode()


def test_the_data_services_menu_offers_the_broker_and_the_catalogues_not_tomtoolkits_alerce(client, user):
    from tom_dataservices.dataservices import get_data_service_classes

    services = get_data_service_classes()
    assert set(services) == {"ALeRCEBroker", "Simbad", "TNS", "NED", "MPC Explorer"}
    catalogues = [cls for name, cls in services.items() if name != "ALeRCEBroker"]
    assert all(cls.__module__ == "alerce_broker_plugin.upstream_services" for cls in catalogues)
