"""Shapes of GitHub Apps: integration (GET /app), installation and installation-token."""

from __future__ import annotations

from sandbox.apps import App, Installation, InstallationToken
from sandbox.shapes.base import ShapesBase, ts
from sandbox.state import node_id


class AppShapes(ShapesBase):
    def integration(self, app: App) -> dict:
        """integration, as the App sees itself (with installations_count)."""
        return {
            "id": app.id,
            "client_id": app.client_id,
            "slug": app.slug,
            "node_id": node_id("Integration", app.id),
            "owner": self.user(app.owner),
            "name": app.name,
            "description": "",
            "external_url": f"{self.html}/{app.owner}",
            "html_url": f"{self.html}/apps/{app.slug}",
            "created_at": ts(app.created_at),
            "updated_at": ts(app.created_at),
            "permissions": dict(app.permissions),
            "events": list(app.events),
            "installations_count": sum(1 for i in self.state.installations.values() if i.app_id == app.id),
        }

    def installation(self, inst: Installation) -> dict:
        """installation."""
        app = self.state.apps[inst.app_id]
        account = self.state.user(inst.account)
        return {
            "id": inst.id,
            "client_id": app.client_id,
            "account": self.user(inst.account),
            "repository_selection": inst.repository_selection,
            "access_tokens_url": f"{self.api}/app/installations/{inst.id}/access_tokens",
            "repositories_url": f"{self.api}/installation/repositories",
            "html_url": f"{self.html}/organizations/{account.login}/settings/installations/{inst.id}",
            "app_id": app.id,
            "app_slug": app.slug,
            "target_id": account.id,
            "target_type": account.type,
            "permissions": dict(app.permissions),
            "events": list(app.events),
            "created_at": ts(inst.created_at),
            "updated_at": ts(inst.created_at),
            "single_file_name": None,
            "has_multiple_single_files": False,
            "single_file_paths": [],
            "suspended_by": None,
            "suspended_at": None,
        }

    def installation_token(self, minted: InstallationToken) -> dict:
        """installation-token (POST /app/installations/{id}/access_tokens)."""
        inst = self.state.installations[minted.installation_id]
        return {
            "token": minted.token,
            "expires_at": ts(minted.expires_at),
            "permissions": dict(minted.permissions),
            "repository_selection": inst.repository_selection,
        }
