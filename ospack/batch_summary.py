"""What a batch run reports: one line per site, the features skipped, and the totals."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .batch_source import BadFeature
from .summary import PackageSummary
from .summary_text import counted, duration_text

#: how a batch treats a feature that cannot be a site; said in every batch summary
POLICY = "features that cannot be a site are skipped before any request, and reported; the other sites run"


@dataclass
class SiteResult:
    """One site of a batch run: its summary when it ran, or the error that stopped it."""

    index: int
    name: str
    output: str
    summary: PackageSummary | None = None
    error: str | None = None
    #: tiles copied from an earlier site's output instead of fetched
    shared: int = 0

    @property
    def status(self) -> str:
        s = self.summary
        if self.error is not None:
            return "failed"
        if s is None:
            return "not started"
        if s.already_complete:
            return "already complete"
        if s.complete:
            return "complete"
        return "interrupted" if s.interrupted else "incomplete"

    @property
    def complete(self) -> bool:
        return self.summary is not None and self.summary.complete and self.error is None

    def to_dict(self) -> dict[str, Any]:
        head = {"index": self.index, "site": self.name, "status": self.status, "tiles_shared": self.shared}
        body = self.summary.to_dict() if self.summary else {"output": self.output, "complete": False}
        return {**head, **body, "error": self.error}


@dataclass
class BatchSummary:
    """What a batch run did; ``to_dict()`` is ``ospack package --each --json``."""

    sites: list[SiteResult]
    skipped: tuple[BadFeature, ...] = ()
    interrupted: bool = False
    elapsed_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every feature packaged: none skipped, every site complete."""
        return not self.skipped and all(site.complete for site in self.sites)

    def _sum(self, name: str) -> int:
        return sum(getattr(site.summary, name) for site in self.sites if site.summary is not None)

    @property
    def requests_saved(self) -> int:
        return sum(site.shared for site in self.sites)

    def totals(self) -> dict[str, Any]:
        statuses = [site.status for site in self.sites]
        requests = self._sum("requests")
        return {
            "sites": len(self.sites),
            "complete": sum(site.complete for site in self.sites),
            "failed": statuses.count("failed"),
            "not_started": statuses.count("not started"),
            "skipped": len(self.skipped),
            "tiles_planned": self._sum("tiles_planned"),
            "tiles_already_stored": self._sum("tiles_already_stored"),
            "tiles_written": self._sum("tiles_written"),
            "tiles_absent": self._sum("tiles_absent"),
            "tiles_failed": self._sum("tiles_failed"),
            "requests": requests,
            "requests_saved": self.requests_saved,
            "retries": self._sum("retries"),
            "rate_limited": self._sum("rate_limited"),
            "elapsed_s": round(self.elapsed_s, 3),
            "achieved_rate_per_min": round(requests / self.elapsed_s * 60, 1) if self.elapsed_s > 0 else 0.0,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "outputs": [site.to_dict() for site in self.sites],
            "skipped": [{"index": b.index, "name": b.name, "reason": b.reason} for b in self.skipped],
            "policy": POLICY,
            "complete": self.complete,
            "interrupted": self.interrupted,
            "totals": self.totals(),
        }

    def to_text(self) -> str:
        width = max([len("site"), *(len(site.name) for site in self.sites)])
        lines = [
            f"  {'site':<{width}}  {'status':<16}  {'written':>8}  {'absent':>6}  {'failed':>6}  {'shared':>6}"
            "  requests"
        ]
        for site in self.sites:
            s = site.summary
            figures = (s.tiles_written, s.tiles_absent, s.tiles_failed) if s else (0, 0, 0)
            lines.append(
                f"  {site.name:<{width}}  {site.status:<16}  {figures[0]:>8,}  {figures[1]:>6,}  {figures[2]:>6,}"
                f"  {site.shared:>6,}  {s.requests if s else 0:,}"
            )
            if site.error:
                lines.append(f"  {'':<{width}}  {site.error}")
        t = self.totals()
        state = "complete" if self.complete else ("interrupted, rerun to resume" if self.interrupted else "INCOMPLETE")
        lines.insert(0, f"batch of {counted(t['sites'], 'site')}: {state}")
        lines.append(
            f"  {t['complete']} of {t['sites']} complete, {t['failed']} failed, {t['skipped']} skipped;"
            f" {counted(t['requests'], 'request')}, {t['requests_saved']:,} saved by tiles shared between sites,"
            f" {t['rate_limited']:,} rate-limited (429); {duration_text(self.elapsed_s)} elapsed"
        )
        lines += [f"  skipped {bad}" for bad in self.skipped]
        if self.skipped:
            lines.append(f"  ({POLICY})")
        return "\n".join(lines)
