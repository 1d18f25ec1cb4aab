"""When credentials are required: DOCFLOW_AUTH, and in `auto` where the API listens."""

from __future__ import annotations

import ipaddress

from docflow.config import AuthMode, Settings


def is_loopback(host: str | None) -> bool:
    """Whether `host` is a loopback address; a name other than localhost counts as public."""
    if not host:
        return False
    host = host.strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _public_ip(host: str | None) -> bool:
    try:
        return host is not None and not ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # not an address (a test client's "testserver"): no evidence either way


def credentials_required(settings: Settings, local_address: str | None = None) -> bool:
    """Whether a request must bring credentials. In auto mode, open only while the API listens
    on loopback (listen_host) and the connection did arrive on a loopback address: a request
    that reached a non-loopback socket proves the server is reachable from elsewhere."""
    if settings.auth == AuthMode.OFF:
        return False
    if settings.auth == AuthMode.REQUIRED:
        return True
    return not is_loopback(settings.listen_host) or _public_ip(local_address)


def trusted_proxy(settings: Settings, client: str | None) -> bool:
    if not client or not settings.auth_trusted_proxies.strip():
        return False
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    for item in settings.auth_trusted_proxies.split(","):
        if item.strip() and address in ipaddress.ip_network(item.strip(), strict=False):
            return True
    return False
