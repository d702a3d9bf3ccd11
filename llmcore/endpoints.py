"""Where hosted models may be reached, and which API keys they may be sent.

A model's base URL and API key are chosen by team admins, but the requests leave from the instance's
workers, which can reach addresses (loopback, the private network, cloud metadata services) and hold
secrets (SECRET_KEY, DATABASE_URL) that no team may touch. So:

- Hosts: an instance administrator lists the hosts models may call in ASSAY_MODEL_HOSTS (comma-separated;
  empty by default, so hosted models are off until someone allows a host). An entry is a host name
  (`api.openai.com`), a wildcard (`*.openai.azure.com`), either of them with a port (`vllm.lan:8000`), an
  IP address (`127.0.0.1`, `127.0.0.1:8080`) or a network (`10.0.0.0/8`).
- Addresses: the host is resolved at request time and every address it resolves to must be public,
  unless it is inside an address or network listed explicitly. A host name that resolves to loopback,
  link-local or private addresses is refused even when the name is listed: list the address (or its
  network) to allow a local vLLM or llama.cpp server.
- Redirects are never followed (the API key would go along with them).
- API keys: read only from environment variables whose names start with ASSAY_MODEL_KEY_. Team admins
  pick one of those present on the instance; nothing else in the workers' environment can be named.

`check_url` is the request-time check; `client()` is the pooled httpx client that runs it before every
request, does not follow redirects, and checks the address each connection actually reached as well (so
a DNS answer that changes between the check and the connection is caught).
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import ssl
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

import certifi
import httpcore
import httpx

from llmcore.engine.types import ModelUnavailable

KEY_PREFIX = "ASSAY_MODEL_KEY_"
_KEY_NAME = re.compile(r"^ASSAY_MODEL_KEY_[A-Z0-9_]{1,80}$")
_HOSTS_SETTING = "ASSAY_MODEL_HOSTS"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class EndpointRefused(ModelUnavailable):
    """The URL or the address it resolves to is not one the instance allows models to call."""


# -- API keys ------------------------------------------------------------------------------------------


def is_allowed_key_name(name: str) -> bool:
    """Only ASSAY_MODEL_KEY_* variables may be sent to a model server ("" means no key)."""
    return name == "" or bool(_KEY_NAME.match(name))


def available_key_names(environ: dict[str, str] | None = None) -> list[str]:
    """The API key variables set on this instance, for team admins to pick from."""
    environ = os.environ if environ is None else environ
    return sorted(name for name, value in environ.items() if value and _KEY_NAME.match(name))


def api_key(name: str) -> str:
    """The value of an allowed API key variable; refuses any other variable."""
    if not is_allowed_key_name(name):
        raise EndpointRefused(
            f"{name!r} is not an API key variable this instance allows: only variables named "
            f"{KEY_PREFIX}… can be sent to a model server."
        )
    return os.environ.get(name, "") if name else ""


# -- hosts and addresses --------------------------------------------------------------------------------


@dataclass(frozen=True)
class HostRule:
    pattern: str  # lower-case host name or wildcard
    port: int | None


@dataclass(frozen=True)
class EndpointPolicy:
    hosts: tuple[HostRule, ...] = ()
    networks: tuple[IPNetwork, ...] = ()  # networks and addresses listed without a port
    pinned: tuple[tuple[IPAddress, int], ...] = ()  # addresses listed with a port

    @classmethod
    def parse(cls, entries: Iterable[str]) -> EndpointPolicy:
        hosts: list[HostRule] = []
        networks: list[IPNetwork] = []
        pinned: list[tuple[IPAddress, int]] = []
        for raw in entries:
            entry = raw.strip().lower()
            if not entry:
                continue
            if "/" in entry:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            host, port = _split_host_port(entry)
            address = _ip_or_none(host)
            if address is None:
                hosts.append(HostRule(host, port))
            elif port is None:
                networks.append(ipaddress.ip_network(address))
            else:
                pinned.append((address, port))
                hosts.append(HostRule(str(address), port))
        return cls(tuple(hosts), tuple(networks), tuple(pinned))

    @property
    def is_empty(self) -> bool:
        return not self.hosts and not self.networks

    def allows_host(self, host: str, port: int) -> bool:
        host = host.lower().rstrip(".")
        address = _ip_or_none(host)
        if address is not None:
            if any(address in network for network in self.networks):
                return True
            host = str(address)
        return any(
            (rule.port is None or rule.port == port)
            and (rule.pattern == host or ("*" in rule.pattern and fnmatchcase(host, rule.pattern)))
            for rule in self.hosts
        )

    def allows_address(self, address: IPAddress, port: int) -> bool:
        address = _unmapped(address)
        if any(address in network for network in self.networks) or (address, port) in self.pinned:
            return True
        return address.is_global and not address.is_multicast


def current_policy() -> EndpointPolicy:
    """The instance's policy: settings.ASSAY_MODEL_HOSTS under Django, else the environment variable."""
    entries = _setting(_HOSTS_SETTING)
    if entries is None:
        entries = os.environ.get(_HOSTS_SETTING, "").split(",")
    elif isinstance(entries, str):
        entries = entries.split(",")
    return EndpointPolicy.parse(entries)


