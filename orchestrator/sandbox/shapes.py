"""GitHub REST JSON shapes for the sandbox's objects (field for field what api.github.com sends)."""

from __future__ import annotations

import re
from datetime import datetime

from orchestrator.sandbox.state import (
    CheckRun,
    Comment,
    Commit,
    Event,
    Issue,
    Label,
    Repo,
    Review,
    SandboxState,
    Status,
    User,
    node_id,
)

DOCS = "https://docs.github.com/rest"


def ts(value: datetime | None) -> str | None:
    """GitHub's timestamp format: 2024-01-31T12:00:00Z."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


class Shapes:
    """Serialises state objects; `api` is the server's base URL, `media` the requested body format."""

    def __init__(self, state: SandboxState, api: str, media: str = "raw") -> None:
        self.state = state
        self.api = api.rstrip("/")
        self.html = self.api  # like GitHub Enterprise: pages and API on one host
        self.media = media

    # ------------------------------------------------------------------ users
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

    # ------------------------------------------------------------------ repos
    def repo(self, r: Repo, full: bool = False) -> dict:
        """repository as in lists (full=False) or full-repository (GET /repos/{o}/{r})."""
        url = f"{self.api}/repos/{r.full_name}"
        open_count = sum(
            1
            for (rid, _), i in self.state.issues.items()
            if rid == r.id and i.state == "open" and not i.deleted and i.moved_to is None
        )
        data = {
            "id": r.id,
            "node_id": node_id("Repository", r.id),
            "name": r.name,
            "full_name": r.full_name,
            "private": r.private,
            "owner": self.user(r.owner),
            "html_url": f"{self.html}/{r.full_name}",
            "description": r.description,
            "fork": False,
            "url": url,
            "forks_url": f"{url}/forks",
            "keys_url": f"{url}/keys{{/key_id}}",
            "collaborators_url": f"{url}/collaborators{{/collaborator}}",
            "teams_url": f"{url}/teams",
            "hooks_url": f"{url}/hooks",
            "issue_events_url": f"{url}/issues/events{{/number}}",
            "events_url": f"{url}/events",
            "assignees_url": f"{url}/assignees{{/user}}",
            "branches_url": f"{url}/branches{{/branch}}",
            "tags_url": f"{url}/tags",
            "blobs_url": f"{url}/git/blobs{{/sha}}",
            "git_tags_url": f"{url}/git/tags{{/sha}}",
            "git_refs_url": f"{url}/git/refs{{/sha}}",
            "trees_url": f"{url}/git/trees{{/sha}}",
            "statuses_url": f"{url}/statuses/{{sha}}",
            "languages_url": f"{url}/languages",
            "stargazers_url": f"{url}/stargazers",
            "contributors_url": f"{url}/contributors",
            "subscribers_url": f"{url}/subscribers",
            "subscription_url": f"{url}/subscription",
            "commits_url": f"{url}/commits{{/sha}}",
            "git_commits_url": f"{url}/git/commits{{/sha}}",
            "comments_url": f"{url}/comments{{/number}}",
            "issue_comment_url": f"{url}/issues/comments{{/number}}",
            "contents_url": f"{url}/contents/{{+path}}",
            "compare_url": f"{url}/compare/{{base}}...{{head}}",
            "merges_url": f"{url}/merges",
            "archive_url": f"{url}/{{archive_format}}{{/ref}}",
            "downloads_url": f"{url}/downloads",
            "issues_url": f"{url}/issues{{/number}}",
            "pulls_url": f"{url}/pulls{{/number}}",
            "milestones_url": f"{url}/milestones{{/number}}",
            "notifications_url": f"{url}/notifications{{?since,all,participating}}",
            "labels_url": f"{url}/labels{{/name}}",
            "releases_url": f"{url}/releases{{/id}}",
            "deployments_url": f"{url}/deployments",
            "created_at": ts(r.created_at),
            "updated_at": ts(r.updated_at),
            "pushed_at": ts(r.pushed_at),
            "git_url": f"git://{self.api.split('://', 1)[-1]}/{r.full_name}.git",
            "ssh_url": f"git@sandbox:{r.full_name}.git",
            "clone_url": f"{self.html}/{r.full_name}.git",
            "svn_url": f"{self.html}/{r.full_name}",
            "homepage": None,
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
            "permissions": {"admin": True, "maintain": True, "push": True, "triage": True, "pull": True},
        }
        if full:
            data.update({"temp_clone_token": "", "network_count": 0, "subscribers_count": 0})
            if r.owner.lower() in self.state.orgs:
                data["organization"] = self.user(r.owner)
        return data

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
            "url": f"{self.api}/repos/{r.full_name}/labels/{_quote(lab.name)}",
            "name": lab.name,
            "color": lab.color,
            "default": lab.default,
            "description": lab.description,
        }

    # ------------------------------------------------------------------ issues
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

    def issue(self, i: Issue) -> dict:
        """issue (PRs too, with the pull_request key)."""
        r = self.state.repos[i.repo_id]
        url = f"{self.api}/repos/{r.full_name}/issues/{i.number}"
        kind = "pull" if i.is_pull else "issues"
        data = {
            "url": url,
            "repository_url": f"{self.api}/repos/{r.full_name}",
            "labels_url": f"{url}/labels{{/name}}",
            "comments_url": f"{url}/comments",
            "events_url": f"{url}/events",
            "html_url": f"{self.html}/{r.full_name}/{kind}/{i.number}",
            "id": i.id,
            "node_id": node_id("PullRequest" if i.is_pull else "Issue", i.pull.id if i.pull else i.id),
            "number": i.number,
            "title": i.title,
            "user": self.user(i.user),
            "labels": [self.label(r, n) for n in i.labels],
            "state": i.state,
            "locked": i.locked,
            "assignee": self.user(i.assignees[0]) if i.assignees else None,
            "assignees": [self.user(a) for a in i.assignees],
            "milestone": None,
            "comments": self.state.comment_count(i),
            "created_at": ts(i.created_at),
            "updated_at": ts(i.updated_at),
            "closed_at": ts(i.closed_at),
            "author_association": self.state.author_association(r, i.user),
            "type": None,
            "active_lock_reason": None,
            "sub_issues_summary": {"total": 0, "completed": 0, "percent_completed": 0},
        }
        if i.pull:
            purl = f"{self.api}/repos/{r.full_name}/pulls/{i.number}"
            html = f"{self.html}/{r.full_name}/pull/{i.number}"
            data["draft"] = i.pull.draft
            data["pull_request"] = {
                "url": purl,
                "html_url": html,
                "diff_url": f"{html}.diff",
                "patch_url": f"{html}.patch",
                "merged_at": ts(i.pull.merged_at),
            }
        data.update(self._body(i.body))
        data.update(
            {
                "closed_by": self.user(i.closed_by) if i.state == "closed" else None,
                "reactions": self._reactions(url),
                "timeline_url": f"{url}/timeline",
                "performed_via_github_app": None,
                "state_reason": i.state_reason,
            }
        )
        return data

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

    def comment(self, c: Comment) -> dict:
        """issue-comment."""
        r = self.state.repos[c.repo_id]
        issue = self.state.issues[(r.id, c.issue_number)]
        kind = "pull" if issue.is_pull else "issues"
        url = f"{self.api}/repos/{r.full_name}/issues/comments/{c.id}"
        return {
            "url": url,
            "html_url": f"{self.html}/{r.full_name}/{kind}/{c.issue_number}#issuecomment-{c.id}",
            "issue_url": f"{self.api}/repos/{r.full_name}/issues/{c.issue_number}",
            "id": c.id,
            "node_id": node_id("IssueComment", c.id),
            "user": self.user(c.user),
            "created_at": ts(c.created_at),
            "updated_at": ts(c.updated_at),
            "author_association": self.state.author_association(r, c.user),
            **self._body(c.body),
            "reactions": self._reactions(url),
            "performed_via_github_app": None,
        }

    def event(self, e: Event, with_issue: bool) -> dict:
        """issue-event (repo-wide lists embed the issue)."""
        r = self.state.repos[e.repo_id]
        data = {
            "id": e.id,
            "node_id": node_id("LabeledEvent" if e.event == "labeled" else "IssueEvent", e.id),
            "url": f"{self.api}/repos/{r.full_name}/issues/events/{e.id}",
            "actor": self.user(e.actor),
            "event": e.event,
            "commit_id": e.commit_id,
            "commit_url": f"{self.api}/repos/{r.full_name}/commits/{e.commit_id}" if e.commit_id else None,
            "created_at": ts(e.created_at),
            "performed_via_github_app": None,
        }
        extra = e.extra
        if "label" in extra:
            data["label"] = dict(extra["label"])
        if "assignee" in extra:
            data["assignee"] = self.user(extra["assignee"])
            data["assigner"] = self.user(extra.get("assigner") or e.actor)
        if "rename" in extra:
            data["rename"] = dict(extra["rename"])
        if e.event == "closed" or "state_reason" in extra:
            data["state_reason"] = extra.get("state_reason")
        if with_issue:
            data["issue"] = self.issue(self.state.issues[(r.id, e.issue_number)])
        return data

    # ------------------------------------------------------------------ pulls
    def pull(self, i: Issue, full: bool) -> dict:
        """pull-request-simple (lists) or pull-request (GET /pulls/{n})."""
        p = i.pull
        assert p is not None
        r = self.state.repos[i.repo_id]
        url = f"{self.api}/repos/{r.full_name}/pulls/{i.number}"
        html = f"{self.html}/{r.full_name}/pull/{i.number}"
        issue_url = f"{self.api}/repos/{r.full_name}/issues/{i.number}"
        head_sha, base_sha = self.state.pull_shas(i)
        data = {
            "url": url,
            "id": p.id,
            "node_id": node_id("PullRequest", p.id),
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": issue_url,
            "number": i.number,
            "state": i.state,
            "locked": i.locked,
            "title": i.title,
            "user": self.user(i.user),
            "body": i.body,
            "created_at": ts(i.created_at),
            "updated_at": ts(i.updated_at),
            "closed_at": ts(i.closed_at),
            "merged_at": ts(p.merged_at),
            "merge_commit_sha": p.merge_commit_sha,
            "assignee": self.user(i.assignees[0]) if i.assignees else None,
            "assignees": [self.user(a) for a in i.assignees],
            "requested_reviewers": [self.user(a) for a in p.requested_reviewers],
            "requested_teams": [],
            "labels": [self.label(r, n) for n in i.labels],
            "milestone": None,
            "draft": p.draft,
            "commits_url": f"{url}/commits",
            "review_comments_url": f"{url}/comments",
            "review_comment_url": f"{self.api}/repos/{r.full_name}/pulls/comments{{/number}}",
            "comments_url": f"{issue_url}/comments",
            "statuses_url": f"{self.api}/repos/{r.full_name}/statuses/{head_sha}",
            "head": self._ref(r, p.head_ref, head_sha),
            "base": self._ref(r, p.base_ref, base_sha),
            "_links": {
                "self": {"href": url},
                "html": {"href": html},
                "issue": {"href": issue_url},
                "comments": {"href": f"{issue_url}/comments"},
                "review_comments": {"href": f"{url}/comments"},
                "review_comment": {"href": f"{self.api}/repos/{r.full_name}/pulls/comments{{/number}}"},
                "commits": {"href": f"{url}/commits"},
                "statuses": {"href": f"{self.api}/repos/{r.full_name}/statuses/{head_sha}"},
            },
            "author_association": self.state.author_association(r, i.user),
            "auto_merge": None,
            "active_lock_reason": None,
        }
        if self.media != "raw":
            data.update({k: v for k, v in self._body(i.body).items() if k != "body"})
        if full:
            known = p.mergeable_known
            p.mergeable_known = True  # the next GET sees the computed answer, as on GitHub
            ahead, _, _ = self.state.compare(r, base_sha, head_sha)
            data.update(
                {
                    "merged": p.merged,
                    "mergeable": p.mergeable if known else None,
                    "rebaseable": (p.mergeable if known else None) if i.state == "open" else None,
                    "mergeable_state": p.mergeable_state if known else "unknown",
                    "merged_by": self.user(p.merged_by),
                    "comments": self.state.comment_count(i),
                    "review_comments": 0,
                    "maintainer_can_modify": p.maintainer_can_modify,
                    "commits": max(ahead, 1),
                    "additions": p.additions,
                    "deletions": p.deletions,
                    "changed_files": p.changed_files,
                }
            )
        return data

    def _ref(self, r: Repo, ref: str, sha: str) -> dict:
        return {"label": f"{r.owner}:{ref}", "ref": ref, "sha": sha, "user": self.user(r.owner), "repo": self.repo(r)}

    def review(self, v: Review) -> dict:
        """pull-request-review."""
        r = self.state.repos[v.repo_id]
        html = f"{self.html}/{r.full_name}/pull/{v.number}#pullrequestreview-{v.id}"
        purl = f"{self.api}/repos/{r.full_name}/pulls/{v.number}"
        return {
            "id": v.id,
            "node_id": node_id("PullRequestReview", v.id),
            "user": self.user(v.user),
            **self._body(v.body),
            "state": v.state,
            "html_url": html,
            "pull_request_url": purl,
            "author_association": self.state.author_association(r, v.user),
            "_links": {"html": {"href": html}, "pull_request": {"href": purl}},
            "submitted_at": ts(v.submitted_at),
            "commit_id": v.commit_id,
        }

    # ------------------------------------------------------------------ git and CI
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
        prs = []
        for i in self.state.issues.values():
            if i.repo_id == r.id and i.pull and i.state == "open" and self.state.pull_shas(i)[0] == c.head_sha:
                head_sha, base_sha = self.state.pull_shas(i)
                prs.append(
                    {
                        "url": f"{self.api}/repos/{r.full_name}/pulls/{i.number}",
                        "id": i.pull.id,
                        "number": i.number,
                        "head": {"ref": i.pull.head_ref, "sha": head_sha, "repo": self._repo_ref(r)},
                        "base": {"ref": i.pull.base_ref, "sha": base_sha, "repo": self._repo_ref(r)},
                    }
                )
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
            "pull_requests": prs,
        }

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


def _quote(name: str) -> str:
    from urllib.parse import quote

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
    from html import escape

    return "\n".join(f"<p>{escape(p)}</p>" for p in text.split("\n\n") if p.strip())
