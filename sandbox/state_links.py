"""Native sub-issues, issue dependencies (blocked by / blocking) and PR review threads: one mixin of SandboxState.

GitHub's rules as its REST API documents and answers them: an issue has at most one parent, a
parent at most 100 sub-issues, both in the same owner's repositories; a pull request is neither;
dependencies may cross repositories. Adding or removing a link updates both issues' `updated_at`
(GitHub writes a timeline item on each). A review thread is outdated once the PR's head has moved
past the commit it was written on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from sandbox.models import Issue, Repo, ReviewComment, ReviewThread, SandboxError

MAX_SUB_ISSUES = 100


def _link_invalid(resource: str, message: str) -> SandboxError:
    return SandboxError(422, "Validation Failed", [{"resource": resource, "code": "custom", "message": message}])


class LinkMixin:
    """Sub-issues, dependencies and review threads (part of SandboxState)."""

    lock: threading.RLock
    issues: dict[tuple[int, int], Issue]
    repos: dict[int, Repo]
    review_threads: list[ReviewThread]
    review_comments: list[ReviewComment]
    clock: Callable[[], datetime]

    # ------------------------------------------------------------------ lookups
    def issue_by_id(self, issue_id: int) -> Issue | None:
        """An issue or PR by its REST `id` (None when there is none)."""
        return next((i for i in self.issues.values() if i.id == issue_id and not i.deleted), None)

    def every_issue(self) -> list[Issue]:
        """Every issue and PR that is not deleted, by repo id and number."""
        with self.lock:
            return sorted((i for i in self.issues.values() if not i.deleted), key=lambda i: (i.repo_id, i.number))

    def issue_at(self, repo_id: int, number: int) -> Issue | None:
        """The issue or PR with this number in the repo of this id."""
        return self.issues.get((repo_id, number))

    def repo_of(self, issue: Issue) -> Repo:
        """The issue's repository."""
        return self.repos[issue.repo_id]

    def head_parent(self, issue: Issue) -> str | None:
        """The commit before the PR's head (None for a head without parents)."""
        head = self._pull_head_sha(issue)  # type: ignore[attr-defined]
        parents = self.repos[issue.repo_id].commits[head].parents
        return parents[0] if parents else None

    def _key(self, issue: Issue) -> tuple[int, int]:
        return (issue.repo_id, issue.number)

    def sub_issues_of(self, issue: Issue) -> list[Issue]:
        """The issue's sub-issues in priority order."""
        return [self.issues[k] for k in issue.sub_issues if k in self.issues]

    def parent_of(self, issue: Issue) -> Issue | None:
        """The issue's parent, if it has one."""
        key = self._key(issue)
        return next((i for i in self.issues.values() if key in i.sub_issues), None)

    def blocked_by_of(self, issue: Issue) -> list[Issue]:
        """The issues blocking this one."""
        return [self.issues[k] for k in issue.blocked_by if k in self.issues]

    def blocking_of(self, issue: Issue) -> list[Issue]:
        """The issues this one blocks."""
        key = self._key(issue)
        return [i for i in self.issues.values() if key in i.blocked_by]

    def sub_issues_summary(self, issue: Issue) -> dict:
        """`sub_issues_summary` as GitHub's issue JSON has it."""
        children = self.sub_issues_of(issue)
        done = sum(1 for c in children if c.state == "closed")
        percent = done * 100 // len(children) if children else 0
        return {"total": len(children), "completed": done, "percent_completed": percent}

    def dependencies_summary(self, issue: Issue) -> dict:
        """`issue_dependencies_summary`: open blockers / blocked issues, and all of them."""
        blockers, blocked = self.blocked_by_of(issue), self.blocking_of(issue)
        return {
            "blocked_by": sum(1 for i in blockers if i.state == "open"),
            "blocking": sum(1 for i in blocked if i.state == "open"),
            "total_blocked_by": len(blockers),
            "total_blocking": len(blocked),
        }

    # ------------------------------------------------------------------ writes
    def _linked(self, *issues: Issue, when: datetime | None = None) -> None:
        now = when or self.clock()
        for issue in issues:
            issue.updated_at = max(issue.updated_at, now)
            repo = self.repos[issue.repo_id]
            repo.updated_at = max(repo.updated_at, now)

    def add_sub_issue(
        self, parent: Issue, child: Issue, replace_parent: bool = False, when: datetime | None = None
    ) -> Issue:
        """POST /issues/{n}/sub_issues: link `child` under `parent` (422 as GitHub refuses)."""
        with self.lock:
            if parent.is_pull or child.is_pull:
                raise _link_invalid("Issue", "Pull requests cannot be added as sub-issues")
            if child is parent:
                raise _link_invalid("Issue", "An issue cannot be a sub-issue of itself")
            if self.repos[child.repo_id].owner.lower() != self.repos[parent.repo_id].owner.lower():
                raise _link_invalid("Issue", "Sub-issues must belong to the same repository owner as the parent")
            old = self.parent_of(child)
            if old is parent:
                raise _link_invalid("Issue", "Issue is already a sub-issue of this parent")
            if old is not None and not replace_parent:
                raise _link_invalid("Issue", "Issue may not contain duplicate sub-issues and may only have one parent")
            if len(parent.sub_issues) >= MAX_SUB_ISSUES:
                raise _link_invalid("Issue", f"Issue may not have more than {MAX_SUB_ISSUES} sub-issues")
            if old is not None:
                old.sub_issues.remove(self._key(child))
                self._linked(old, when=when)
            parent.sub_issues.append(self._key(child))
            self._linked(parent, child, when=when)
            return parent

    def remove_sub_issue(self, parent: Issue, child: Issue) -> Issue:
        """DELETE /issues/{n}/sub_issue (404 when `child` is not one of `parent`'s)."""
        with self.lock:
            if self._key(child) not in parent.sub_issues:
                raise SandboxError(404, "Not Found")
            parent.sub_issues.remove(self._key(child))
            self._linked(parent, child)
            return parent

    def add_blocked_by(self, issue: Issue, blocker: Issue, when: datetime | None = None) -> Issue:
        """POST /issues/{n}/dependencies/blocked_by: `blocker` blocks `issue`; returns the blocker."""
        with self.lock:
            if issue.is_pull or blocker.is_pull:
                raise _link_invalid("IssueDependency", "Pull requests cannot have dependencies")
            if blocker is issue:
                raise _link_invalid("IssueDependency", "An issue cannot block itself")
            if self._key(blocker) in issue.blocked_by:
                raise _link_invalid("IssueDependency", "Issue is already blocked by this issue")
            if self._key(issue) in blocker.blocked_by:
                raise _link_invalid("IssueDependency", "Issues cannot block each other")
            issue.blocked_by.append(self._key(blocker))
            self._linked(issue, blocker, when=when)
            return blocker

    def remove_blocked_by(self, issue: Issue, blocker: Issue) -> Issue:
        """DELETE /issues/{n}/dependencies/blocked_by/{id}; returns the blocker."""
        with self.lock:
            if self._key(blocker) not in issue.blocked_by:
                raise SandboxError(404, "Not Found")
            issue.blocked_by.remove(self._key(blocker))
            self._linked(issue, blocker)
            return blocker

    # ------------------------------------------------------------------ review threads
    def add_review_thread(
        self,
        issue: Issue,
        user: str,
        path: str,
        body: str,
        line: int = 1,
        when: datetime | None = None,
        resolved_by: str | None = None,
        commit_id: str | None = None,
    ) -> ReviewThread:
        """A review thread with its first comment, on the PR's current head (or `commit_id`, an earlier
        commit: the thread is then outdated), resolved when `resolved_by` is given."""
        with self.lock:
            if not issue.is_pull:
                raise SandboxError(404, "Not Found")
            head = commit_id or self._pull_head_sha(issue)  # type: ignore[attr-defined]
            when = when or self.clock()
            self.user(user)  # type: ignore[attr-defined]
            thread = ReviewThread(self.next_id(), issue.repo_id, issue.number, path, line, head)  # type: ignore[attr-defined]
            thread.is_resolved, thread.resolved_by = resolved_by is not None, resolved_by
            self.review_threads.append(thread)
            comment = ReviewComment(
                self.next_id(),
                issue.repo_id,
                issue.number,
                thread.id,
                user,
                body,
                path,
                line,
                head,
                when,
                when,  # type: ignore[attr-defined]
            )
            self.review_comments.append(comment)
            self._linked(issue, when=when)
            return thread

    def threads_of(self, issue: Issue) -> list[ReviewThread]:
        """The PR's review threads, oldest first."""
        return [t for t in self.review_threads if t.repo_id == issue.repo_id and t.number == issue.number]

    def thread_comments(self, thread: ReviewThread) -> list[ReviewComment]:
        """The thread's comments, oldest first."""
        return [c for c in self.review_comments if c.thread_id == thread.id]

    def thread_is_outdated(self, thread: ReviewThread) -> bool:
        """True once the PR's head is no longer the commit the thread was written on."""
        issue = self.issues[(thread.repo_id, thread.number)]
        return self._pull_head_sha(issue) != thread.commit_id  # type: ignore[attr-defined]

    def find_thread(self, thread_id: int) -> ReviewThread | None:
        """A review thread by id."""
        return next((t for t in self.review_threads if t.id == thread_id), None)

    def resolve_thread(self, thread: ReviewThread, actor: str, resolved: bool = True) -> ReviewThread:
        """(Un)resolve a thread; doing it twice changes nothing."""
        with self.lock:
            if thread.is_resolved != resolved:
                thread.is_resolved, thread.resolved_by = resolved, actor if resolved else None
                self._linked(self.issues[(thread.repo_id, thread.number)])
            return thread
