"""The client's reasoning settings made valid for the model: the "validated, normalized"
thinking config a thinking applier is handed (``ThinkingApplyRequest.Config``).

Against the model's ``ThinkingSupport``: a budget is clamped into ``[Min, Max]``; a
level must be one of ``Levels`` when the model lists them (else a 400), and stands
for a budget when the model takes budgets only; ``none`` without ``ZeroAllowed``
becomes the least budget, ``auto`` without ``DynamicAllowed`` the middle one. The
level budgets are the Go proxy's (minimal 512 ... xhigh 32768).
"""

from __future__ import annotations

from pluginrt.api import ThinkingConfig, ThinkingSupport

from ._types import PipelineError

__all__ = ["normalize_thinking"]

#: The budget each named level stands for, for a model that takes budgets only.
_LEVEL_BUDGETS = {"minimal": 512, "low": 1024, "medium": 8192, "high": 24576, "xhigh": 32768}


def normalize_thinking(
    config: ThinkingConfig, support: ThinkingSupport, model: str
) -> ThinkingConfig:
    """``config`` as the model with ``support`` takes it; PipelineError 400 for a level it
    does not list."""
    levels = [level.lower() for level in support.levels]
    budgets = support.max > 0 or support.min > 0

    def clamp(budget: int) -> int:
        budget = max(budget, support.min)
        return min(budget, support.max) if support.max > 0 else budget

    if config.mode == "none":
        if support.zero_allowed or not budgets:
            return ThinkingConfig(mode="none")
        return ThinkingConfig(mode="budget", budget=clamp(0))
    if config.mode == "auto":
        if support.dynamic_allowed or not budgets:
            return ThinkingConfig(mode="auto", budget=-1)
        middle = (support.min + support.max) // 2 if support.max > 0 else support.min
        return ThinkingConfig(mode="budget", budget=middle)
    if config.mode == "level":
        level = config.level
        if levels and level not in levels:
            raise PipelineError(
                400,
                f"model {model!r} takes the thinking levels {', '.join(levels)}, not {level!r}",
            )
        if levels or not budgets:
            return ThinkingConfig(mode="level", level=level)
        if level not in _LEVEL_BUDGETS:
            known = ", ".join(_LEVEL_BUDGETS)
            raise PipelineError(
                400, f"model {model!r} takes thinking budgets or the levels {known}, not {level!r}"
            )
        return ThinkingConfig(mode="budget", budget=clamp(_LEVEL_BUDGETS[level]), level=level)
    if config.mode == "budget" and budgets:
        return ThinkingConfig(mode="budget", budget=clamp(config.budget))
    if config.mode == "budget" and levels:  # a model of levels only: the nearest one up
        level = next(
            (name for name in levels if _LEVEL_BUDGETS.get(name, 0) >= config.budget), levels[-1]
        )
        return ThinkingConfig(mode="level", level=level)
    return config
