"""Shapes of issues (PRs too, as issues), issue comments and issue events."""

from __future__ import annotations

from sandbox.shapes.base import ShapesBase, ts
from sandbox.state import Comment, Event, Issue, Repo, node_id


class IssueShapes(ShapesBase):
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
            "sub_issues_summary": self.state.sub_issues_summary(i),
            "issue_dependencies_summary": self.state.dependencies_summary(i),
        }
        parent = self.state.parent_of(i)
        if parent is not None:
            data["parent_issue_url"] = self._issue_url(parent)
        if i.pull:
            data.update(self._issue_pull_link(r, i))
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

    def _issue_url(self, i: Issue) -> str:
        return f"{self.api}/repos/{self.state.repos[i.repo_id].full_name}/issues/{i.number}"

    def _issue_pull_link(self, r: Repo, i: Issue) -> dict:
        """A PR's draft flag and pull_request links, as its issue shows them."""
        assert i.pull is not None
        html = f"{self.html}/{r.full_name}/pull/{i.number}"
        return {
            "draft": i.pull.draft,
            "pull_request": {
                "url": f"{self.api}/repos/{r.full_name}/pulls/{i.number}",
                "html_url": html,
                "diff_url": f"{html}.diff",
                "patch_url": f"{html}.patch",
                "merged_at": ts(i.pull.merged_at),
            },
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
