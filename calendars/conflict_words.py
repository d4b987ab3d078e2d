"""The one wording of the question asked before saving a time that double-books technicians or
leaves their working hours (SPEC S6.3): the pages' forms (calendars/_conflict_question.html, by
every ConfirmsOverlap form) and the calendar's drag dialog (calendar.js, from its config) say the
same title, question and "Save anyway", and list what is in the way, one line each.

Before, the forms said "Double booking: ... Confirm to save anyway." beside a "Save it anyway"
box and the calendar "The new time clashes with other entries:" with a "Save anyway" button."""

from dataclasses import dataclass
from datetime import tzinfo

SAVE_ANYWAY = "Save anyway"
QUESTION = "The new time is in the way of:"
TITLE_OVERLAPS = "Double booking"
TITLE_OUTSIDE = "Outside working hours"


def conflict_title(*, overlaps: bool) -> str:
    """The title: a double booking when anything overlaps, else working hours left."""
    return TITLE_OVERLAPS if overlaps else TITLE_OUTSIDE


@dataclass(frozen=True)
class ConflictQuestion:
    """What a page shows of a refused save: title, question, one line per thing in the way."""

    title: str
    question: str
    lines: list[str]
    save_anyway: str = SAVE_ANYWAY


def conflict_question(warning, zone: tzinfo) -> ConflictQuestion:
    """The question for a calendars.services.OverlapWarning, its lines on `zone`'s wall clock:
    each overlap, then each technician's working hours left (at most `warning.NAMED` of each,
    then "and N more", as the warning's own message)."""
    lines = []
    for reasons, dated in ((warning.overlaps, warning.dated), (warning.outside, False)):
        lines += [reason.message(zone, dated=dated) for reason in reasons[: warning.NAMED]]
        if len(reasons) > warning.NAMED:
            lines.append(f"and {len(reasons) - warning.NAMED} more")
    return ConflictQuestion(conflict_title(overlaps=bool(warning.overlaps)), QUESTION, lines)


def script_words() -> dict[str, str]:
    """The same words for calendar.js (its config's `conflictWords`)."""
    return {
        "saveAnyway": SAVE_ANYWAY,
        "question": QUESTION,
        "titleOverlaps": TITLE_OVERLAPS,
        "titleOutside": TITLE_OUTSIDE,
    }