def check_url(
    url: str,
    *,
    policy: EndpointPolicy | None = None,
    resolve: Callable[..., list] | None = None,
) -> list[IPAddress]:
    """Refuses (EndpointRefused) a URL the instance does not allow; returns the addresses it resolves to.

    A name that does not resolve raises socket.gaierror (an OSError: the server cannot be reached)."""
    policy = current_policy() if policy is None else policy
    host, port = _host_and_port(url)
    if policy.is_empty:
        raise EndpointRefused(
            "Hosted models are turned off on this instance: an instance administrator allows the hosts "
            f"models may call in {_HOSTS_SETTING}."
        )
    if not policy.allows_host(host, port):
        raise EndpointRefused(
            f"{host} is not a host models may call on this instance; an instance administrator can add it "
            f"to {_HOSTS_SETTING}."
        )
    addresses = _resolve(host, port, resolve or socket.getaddrinfo)
    for address in addresses:
        if not policy.allows_address(address, port):
            raise EndpointRefused(
                f"{host} resolves to {address}, a {_kind(address)} address, which models may not call "
                f"unless an instance administrator lists that address or its network in {_HOSTS_SETTING}."
            )
    return addresses


def refusal(url: str, *, resolve: Callable[..., list] | None = None) -> str | None:
    """For forms: why this URL is refused, or None. A name that does not resolve yet is not refused here
    (it is checked again on every request)."""
    try:
        check_url(url, resolve=resolve)
    except EndpointRefused as exc:
        return str(exc)
    except (OSError, ValueError):
        return None
    return None


# -- the HTTP client -------------------------------------------------------------------------------------


class _GuardedNetwork(httpcore.SyncBackend):
    """Checks the address each new connection actually reached (a DNS answer that changed between
    check_url and the connection is caught here)."""

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        stream = super().connect_tcp(host, port, timeout, local_address, socket_options)
        sock = stream.get_extra_info("socket")
        peer = ipaddress.ip_address(sock.getpeername()[0].split("%")[0])
        if not current_policy().allows_address(peer, int(port)):
            stream.close()
            raise EndpointRefused(f"{host} now resolves to {peer}, a {_kind(peer)} address; refused.")
        return stream


class GuardedTransport(httpx.BaseTransport):
    """httpx transport for model servers: every request passes check_url first, connections are
    pooled (up to `connections`, kept alive) and checked when opened, no proxies from the environment."""

    def __init__(self, connections: int):
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl.create_default_context(cafile=certifi.where()),
            max_connections=connections,
            max_keepalive_connections=connections,
            keepalive_expiry=30.0,
            network_backend=_GuardedNetwork(),
        )
        # httpx's own transport maps httpcore's errors to httpx's; reuse it around our pool.
        self._inner = httpx.HTTPTransport()
        self._inner._pool.close()
        self._inner._pool = self._pool

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        check_url(str(request.url))
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


_clients: dict[int, httpx.Client] = {}
_clients_lock = threading.Lock()


def client(connections: int) -> httpx.Client:
    """A process-wide pooled client for model servers with room for `connections` requests in flight.
    Redirects are never followed (the API key would go along with them)."""
    with _clients_lock:
        found = _clients.get(connections)
        if found is None:
            found = _clients[connections] = httpx.Client(
                transport=GuardedTransport(connections), follow_redirects=False, trust_env=False
            )
        return found


# -- helpers -----------------------------------------------------------------------------------------------


def _setting(name: str):
    try:
        from django.conf import settings
    except ImportError:
        return None
    if not settings.configured and not os.environ.get("DJANGO_SETTINGS_MODULE"):
        return None
    return getattr(settings, name, None)


def _host_and_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise EndpointRefused(f"A model server's URL must start with http:// or https://, got {url!r}.")
    if parts.username is not None or parts.password is not None:
        raise EndpointRefused("A model server's URL may not carry a user name or password.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise EndpointRefused(f"{url!r} names no host.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise EndpointRefused(f"{url!r} has an invalid port.") from exc
    return host, port


def _split_host_port(entry: str) -> tuple[str, int | None]:
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else None
    if entry.count(":") == 1:
        host, port = entry.split(":")
        return host, int(port)
    return entry, None


def _ip_or_none(host: str) -> IPAddress | None:
    try:
        return _unmapped(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def _unmapped(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _resolve(host: str, port: int, resolve: Callable[..., list]) -> list[IPAddress]:
    literal = _ip_or_none(host)
    if literal is not None:
        return [literal]
    infos = resolve(host, port, type=socket.SOCK_STREAM)
    addresses = []
    for info in infos:
        address = _unmapped(ipaddress.ip_address(str(info[4][0]).split("%")[0]))
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise socket.gaierror(f"{host} resolves to no address")
    return addresses


def _kind(address: IPAddress) -> str:
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_private:
        return "private"
    if address.is_multicast:
        return "multicast"
    return "reserved"
