"""Shapes of pull requests and their reviews."""

from __future__ import annotations

from sandbox.shapes.base import ShapesBase, ts
from sandbox.state import Issue, Pull, Repo, Review, ReviewComment, node_id


class PullShapes(ShapesBase):
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
            **self._pull_links(r, url, issue_url, head_sha),
            "head": self._ref(r, p.head_ref, head_sha),
            "base": self._ref(r, p.base_ref, base_sha),
            "_links": self._pull_link_objects(r, url, html, issue_url, head_sha),
            "author_association": self.state.author_association(r, i.user),
            "auto_merge": None,
            "active_lock_reason": None,
        }
        if self.media != "raw":
            data.update({k: v for k, v in self._body(i.body).items() if k != "body"})
        if full:
            data.update(self._pull_details(r, i, p, head_sha, base_sha))
        return data

    def _pull_links(self, r: Repo, url: str, issue_url: str, head_sha: str) -> dict:
        return {
            "commits_url": f"{url}/commits",
            "review_comments_url": f"{url}/comments",
            "review_comment_url": f"{self.api}/repos/{r.full_name}/pulls/comments{{/number}}",
            "comments_url": f"{issue_url}/comments",
            "statuses_url": f"{self.api}/repos/{r.full_name}/statuses/{head_sha}",
        }

    def _pull_link_objects(self, r: Repo, url: str, html: str, issue_url: str, head_sha: str) -> dict:
        """The `_links` object: the same URLs as hrefs."""
        return {
            "self": {"href": url},
            "html": {"href": html},
            "issue": {"href": issue_url},
            "comments": {"href": f"{issue_url}/comments"},
            "review_comments": {"href": f"{url}/comments"},
            "review_comment": {"href": f"{self.api}/repos/{r.full_name}/pulls/comments{{/number}}"},
            "commits": {"href": f"{url}/commits"},
            "statuses": {"href": f"{self.api}/repos/{r.full_name}/statuses/{head_sha}"},
        }

    def _pull_details(self, r: Repo, i: Issue, p: Pull, head_sha: str, base_sha: str) -> dict:
        """The fields only GET /pulls/{n} has; mergeability is unknown until the first such GET."""
        known = p.mergeable_known
        p.mergeable_known = True  # the next GET sees the computed answer, as on GitHub
        ahead, _, _ = self.state.compare(r, base_sha, head_sha)
        return {
            "merged": p.merged,
            "mergeable": p.mergeable if known else None,
            "rebaseable": (p.mergeable if known else None) if i.state == "open" else None,
            "mergeable_state": p.mergeable_state if known else "unknown",
            "merged_by": self.user(p.merged_by),
            "comments": self.state.comment_count(i),
            "review_comments": sum(len(self.state.thread_comments(t)) for t in self.state.threads_of(i)),
            "maintainer_can_modify": p.maintainer_can_modify,
            "commits": max(ahead, 1),
            "additions": p.additions,
            "deletions": p.deletions,
            "changed_files": p.changed_files,
        }

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

    def review_comment(self, c: ReviewComment) -> dict:
        """pull-request-review-comment: one comment of a review thread."""
        r = self.state.repos[c.repo_id]
        url = f"{self.api}/repos/{r.full_name}/pulls/comments/{c.id}"
        html = f"{self.html}/{r.full_name}/pull/{c.number}#discussion_r{c.id}"
        purl = f"{self.api}/repos/{r.full_name}/pulls/{c.number}"
        thread = self.state.find_thread(c.thread_id)
        first = self.state.thread_comments(thread)[0] if thread else c
        outdated = thread is not None and self.state.thread_is_outdated(thread)
        return {
            "url": url,
            "pull_request_review_id": None,
            "id": c.id,
            "node_id": node_id("PullRequestReviewComment", c.id),
            "diff_hunk": f"@@ -{c.line},1 +{c.line},1 @@",
            "path": c.path,
            "position": None if outdated else c.line,
            "original_position": c.line,
            "commit_id": self.state.pull_shas(self.state.issues[(r.id, c.number)])[0] if not outdated else c.commit_id,
            "original_commit_id": c.commit_id,
            **({"in_reply_to_id": first.id} if first.id != c.id else {}),
            "user": self.user(c.user),
            **self._body(c.body),
            "created_at": ts(c.created_at),
            "updated_at": ts(c.updated_at),
            "html_url": html,
            "pull_request_url": purl,
            "author_association": self.state.author_association(r, c.user),
            "_links": {"self": {"href": url}, "html": {"href": html}, "pull_request": {"href": purl}},
            "reactions": self._reactions(url),
            "line": None if outdated else c.line,
            "original_line": c.line,
            "side": "RIGHT",
            "subject_type": "line",
        }
