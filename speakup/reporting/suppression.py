"""Small numbers hidden so nobody can be picked out: the one rule for the national return and the board."""

from __future__ import annotations

from dataclasses import dataclass, replace

# The default threshold; the app's setting of the same name (speakup/defaults.py) is what callers pass.
SUPPRESS_BELOW = 5

# The measures' stable machine names.
CASES_RAISED = "cases_raised"
ANONYMOUS = "raised_anonymously"
DETRIMENT = "detriment_reported"
THEME_PREFIX = "theme:"
WORKER_GROUP_PREFIX = "worker_group:"
WORKER_GROUP_NOT_RECORDED = "worker_group_not_recorded"
FEEDBACK_RESPONSES = "feedback_responses"
FEEDBACK_YES = "feedback_would_speak_up_again"
DETRIMENT_AFTER_CLOSURE = "detriment_after_closure"


@dataclass(frozen=True)
class Measure:
    """One row of the return. ``value`` is a count, or after ``suppress`` possibly the suppression label.

    ``part_of`` names the measure this row is one part of, when the rows sharing it add up to that measure
    exactly (the worker-group rows add up to "cases raised"); suppression uses it to stop subtraction.
    """

    key: str  # stable machine name
    label: str  # the measure in plain words
    value: int | str
    part_of: str | None = None


def _lower_first(label: str) -> str:
    return label[:1].lower() + label[1:]


def suppressed_label(below: int = SUPPRESS_BELOW) -> str:
    return f"<{below}"


def suppress(measures: list[Measure], below: int = SUPPRESS_BELOW) -> list[Measure]:
    """Small-number suppression, so no count of 1 to ``below - 1`` people can be read or worked out.

    Every suppressed value is shown as the same label, ``"<5"`` for the default threshold (the label is built
    from ``below``), so a reader cannot tell a small count from a cell hidden only to protect it.

    1. Primary: a count from 1 to ``below - 1`` is suppressed. 0 is shown as 0 (nobody to identify).
    2. Secondary, for rows that add up to a shown total (``part_of``: the worker-group rows add up to
       "cases raised"): if exactly one row of the group is suppressed, total minus the others would reveal it,
       so the next-smallest non-zero row is suppressed as well. It is also done when the suppressed rows add
       up to exactly how many there are (every one of them must then be 1). Repeated until neither holds or
       no row is left. When the total itself is suppressed nothing can be subtracted from it.
    3. Secondary, for feedback: "would speak up again" (yes) is part of "feedback responses", and the rest
       (responses - yes, those who did not say yes) is not published but could be worked out. When both are
       shown and that rest is from 1 to ``below - 1``, "feedback responses" is suppressed (the yes count, the
       measure people read, stays exact). When yes is suppressed and responses shown, the rest cannot be
       worked out (yes is unknown), so nothing more is needed; when responses is suppressed, so is any non-zero
       yes (it is no larger).

    A row suppressed by rule 2 or 3 may really be ``below`` or more: the label marks suppression there, not
    the size.
    """
    label = suppressed_label(below)
    values = {m.key: m.value for m in measures}
    hidden = {m.key for m in measures if isinstance(m.value, int) and 0 < m.value < below}

    groups: dict[str, list[Measure]] = {}
    for measure in measures:
        if measure.part_of is not None:
            groups.setdefault(measure.part_of, []).append(measure)
    for total_key, parts in groups.items():
        if total_key in hidden:
            continue
        while True:
            cells = [m for m in parts if m.key in hidden]
            suppressed_sum = sum(int(values[m.key]) for m in cells)
            if not (len(cells) == 1 or (len(cells) > 1 and suppressed_sum == len(cells))):
                break
            shown = [m for m in parts if m.key not in hidden and isinstance(m.value, int) and m.value > 0]
            if not shown:
                break
            hidden.add(min(shown, key=lambda m: (m.value, parts.index(m))).key)

    responses, yes = values.get(FEEDBACK_RESPONSES), values.get(FEEDBACK_YES)
    if (
        isinstance(responses, int)
        and isinstance(yes, int)
        and FEEDBACK_RESPONSES not in hidden
        and FEEDBACK_YES not in hidden
        and 0 < responses - yes < below
    ):
        hidden.add(FEEDBACK_RESPONSES)

    return [replace(m, value=label) if m.key in hidden else m for m in measures]
