"""Hosted models may reach only the hosts an instance administrator allows, and may be sent only the
API keys the instance offers: a team admin cannot point a model at the instance's own network or make
the workers send their secrets."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse

from llmcore import endpoints, services
from llmcore.endpoints import EndpointPolicy, EndpointRefused
from llmcore.engine import runtime
from llmcore.engine.params import InferenceParams
from llmcore.engine.types import FinishReason, GenerationRequest, ModelUnavailable
from llmcore.models import ModelConfig
from tests.factories import make_model_config
from tests.llmcore.test_backend_openai import FakeServer, completion, spec_for
from tests.llmcore.test_registry_views import VALID_MODEL

HOSTED = {
    **VALID_MODEL,
    "name": "Hosted",
    "backend": "openai-compatible",
    "remote_model": "gpt-test",
    "external": "on",
    "open_weights": "",
    "cost_per_hour": "0",
}


@pytest.fixture(autouse=True)
def _test_key(monkeypatch):
    monkeypatch.setenv("ASSAY_MODEL_KEY_TEST", "sk-test-123")


def resolves_to(*addresses):
    def fake(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in addresses]

    return fake


def ask() -> GenerationRequest:
    return GenerationRequest.from_prompt("Capital of France?", InferenceParams(), key="q1")


def create(client, team, **fields):
    return client.post(reverse("model_create", args=[team.slug]), {**HOSTED, **fields})


# -- registration by a team admin -------------------------------------------------------------------------


def test_hosted_models_are_off_until_an_instance_administrator_allows_a_host(owner_client, team, settings):
    settings.ASSAY_MODEL_HOSTS = []
    response = create(owner_client, team, source="https://api.example.com/v1")
    assert response.status_code == 200
    assert "Hosted models are turned off on this instance" in response.content.decode()
    assert not ModelConfig.objects.filter(team=team).exists()


@pytest.mark.parametrize(
    "source",
    [
        "http://127.0.0.1:6379/v1",  # the instance's Redis
        "http://169.254.169.254/latest",  # a cloud metadata service
        "http://10.0.0.5:5432/v1",
        "http://[::1]:8000/v1",
        "http://[::ffff:127.0.0.1]:8000/v1",
        "http://attacker.example/v1",
    ],
)
def test_a_team_admin_cannot_point_a_model_at_an_address_not_allowed(owner_client, team, settings, source):
    settings.ASSAY_MODEL_HOSTS = ["api.example.com"]
    response = create(owner_client, team, source=source)
    body = response.content.decode()
    assert response.status_code == 200 and "not a host models may call" in body
    assert not ModelConfig.objects.filter(team=team).exists()


def test_an_allowed_name_that_resolves_to_a_private_address_is_refused(
    owner_client, team, settings, monkeypatch
):
    settings.ASSAY_MODEL_HOSTS = ["api.example.com"]
    monkeypatch.setattr(socket, "getaddrinfo", resolves_to("10.1.2.3"))
    response = create(owner_client, team, source="https://api.example.com/v1")
    body = response.content.decode()
    assert "resolves to 10.1.2.3, a private address" in body
    assert not ModelConfig.objects.filter(team=team).exists()


@pytest.mark.parametrize("variable", ["SECRET_KEY", "DATABASE_URL", "HOME"])
def test_a_team_admin_cannot_name_an_environment_variable_as_the_api_key(
    owner_client, team, settings, monkeypatch, variable
):
    settings.ASSAY_MODEL_HOSTS = ["api.example.com"]
    monkeypatch.setattr(socket, "getaddrinfo", resolves_to("93.184.216.34"))
    response = create(owner_client, team, source="https://api.example.com/v1", api_key_env=variable)
    assert "Pick one of the API keys this instance offers" in response.content.decode()
    assert not ModelConfig.objects.filter(team=team).exists()


def test_the_form_offers_only_the_instances_model_key_variables(owner_client, team, monkeypatch):
    monkeypatch.setenv("ASSAY_MODEL_KEY_OPENAI", "sk-real-secret")
    body = owner_client.get(reverse("model_create", args=[team.slug])).content.decode()
    assert '<option value="ASSAY_MODEL_KEY_OPENAI">' in body
    assert "SECRET_KEY" not in body and "sk-real-secret" not in body
    assert '<input type="text" name="api_key_env"' not in body


# -- request time ------------------------------------------------------------------------------------------


def test_an_allowed_loopback_server_registered_by_a_team_admin_works(
    owner_client, team, owner, settings, monkeypatch
):
    monkeypatch.setenv("ASSAY_MODEL_KEY_LOCAL", "sk-local-1")
    with FakeServer([(200, completion("Paris."))]) as server:
        settings.ASSAY_MODEL_HOSTS = [f"127.0.0.1:{server.httpd.server_address[1]}"]
        response = create(owner_client, team, source=server.base_url, api_key_env="ASSAY_MODEL_KEY_LOCAL")
        assert response.status_code == 302, response.content.decode()
        config = ModelConfig.objects.get(team=team, name="Hosted")
        (result,) = services.run_inference(config.id, [ask()], team_id=team.id, user_id=owner.id)
    assert result.finish_reason == FinishReason.STOP and result.text == "Paris."
    assert server.headers[0]["Authorization"] == "Bearer sk-local-1"


def test_a_stored_row_naming_another_variable_sends_nothing(team, settings, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "the-instance-secret")
    with FakeServer([(200, completion())]) as server:
        settings.ASSAY_MODEL_HOSTS = ["127.0.0.1"]
        config = make_model_config(
            team,
            name="Sneaky",
            backend="openai-compatible",
            source=server.base_url,
            remote_model="m",
            api_key_env="SECRET_KEY",
        )
        with pytest.raises(ModelUnavailable, match="only variables named ASSAY_MODEL_KEY_"):
            services.run_inference(config.id, [ask()], team_id=team.id)
    assert server.requests == []


def test_the_check_happens_at_request_time(settings):
    with FakeServer([(200, completion())]) as server:
        settings.ASSAY_MODEL_HOSTS = []  # allowed at registration, since removed
        with pytest.raises(EndpointRefused, match="turned off"):
            runtime.generate(spec_for(server, name="was-allowed"), [ask()])
    assert server.requests == []


def test_redirects_are_not_followed_so_the_key_stays_with_the_allowed_host(settings):
    seen: list[dict] = []

    class Elsewhere(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(dict(self.headers))
            self.send_response(200)
            self.end_headers()

        do_POST = do_GET

        def log_message(self, *args):
            pass

    elsewhere = ThreadingHTTPServer(("127.0.0.1", 0), Elsewhere)
    threading.Thread(target=elsewhere.serve_forever, daemon=True).start()
    try:
        target = f"http://127.0.0.1:{elsewhere.server_address[1]}/steal"
        with FakeServer([(302, {}, {"Location": target})]) as server:
            settings.ASSAY_MODEL_HOSTS = ["127.0.0.1"]
            (result,) = runtime.generate(spec_for(server, name="redirecting", max_retries=0), [ask()])
    finally:
        elsewhere.shutdown()
        elsewhere.server_close()
    assert result.finish_reason == FinishReason.ERROR and "HTTP 302" in result.error
    assert seen == []


def test_a_name_that_changes_address_after_the_check_is_refused_on_connect(settings, monkeypatch):
    """DNS rebinding: public when checked, loopback when connected."""
    with FakeServer([(200, completion())]) as server:
        port = server.httpd.server_address[1]
        settings.ASSAY_MODEL_HOSTS = ["rebind.example"]
        answers = iter([resolves_to("93.184.216.34"), resolves_to("127.0.0.1")])
        monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: next(answers)(*a, **k))
        spec = spec_for(server, name="rebinding", source=f"http://rebind.example:{port}/v1", max_retries=0)
        with pytest.raises(EndpointRefused, match="now resolves to 127.0.0.1"):
            runtime.generate(spec, [ask()])
    assert server.requests == []


# -- the policy itself ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entries", "url", "addresses", "allowed"),
    [
        (["api.openai.com"], "https://api.openai.com/v1", ["104.18.6.192"], True),
        (["api.openai.com"], "https://API.OpenAI.com./v1", ["104.18.6.192"], True),
        (["*.openai.azure.com"], "https://me.openai.azure.com/v1", ["20.1.2.3"], True),
        (["*.openai.azure.com"], "https://openai.azure.com.evil.io/v1", ["20.1.2.3"], False),
        (["vllm.lan:8000"], "http://vllm.lan:8001/v1", ["93.184.216.34"], False),
        (["localhost"], "http://localhost:8000/v1", ["127.0.0.1"], False),  # name, not address
        (["127.0.0.1:8080"], "http://127.0.0.1:8080/v1", [], True),
        (["127.0.0.1:8080"], "http://127.0.0.1:6379/v1", [], False),
        (["10.0.0.0/8"], "http://10.4.5.6:8000/v1", [], True),
        (["vllm.lan", "10.0.0.0/8"], "http://vllm.lan/v1", ["10.0.0.7"], True),
        (["vllm.lan"], "http://vllm.lan/v1", ["93.184.216.34", "192.168.1.1"], False),
        (["api.openai.com"], "https://user:pw@api.openai.com/v1", ["104.18.6.192"], False),
        (["api.openai.com"], "file:///etc/passwd", [], False),
        (["100.64.0.0/10"], "http://100.64.1.1/v1", [], True),
        (["api.example.com"], "http://api.example.com/v1", ["100.64.1.1"], False),  # shared range
    ],
)
def test_policy(entries, url, addresses, allowed):
    policy = EndpointPolicy.parse(entries)
    check = lambda: endpoints.check_url(url, policy=policy, resolve=resolves_to(*addresses))  # noqa: E731
    if allowed:
        check()
    else:
        with pytest.raises(EndpointRefused):
            check()


def test_only_model_key_variables_are_read():
    assert endpoints.is_allowed_key_name("ASSAY_MODEL_KEY_OPENAI")
    assert not endpoints.is_allowed_key_name("SECRET_KEY")
    assert not endpoints.is_allowed_key_name("ASSAY_MODEL_KEY_")
    assert endpoints.available_key_names(
        {"ASSAY_MODEL_KEY_A": "x", "ASSAY_MODEL_KEY_B": "", "PATH": "/"}
    ) == ["ASSAY_MODEL_KEY_A"]
    with pytest.raises(EndpointRefused):
        endpoints.api_key("DATABASE_URL")
