"""When to interrupt the user: only after repeated failures, or at once when only they can fix it.

Why: a tray app that pops up a balloon for every network blip teaches people to ignore it. A sign-in that
Halo rejects or a setting that cannot work will not heal by waiting, so those are said at once; anything
else must fail several runs in a row first.
"""

from __future__ import annotations

from dataclasses import dataclass

from sync.events import RunSummary

FAILURES_BEFORE_NOTICE = 3


@dataclass(frozen=True)
class Notice:
    title: str
    message: str
    critical: bool  # the user must act (shown as a warning), versus repeated failures


def user_must_act(summary: RunSummary) -> bool:
    """True when the run could not run for a reason waiting will not fix."""
    return summary.status == "failed" and summary.error_kind in ("config", "auth")


class AttentionPolicy:
    """Feeds on each finished run; says whether the tray needs attention and whether to notify."""

    def __init__(self, failures_before_notice: int = FAILURES_BEFORE_NOTICE) -> None:
        self.failures_before_notice = failures_before_notice
        self.consecutive_failures = 0
        self.needs_attention = False
        self._notified_streak = False
        self._last_critical = ""  # the user was already told this; the timer must not repeat it hourly

    def observe(self, summary: RunSummary) -> Notice | None:
        if summary.dry_run or summary.status == "cancelled":
            return None
        failed_records = summary.total("failed")
        if summary.status == "failed":
            self.consecutive_failures += 1
        else:
            self.consecutive_failures = 0
            self._notified_streak = False
            self._last_critical = ""
        self.needs_attention = summary.status == "failed" or failed_records > 0
        if summary.status == "failed" and user_must_act(summary):
            if summary.error == self._last_critical:
                return None
            self._last_critical = summary.error
            self._notified_streak = True  # the streak is explained by this notice already
            return Notice("LedgerBridge needs you", summary.error or "The sync could not run.", critical=True)
        if self.consecutive_failures >= self.failures_before_notice and not self._notified_streak:
            self._notified_streak = True
            return Notice(
                "LedgerBridge cannot sync",
                f"The last {self.consecutive_failures} syncs failed: {summary.error} "
                "Open LedgerBridge to see the details.",
                critical=False,
            )
        return None
