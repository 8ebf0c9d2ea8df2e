"""Shapes of repositories and their labels."""

from __future__ import annotations

from sandbox.shapes.base import ShapesBase, quote_name, ts
from sandbox.state import Label, Repo, node_id

# The URL templates of a repository, in GitHub's order, as suffixes of its API URL.
REPO_URL_TEMPLATES = (
    ("forks_url", "/forks"),
    ("keys_url", "/keys{/key_id}"),
    ("collaborators_url", "/collaborators{/collaborator}"),
    ("teams_url", "/teams"),
    ("hooks_url", "/hooks"),
    ("issue_events_url", "/issues/events{/number}"),
    ("events_url", "/events"),
    ("assignees_url", "/assignees{/user}"),
    ("branches_url", "/branches{/branch}"),
    ("tags_url", "/tags"),
    ("blobs_url", "/git/blobs{/sha}"),
    ("git_tags_url", "/git/tags{/sha}"),
    ("git_refs_url", "/git/refs{/sha}"),
    ("trees_url", "/git/trees{/sha}"),
    ("statuses_url", "/statuses/{sha}"),
    ("languages_url", "/languages"),
    ("stargazers_url", "/stargazers"),
    ("contributors_url", "/contributors"),
    ("subscribers_url", "/subscribers"),
    ("subscription_url", "/subscription"),
    ("commits_url", "/commits{/sha}"),
    ("git_commits_url", "/git/commits{/sha}"),
    ("comments_url", "/comments{/number}"),
    ("issue_comment_url", "/issues/comments{/number}"),
    ("contents_url", "/contents/{+path}"),
    ("compare_url", "/compare/{base}...{head}"),
    ("merges_url", "/merges"),
    ("archive_url", "/{archive_format}{/ref}"),
    ("downloads_url", "/downloads"),
    ("issues_url", "/issues{/number}"),
    ("pulls_url", "/pulls{/number}"),
    ("milestones_url", "/milestones{/number}"),
    ("notifications_url", "/notifications{?since,all,participating}"),
    ("labels_url", "/labels{/name}"),
    ("releases_url", "/releases{/id}"),
    ("deployments_url", "/deployments"),
)
ALL_PERMISSIONS = {"admin": True, "maintain": True, "push": True, "triage": True, "pull": True}


class RepoShapes(ShapesBase):
    def repo(self, r: Repo, full: bool = False) -> dict:
        """repository as in lists (full=False) or full-repository (GET /repos/{o}/{r})."""
        url = f"{self.api}/repos/{r.full_name}"
        data = {
            **self._repo_identity(r),
            "url": url,
            **{key: f"{url}{suffix}" for key, suffix in REPO_URL_TEMPLATES},
            **self._repo_dates_and_clones(r),
            **self._repo_counts_and_flags(r),
        }
        if full:
            data.update({"temp_clone_token": "", "network_count": 0, "subscribers_count": 0})
            if r.owner.lower() in self.state.orgs:
                data["organization"] = self.user(r.owner)
        return data

    def _repo_identity(self, r: Repo) -> dict:
        return {
            "id": r.id,
            "node_id": node_id("Repository", r.id),
            "name": r.name,
            "full_name": r.full_name,
            "private": r.private,
            "owner": self.user(r.owner),
            "html_url": f"{self.html}/{r.full_name}",
            "description": r.description,
            "fork": False,
        }

    def _repo_dates_and_clones(self, r: Repo) -> dict:
        return {
            "created_at": ts(r.created_at),
            "updated_at": ts(r.updated_at),
            "pushed_at": ts(r.pushed_at),
            "git_url": f"git://{self.api.split('://', 1)[-1]}/{r.full_name}.git",
            "ssh_url": f"git@sandbox:{r.full_name}.git",
            "clone_url": f"{self.html}/{r.full_name}.git",
            "svn_url": f"{self.html}/{r.full_name}",
            "homepage": None,
        }

    def _repo_counts_and_flags(self, r: Repo) -> dict:
        open_count = self._open_issue_count(r)
        return {
            "size": 128 + len(r.commits),
            "stargazers_count": 0,
            "watchers_count": 0,
            "language": r.language,
            "has_issues": True,
            "has_projects": True,
            "has_downloads": True,
            "has_wiki": False,
            "has_pages": False,
            "has_discussions": False,
            "forks_count": 0,
            "mirror_url": None,
            "archived": r.archived,
            "disabled": False,
            "open_issues_count": open_count,
            "license": None,
            "allow_forking": True,
            "is_template": False,
            "web_commit_signoff_required": False,
            "topics": list(r.topics),
            "visibility": "private" if r.private else "public",
            "forks": 0,
            "open_issues": open_count,
            "watchers": 0,
            "default_branch": r.default_branch,
            "permissions": dict(ALL_PERMISSIONS),
        }

    def _open_issue_count(self, r: Repo) -> int:
        """Open issues and PRs (GitHub counts both), not deleted or transferred."""
        return sum(
            1
            for (rid, _), i in self.state.issues.items()
            if rid == r.id and i.state == "open" and not i.deleted and i.moved_to is None
        )

    def minimal_repo(self, r: Repo) -> dict:
        """minimal-repository (embedded in statuses, PR heads...)."""
        return self.repo(r)

    def label(self, r: Repo, name: str) -> dict:
        """label."""
        lab: Label | None = r.labels.get(name.lower())
        if lab is None:
            lab = self.state._label_obj(r, name)
        return {
            "id": lab.id,
            "node_id": node_id("Label", lab.id),
            "url": f"{self.api}/repos/{r.full_name}/labels/{quote_name(lab.name)}",
            "name": lab.name,
            "color": lab.color,
            "default": lab.default,
            "description": lab.description,
        }
