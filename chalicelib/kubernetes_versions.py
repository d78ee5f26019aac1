"""The Kubernetes versions EKS offers, and what each costs on a given day.

A minor version has EKS standard support for 14 months from its EKS release,
then extended support for 12 more; a cluster in extended support is billed
$0.60 per hour instead of $0.10, and once extended support ends EKS creates no
new cluster on that version (it upgrades existing ones).
Sources, read 2026-12: the EKS user guide "Understand the Kubernetes version
lifecycle on EKS" (kubernetes-versions.html, release calendar for 1.29-1.34),
endoflife.date/amazon-eks (1.35) and the calendar in aws-samples'
sample-apex-skills ``eks-operation-review/references/cluster-lifecycle.md``,
verified 2026-07-20 (1.36; its EKS release day is taken as 14 months before
its end of standard support); prices: aws.amazon.com/eks/pricing. Update this
table when EKS releases a version (``aws eks describe-cluster-versions``).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

STANDARD_PRICE = "$0.10"  # per hour per cluster
EXTENDED_PRICE = "$0.60"


@dataclass(frozen=True)
class KubernetesVersion:
    """One minor version's dates on EKS (UTC days)."""

    version: str
    released: date  # first offered by EKS
    end_of_standard_support: date
    end_of_extended_support: date

    def offered(self, today: date) -> bool:
        """EKS creates clusters on it that day (standard or extended support)."""
        return self.released <= today < self.end_of_extended_support

    def extended(self, today: date) -> bool:
        """On ``today`` a cluster on this version is billed at the extended-support price."""
        return self.end_of_standard_support <= today < self.end_of_extended_support


CALENDAR: dict[str, KubernetesVersion] = {v.version: v for v in (
    KubernetesVersion("1.29", date(2024, 1, 23), date(2025, 3, 23), date(2026, 3, 23)),
    KubernetesVersion("1.30", date(2024, 5, 23), date(2025, 7, 23), date(2026, 7, 23)),
    KubernetesVersion("1.31", date(2024, 9, 26), date(2025, 11, 26), date(2026, 11, 26)),
    KubernetesVersion("1.32", date(2025, 1, 23), date(2026, 3, 23), date(2027, 3, 23)),
    KubernetesVersion("1.33", date(2025, 5, 29), date(2026, 7, 29), date(2027, 7, 29)),
    KubernetesVersion("1.34", date(2025, 10, 2), date(2026, 12, 2), date(2027, 12, 2)),
    KubernetesVersion("1.35", date(2026, 1, 27), date(2027, 3, 27), date(2028, 3, 27)),
    KubernetesVersion("1.36", date(2026, 6, 2), date(2027, 8, 2), date(2028, 8, 2)),
)}

# A request that names no version gets the newest one, whose standard support lasts longest.
DEFAULT = max(CALENDAR, key=lambda v: tuple(map(int, v.split("."))))


def offered(today: date, extended_support: bool) -> list[str]:
    """Versions a hub may ask for on ``today``: standard ones, and extended ones if the stage allows them."""
    return [v.version for v in CALENDAR.values()
            if v.offered(today) and (extended_support or not v.extended(today))]


def problem(version: str, today: date, extended_support: bool) -> str | None:
    """Why ``version`` may not be asked for on ``today`` (None: it may)."""
    standard = ", ".join(offered(today, extended_support=False))
    known = CALENDAR.get(version)
    if known is None or not known.offered(today):
        return f"Kubernetes {version} is not offered by EKS; choose one of {', '.join(offered(today, extended_support))}"
    if known.extended(today) and not extended_support:
        return (f"Kubernetes {version} left EKS standard support on {known.end_of_standard_support.isoformat()}: "
                f"its cluster would cost {EXTENDED_PRICE} per hour per cluster instead of {STANDARD_PRICE} "
                f"(extended support), which this stage does not allow; choose one of {standard}")
    return None
