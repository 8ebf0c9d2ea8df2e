"""Shapes of git and CI objects: commits, refs, branches, check runs and commit statuses."""

from __future__ import annotations

from sandbox.shapes.base import ShapesBase, ts
from sandbox.state import CheckRun, Commit, Repo, Status, node_id


class GitShapes(ShapesBase):
    def commit(self, r: Repo, c: Commit) -> dict:
        """commit (as in branch details and comparisons)."""
        url = f"{self.api}/repos/{r.full_name}/commits/{c.sha}"
        person = {"name": c.author, "email": f"{c.author.lower()}@users.noreply.sandbox", "date": ts(c.date)}
        return {
            "sha": c.sha,
            "node_id": node_id("Commit", int(c.sha[:8], 16)),
            "url": url,
            "html_url": f"{self.html}/{r.full_name}/commit/{c.sha}",
            "comments_url": f"{url}/comments",
            "commit": {
                "author": person,
                "committer": person,
                "message": c.message,
                "tree": {"sha": c.sha[::-1], "url": f"{self.api}/repos/{r.full_name}/git/trees/{c.sha[::-1]}"},
                "url": f"{self.api}/repos/{r.full_name}/git/commits/{c.sha}",
                "comment_count": 0,
                "verification": {
                    "verified": False,
                    "reason": "unsigned",
                    "signature": None,
                    "payload": None,
                    "verified_at": None,
                },
            },
            "author": self.user(c.author),
            "committer": self.user(c.author),
            "parents": [
                {
                    "sha": p,
                    "url": f"{self.api}/repos/{r.full_name}/commits/{p}",
                    "html_url": f"{self.html}/{r.full_name}/commit/{p}",
                }
                for p in c.parents
            ],
        }

    def git_ref(self, r: Repo, branch: str) -> dict:
        """git-ref."""
        sha = r.branches[branch]
        return {
            "ref": f"refs/heads/{branch}",
            "node_id": node_id("Ref", abs(hash((r.id, branch))) % 10**9),
            "url": f"{self.api}/repos/{r.full_name}/git/refs/heads/{branch}",
            "object": {"sha": sha, "type": "commit", "url": f"{self.api}/repos/{r.full_name}/git/commits/{sha}"},
        }

    def short_branch(self, r: Repo, name: str) -> dict:
        """short-branch (GET /branches)."""
        sha = r.branches[name]
        return {
            "name": name,
            "commit": {"sha": sha, "url": f"{self.api}/repos/{r.full_name}/commits/{sha}"},
            "protected": name == r.default_branch,
        }

    def branch(self, r: Repo, name: str) -> dict:
        """branch-with-protection (GET /branches/{b})."""
        sha = r.branches[name]
        url = f"{self.api}/repos/{r.full_name}/branches/{name}"
        protected = name == r.default_branch
        return {
            "name": name,
            "commit": self.commit(r, r.commits[sha]),
            "_links": {"self": url, "html": f"{self.html}/{r.full_name}/tree/{name}"},
            "protected": protected,
            "protection": {
                "enabled": protected,
                "required_status_checks": {"enforcement_level": "off", "contexts": [], "checks": []},
            },
            "protection_url": f"{url}/protection",
        }

    def check_run(self, c: CheckRun) -> dict:
        """check-run."""
        r = self.state.repos[c.repo_id]
        url = f"{self.api}/repos/{r.full_name}/check-runs/{c.id}"
        return {
            "id": c.id,
            "name": c.name,
            "node_id": node_id("CheckRun", c.id),
            "head_sha": c.head_sha,
            "external_id": "",
            "url": url,
            "html_url": f"{self.html}/{r.full_name}/runs/{c.id}",
            "details_url": f"{self.html}/{r.full_name}/actions/runs/{c.id}",
            "status": c.status,
            "conclusion": c.conclusion,
            "started_at": ts(c.started_at),
            "completed_at": ts(c.completed_at),
            "output": {
                "title": None if c.conclusion is None else f"ci {c.conclusion}",
                "summary": None,
                "text": None,
                "annotations_count": 0,
                "annotations_url": f"{url}/annotations",
            },
            "check_suite": {"id": c.id + 1},
            "app": self._app(),
            "pull_requests": self._check_run_pulls(r, c.head_sha),
        }

    def _check_run_pulls(self, r: Repo, head_sha: str) -> list[dict]:
        """The open PRs whose head is the checked commit."""
        prs = []
        for i in self.state.issues.values():
            if i.repo_id == r.id and i.pull and i.state == "open" and self.state.pull_shas(i)[0] == head_sha:
                pr_head_sha, base_sha = self.state.pull_shas(i)
                prs.append(
                    {
                        "url": f"{self.api}/repos/{r.full_name}/pulls/{i.number}",
                        "id": i.pull.id,
                        "number": i.number,
                        "head": {"ref": i.pull.head_ref, "sha": pr_head_sha, "repo": self._repo_ref(r)},
                        "base": {"ref": i.pull.base_ref, "sha": base_sha, "repo": self._repo_ref(r)},
                    }
                )
        return prs

    def _repo_ref(self, r: Repo) -> dict:
        return {"id": r.id, "url": f"{self.api}/repos/{r.full_name}", "name": r.name}

    def _app(self) -> dict:
        return {
            "id": 15368,
            "slug": "github-actions",
            "node_id": "MDM6QXBwMTUzNjg=",
            "owner": self.user("github"),
            "name": "GitHub Actions",
            "description": "Automate your workflow",
            "external_url": "https://help.github.com/en/actions",
            "html_url": f"{self.html}/apps/github-actions",
            "created_at": "2018-07-30T09:30:17Z",
            "updated_at": "2019-12-10T19:04:12Z",
            "permissions": {"checks": "write", "contents": "write", "metadata": "read"},
            "events": [],
        }

    def status(self, s: Status) -> dict:
        """status."""
        r = self.state.repos[s.repo_id]
        return {
            "url": f"{self.api}/repos/{r.full_name}/statuses/{s.sha}",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{self.state.user(s.creator).id}?v=4",
            "id": s.id,
            "node_id": node_id("StatusContext", s.id),
            "state": s.state,
            "description": s.description,
            "target_url": s.target_url,
            "context": s.context,
            "created_at": ts(s.created_at),
            "updated_at": ts(s.updated_at),
            "creator": self.user(s.creator),
        }
