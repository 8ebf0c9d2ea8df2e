"""What every shape builds on: GitHub's timestamp format, the base URLs, simple-user, bodies by media type."""

from __future__ import annotations

import re
from datetime import datetime
from html import escape
from urllib.parse import quote

from sandbox.state import SandboxState, User, node_id

DOCS = "https://docs.github.com/rest"


def ts(value: datetime | None) -> str | None:
    """GitHub's timestamp format: 2024-01-31T12:00:00Z."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


class ShapesBase:
    """Serialises state objects; `api` is the server's base URL, `media` the requested body format."""

    def __init__(self, state: SandboxState, api: str, media: str = "raw") -> None:
        self.state = state
        self.api = api.rstrip("/")
        self.html = self.api  # like GitHub Enterprise: pages and API on one host
        self.media = media

    def user(self, login: str | None) -> dict | None:
        """simple-user."""
        if login is None:
            return None
        u: User = self.state.user(login)
        url = f"{self.api}/users/{u.login}"
        kind = u.type if u.type in ("Bot", "Organization") else "User"
        html = f"{self.html}/apps/{u.login.removesuffix('[bot]')}" if u.type == "Bot" else f"{self.html}/{u.login}"
        return {
            "login": u.login,
            "id": u.id,
            "node_id": node_id(kind, u.id),
            "avatar_url": f"https://avatars.githubusercontent.com/u/{u.id}?v=4",
            "gravatar_id": "",
            "url": url,
            "html_url": html,
            "followers_url": f"{url}/followers",
            "following_url": f"{url}/following{{/other_user}}",
            "gists_url": f"{url}/gists{{/gist_id}}",
            "starred_url": f"{url}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{url}/subscriptions",
            "organizations_url": f"{url}/orgs",
            "repos_url": f"{url}/repos",
            "events_url": f"{url}/events{{/privacy}}",
            "received_events_url": f"{url}/received_events",
            "type": u.type,
            "user_view_type": "public",
            "site_admin": u.site_admin,
        }

    def _body(self, text: str | None) -> dict:
        """body / body_text / body_html as the Accept media type asks."""
        out: dict = {}
        if self.media in ("raw", "full"):
            out["body"] = text
        if self.media in ("text", "full"):
            out["body_text"] = _to_text(text)
        if self.media in ("html", "full"):
            out["body_html"] = _to_html(text)
        return out

    def _reactions(self, url: str) -> dict:
        return {
            "url": f"{url}/reactions",
            "total_count": 0,
            "+1": 0,
            "-1": 0,
            "laugh": 0,
            "hooray": 0,
            "confused": 0,
            "heart": 0,
            "rocket": 0,
            "eyes": 0,
        }


def quote_name(name: str) -> str:
    """A name as a URL path segment."""
    return quote(name, safe="", errors="surrogatepass")  # a label may hold a lone surrogate


def _to_text(text: str | None) -> str | None:
    """Rough plain text of markdown (what body_text gives)."""
    if text is None:
        return None
    return re.sub(r"[`*_#>]", "", text).strip()


def _to_html(text: str | None) -> str | None:
    """Rough HTML of markdown (what body_html gives): escaped paragraphs."""
    if text is None:
        return None
    return "\n".join(f"<p>{escape(p)}</p>" for p in text.split("\n\n") if p.strip())
