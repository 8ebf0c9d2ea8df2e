"""GitHub Apps in the sandbox: an App with its own RSA key pair, its installations and their tokens.

As on GitHub: the App authenticates with a JWT signed by its private key (RS256, `iss` = the app id,
`iat` not in the future, `exp` at most 10 minutes ahead, both on the server's clock), mints
installation tokens with it (`POST /app/installations/{id}/access_tokens`), and an installation
token acts as `<app-slug>[bot]`, a user of type `Bot`, until it expires (then 401 "Bad credentials").
The sandbox keeps only the public key; the private key is handed out once, by `add_app`.
"""

from __future__ import annotations

import os
import secrets
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sandbox.models import SandboxError

DEFAULT_PERMISSIONS = {"issues": "write", "pull_requests": "write", "contents": "write", "metadata": "read"}
DEFAULT_EVENTS = ["issues", "issue_comment", "pull_request", "push"]
JWT_MAX_SECONDS = 600  # GitHub: `exp` no more than 10 minutes into the future
TOKEN_ALPHABET = string.ascii_letters + string.digits


@dataclass
class App:
    id: int
    slug: str
    name: str
    owner: str
    client_id: str
    public_key_pem: str
    created_at: datetime
    permissions: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PERMISSIONS))
    events: list[str] = field(default_factory=lambda: list(DEFAULT_EVENTS))

    @property
    def bot_login(self) -> str:
        return f"{self.slug}[bot]"


@dataclass
class Installation:
    id: int
    app_id: int
    account: str  # the organisation or user it is installed on
    created_at: datetime
    repository_selection: str = "all"


@dataclass
class InstallationToken:
    token: str
    installation_id: int
    expires_at: datetime
    permissions: dict[str, str] = field(default_factory=dict)


@dataclass
class Caller:
    """Who an Authorization value authenticates as, for App credentials (None: not App credentials)."""

    login: str | None = None  # the bot, for an installation token
    app_id: int | None = None  # the App, for a JWT
    error: str | None = None  # 401's message when the credentials are refused


def generate_private_key() -> tuple[str, str]:
    """(private PEM, public PEM) of a fresh 2048-bit RSA key pair."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return private, public


class AppMixin:
    """The state's Apps (kept across `reset()`, like tokens), installations and installation tokens."""

    def _init_apps(self) -> None:
        self.apps: dict[int, App] = {}
        self.installations: dict[int, Installation] = {}
        self.installation_tokens: dict[str, InstallationToken] = {}
        self.installation_token_seconds = 3600  # GitHub's: one hour; tests make it seconds

    def add_app(self, slug: str, owner: str, accounts: tuple[str, ...] = ()) -> tuple[App, list[Installation], str]:
        """Register an App owned by `owner`, installed on `accounts` (default: the owner); returns the
        App, its installations and the private key (PEM), which the sandbox does not keep."""
        private, public = generate_private_key()
        with self.lock:  # type: ignore[attr-defined]
            app = App(self.next_id(), slug, slug.replace("-", " ").title(), owner,  # type: ignore[attr-defined]
                      f"Iv1.{secrets.token_hex(8)}", public, self.clock())  # type: ignore[attr-defined]  # fmt: skip
            self.apps[app.id] = app
            self.user(app.bot_login, type="Bot")  # type: ignore[attr-defined]
            installed = [self.install_app(app.id, account) for account in (accounts or (owner,))]
        return app, installed, private

    def install_app(self, app_id: int, account: str) -> Installation:
        with self.lock:  # type: ignore[attr-defined]
            inst = Installation(self.next_id(), app_id, account, self.clock())  # type: ignore[attr-defined]
            self.installations[inst.id] = inst
            return inst

    def installation_for(self, app_id: int, account: str) -> Installation:
        """The App's installation on an organisation or user (404 when it is not installed there)."""
        with self.lock:  # type: ignore[attr-defined]
            for inst in self.installations.values():
                if inst.app_id == app_id and inst.account.lower() == account.lower():
                    return inst
        raise SandboxError(404, "Not Found")

    def mint_installation_token(self, app_id: int, installation_id: int, permissions: dict | None) -> InstallationToken:
        """A fresh `ghs_` token for the installation, living `installation_token_seconds`."""
        with self.lock:  # type: ignore[attr-defined]
            inst = self.installations.get(installation_id)
            if inst is None or inst.app_id != app_id:
                raise SandboxError(404, "Not Found")
            granted = dict(self.apps[app_id].permissions)
            asked = {str(k): str(v) for k, v in (permissions or {}).items()}
            if any(name not in granted for name in asked):
                raise SandboxError(422, "The permissions requested are not granted to this installation.")
            token = "ghs_" + "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(36))
            expires = self.clock() + timedelta(seconds=self.installation_token_seconds)  # type: ignore[attr-defined]
            minted = InstallationToken(token, installation_id, expires, asked or granted)
            self.installation_tokens[token] = minted
            return minted

    def app_caller(self, value: str) -> Caller | None:
        """The App identity of an Authorization value: an installation token or a JWT (None: neither)."""
        with self.lock:  # type: ignore[attr-defined]
            minted = self.installation_tokens.get(value)
            if minted is not None:
                if minted.expires_at <= self.clock():  # type: ignore[attr-defined]
                    return Caller(error="Bad credentials")
                inst = self.installations[minted.installation_id]
                bot = self.user(self.apps[inst.app_id].bot_login, type="Bot")  # type: ignore[attr-defined]
                bot.type = "Bot"  # also after a reset() emptied the users
                return Caller(login=bot.login)
            if value.count(".") == 2 and value.startswith("eyJ"):
                return self._jwt_caller(value)
        return None

    def _jwt_caller(self, value: str) -> Caller:
        """GitHub's checks of an App's JWT, on the sandbox's clock."""
        try:
            claims = jwt.decode(value, options={"verify_signature": False})
            app = next((a for a in self.apps.values() if str(claims.get("iss")) in (str(a.id), a.client_id)), None)
            if app is None:
                return Caller(error="Integration not found")
            checks = {"verify_exp": False, "verify_iat": False, "require": ["iat", "exp", "iss"]}  # ours, below
            claims = jwt.decode(value, app.public_key_pem, algorithms=["RS256"], options=checks)
        except jwt.PyJWTError:
            return Caller(error="A JSON web token could not be decoded")
        now = int(self.clock().timestamp())  # type: ignore[attr-defined]
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int) or iat > now:
            return Caller(error="'Issued at' claim ('iat') must be an Integer representing a time in the past")
        if not isinstance(exp, int) or exp > now + JWT_MAX_SECONDS:
            return Caller(error="'Expiration time' claim ('exp') is too far in the future")
        if exp <= now:
            return Caller(error="'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires")  # noqa: E501
        return Caller(app_id=app.id)


def write_private_key(pem: str, path: str | os.PathLike[str]) -> Path:
    """Write a private key readable by its owner only (mode 0600, also when the file existed)."""
    path = Path(path).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(pem)
    path.chmod(0o600)
    return path


def free_slug(state: AppMixin, wanted: str) -> str:
    """`wanted`, or `wanted-2`, `wanted-3`, … when an App already has that slug."""
    taken = {app.slug for app in state.apps.values()}
    slug, n = wanted, 1
    while slug in taken:
        n += 1
        slug = f"{wanted}-{n}"
    return slug
