"""Shapes of accounts: public-user / private-user and organization-full."""

from __future__ import annotations

from sandbox.shapes.base import ShapesBase, ts
from sandbox.state import node_id


class AccountShapes(ShapesBase):
    def full_user(self, login: str, private: bool = False) -> dict:
        """public-user (or private-user for GET /user)."""
        u = self.state.user(login)
        owned = [r for r in self.state.repos.values() if r.owner.lower() == u.login.lower()]
        data = {
            **(self.user(login) or {}),
            "name": u.name,
            "company": None,
            "blog": "",
            "location": None,
            "email": None,
            "hireable": None,
            "bio": None,
            "twitter_username": None,
            "public_repos": sum(1 for r in owned if not r.private),
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "created_at": ts(u.created_at),
            "updated_at": ts(u.created_at),
        }
        if private:
            data.update(
                {
                    "private_gists": 0,
                    "total_private_repos": sum(1 for r in owned if r.private),
                    "owned_private_repos": sum(1 for r in owned if r.private),
                    "disk_usage": 0,
                    "collaborators": 0,
                    "two_factor_authentication": True,
                    "plan": {"name": "free", "space": 976562499, "collaborators": 0, "private_repos": 10000},
                }
            )
        return data

    def org(self, login: str) -> dict:
        """organization-full."""
        o = self.state.orgs[login.lower()]
        url = f"{self.api}/orgs/{o.login}"
        repos = [r for r in self.state.repos.values() if r.owner.lower() == o.login.lower()]
        return {
            "login": o.login,
            "id": o.id,
            "node_id": node_id("Organization", o.id),
            "url": url,
            "repos_url": f"{url}/repos",
            "events_url": f"{url}/events",
            "hooks_url": f"{url}/hooks",
            "issues_url": f"{url}/issues",
            "members_url": f"{url}/members{{/member}}",
            "public_members_url": f"{url}/public_members{{/member}}",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{o.id}?v=4",
            "description": o.name and f"{o.name} organisation",
            "name": o.name,
            "blog": "",
            "twitter_username": None,
            "is_verified": False,
            "has_organization_projects": True,
            "has_repository_projects": True,
            "public_repos": sum(1 for r in repos if not r.private),
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "html_url": f"{self.html}/{o.login}",
            "created_at": ts(o.created_at),
            "updated_at": ts(max([o.created_at, *(r.updated_at for r in repos)])),
            "archived_at": None,
            "type": "Organization",
        }
