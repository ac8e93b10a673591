"""Paired tests and power of an ablation comparison (a config against the baseline, on the same tasks).

McNemar's exact test
    Each task has one binary outcome per config: solved when its mean success over the counted
    (non-error) repeats is above 0.5 (with one repeat: the episode succeeded; with three: two or three
    of them did; a tie, 1 of 2, counts as not solved). Over the tasks both configs have, b = tasks only
    the config solved, c = tasks only the baseline solved. Under "no difference" each discordant task is
    a fair coin, so the two-sided exact p is `scipy.stats.binomtest(b, b + c, 0.5).pvalue`
    (= min(1, 2 * P[Binomial(b + c, 1/2) <= min(b, c)])). No discordant task (b + c = 0): p = 1.

Minimum detectable effect (MDE)
    The sample size of McNemar's test for a paired binary design (Connor, R. J. (1987), "Sample size for
    testing differences in proportions for the paired-sample design", Biometrics 43(1):207-211), the
    normal approximation:

        n = ( z_{1-alpha/2} * sqrt(psi) + z_{power} * sqrt(psi - delta^2) )^2 / delta^2

    with delta = p1 - p0 (config minus baseline success rate) and psi = P(the two configs disagree on a
    task), the discordance. The discordance is the one implied by the baseline rate alone, taking the two
    configs' outcomes on a task as independent: psi = p0 (1 - p1) + p1 (1 - p0). (Two configs on the same
    tasks are usually positively correlated, which lowers psi, so this MDE is on the conservative side: a
    real run may detect somewhat less.) The MDE is the smallest increase delta in (0, 1 - p0] whose n is at
    most the given n; None when even p1 = 1 needs more tasks (nothing is detectable). It is a function of
    (n, p0, alpha, power) only; n counts tasks, not episodes: repeats sharpen each task's outcome but do
    not add tasks.

A comparison is underpowered when its MDE is above `UNDERPOWERED_MDE` (10 percentage points), or when no
increase is detectable at all.
"""

from __future__ import annotations

import math

ALPHA = 0.05
POWER = 0.80
UNDERPOWERED_MDE = 0.10  # success-rate units: 10 percentage points


def solved(successes: int | float, episodes: int | float) -> bool:
    """A task's binary outcome for McNemar's test: mean success over its counted repeats above 0.5."""
    return episodes > 0 and successes / episodes > 0.5


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p: `binomtest(b, b + c, 0.5)`; 1.0 without a discordant task."""
    from scipy.stats import binomtest

    if b + c == 0:
        return 1.0
    return float(binomtest(b, b + c, 0.5).pvalue)


def required_tasks(delta: float, p_baseline: float, alpha: float = ALPHA, power: float = POWER) -> float:
    """Tasks McNemar's test needs to detect p_baseline -> p_baseline + delta (Connor 1987, the module docstring)."""
    from scipy.stats import norm

    p0, p1 = p_baseline, p_baseline + delta
    psi = p0 * (1 - p1) + p1 * (1 - p0)
    z_a, z_b = norm.ppf(1 - alpha / 2), norm.ppf(power)
    # psi - delta^2 = p0 (1 - p0) + p1 (1 - p1) >= 0
    return float((z_a * math.sqrt(psi) + z_b * math.sqrt(max(psi - delta * delta, 0.0))) ** 2 / (delta * delta))


def minimum_detectable_effect(n: int, p_baseline: float, alpha: float = ALPHA, power: float = POWER) -> float | None:
    """The smallest increase over p_baseline that n tasks detect with this power at this two-sided alpha
    (success-rate units, 0..1); None when no increase up to 100% is detectable, or n < 1."""
    from scipy.optimize import brentq

    if n < 1 or not 0.0 <= p_baseline < 1.0:
        return None
    top = 1.0 - p_baseline
    if required_tasks(top, p_baseline, alpha, power) > n:
        return None
    # n(delta) falls as delta grows on (0, 1 - p0] (it goes to infinity at 0): one root, the MDE
    return float(brentq(lambda d: required_tasks(d, p_baseline, alpha, power) - n, top * 1e-9, top, xtol=1e-12))


def is_underpowered(n: int, mde: float | None) -> bool | None:
    """True when the MDE is above 10 points or nothing is detectable; None without a comparison (n = 0)."""
    if n < 1:
        return None
    return mde is None or mde > UNDERPOWERED_MDE
