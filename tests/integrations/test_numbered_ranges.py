"""A Microsoft "numbered" recurrence range (Graph recurrenceRange, EWS NumberedRecurrence) needs a
count that is a whole number >= 1 (review 10): otherwise the entry is refused naming the value,
never read as an endless series, and no text reaches the RRULE."""

import copy
import re

import pytest

from integrations.providers.base import UnreadableEntry
from integrations.providers.graph import mapping as graph_mapping

from .fuzz_inputs import WINDOW_END, WINDOW_START, graph_seeds


def _graph_series() -> tuple[dict, list[dict]]:
    return next(copy.deepcopy(pair) for pair in graph_seeds() if pair[0].get("type") == "seriesMaster")


@pytest.mark.parametrize("count", [None, 0, -3, "3;FREQ=SECONDLY", 2.5, True], ids=repr)
def test_graph_numbered_range_without_a_usable_count_is_refused_naming_it(count):
    # Review 10: Graph's recurrenceRange "numbered" needs numberOfOccurrences (Int32, the number
    # of times to repeat); without a usable one the series was read as endless, or text was put
    # into the RRULE.
    master, instances = _graph_series()
    master["recurrence"]["range"]["numberOfOccurrences"] = count
    with pytest.raises(UnreadableEntry, match=re.escape(f"{str(count)!r} occurrences, not a whole number >= 1")):
        graph_mapping.series_from(master, instances or [], WINDOW_START, WINDOW_END)


def test_graph_numbered_range_keeps_its_count():
    master, instances = _graph_series()
    master["recurrence"]["range"]["numberOfOccurrences"] = 6
    assert "COUNT=6" in graph_mapping.series_from(master, instances or [], WINDOW_START, WINDOW_END).rrules[0]
