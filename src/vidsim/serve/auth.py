"""API keys: `Authorization: Bearer KEY`, checked against every key of the keys file in constant
time; without a keys file the service only listens on loopback (`check_bind`)."""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
from pathlib import Path

from vidsim.errors import ConfigError


class ApiKeys:
    """The keys of one keys file (one per line; blank lines and lines starting with # are left out)."""

    def __init__(self, keys: list[str]):
        if not keys:
            raise ConfigError("no API keys given")
        # digests of equal length, so that comparing them takes the same time whatever the key's length
        self._digests = [hashlib.sha256(key.encode()).digest() for key in keys]

    @classmethod
    def read(cls, path: Path) -> ApiKeys:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such API keys file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read the API keys file ({exc})") from None
        keys = [line.strip() for line in text.splitlines()]
        keys = [key for key in keys if key and not key.startswith("#")]
        if not keys:
            raise ConfigError(f"{path}: no API key in the file (one key per line)")
        short = [n for n, key in enumerate(keys, 1) if len(key) < 16]
        if short:
            raise ConfigError(f"{path}: key {short[0]} is shorter than 16 characters; use long random keys "
                              "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)")
        return cls(keys)

    def accepts(self, authorization: str | None) -> bool:
        """Whether an Authorization header carries one of the keys; every key is compared, each in
        constant time, so the time taken tells nothing about which key came close."""
        if not authorization:
            return False
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return False
        given = hashlib.sha256(token.strip().encode("utf-8", "surrogateescape")).digest()
        found = False
        for digest in self._digests:
            found |= hmac.compare_digest(given, digest)
        return found


def is_loopback(host: str) -> bool:
    """Whether `host` names only this machine (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, keys: ApiKeys | None) -> None:
    """Refuse to listen beyond loopback without API keys: anyone who reached the port could search
    and change the index."""
    if keys is None and not is_loopback(host):
        raise ConfigError(f"--host {host}: refusing to listen beyond this machine without API keys; give "
                          "--api-keys FILE (one key per line) or listen on 127.0.0.1")
