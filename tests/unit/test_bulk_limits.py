"""A bulk file at the limits: a cell over the csv module's size limit is named on the line
where it starts, and the answer lists at most a hundred problems."""

import csv

import pytest

from services.refusals import Invalid
from services.reporting import bulk
from services.reporting.schemas import RowResult

HEADER = "period,kind,count,note\n"


def refusal_of(text: str) -> Invalid:
    with pytest.raises(Invalid) as refused:
        bulk.read(text.encode(), "dai-hoi-xiv")
    return refused.value


def test_a_quoted_cell_over_the_size_limit_is_named_on_the_line_it_starts() -> None:
    lines = csv.field_size_limit() // 2 + 10  # its text alone outgrows the limit
    huge = '"' + "ghi chú\n" * lines + '"'
    refused = refusal_of(HEADER + "2026-W03,banner,1,\n"  # line 2
                         f"2026-W03,banner,2,{huge}\n"  # from line 3, over `lines` lines
                         "2026-W03,banner,3,\n")
    assert refused.code == "bad_csv"
    assert refused.message.startswith("line 3: field larger than field limit"), \
        refused.message[:80]


def test_an_unquoted_cell_over_the_size_limit_is_named_on_its_line() -> None:
    refused = refusal_of(HEADER + "2026-W03,banner,1,\n" * 4 +
                         "2026-W03,banner,1," + "x" * (csv.field_size_limit() + 1) + "\n")
    assert refused.message.startswith("line 6: "), refused.message[:80]


def test_a_header_over_the_size_limit_is_line_one() -> None:
    refused = refusal_of('"' + "p\n" * csv.field_size_limit() + '"\n2026-W03,banner,1\n')
    assert refused.message.startswith("line 1: "), refused.message[:80]


def rows_of(bad_rows: int) -> list[RowResult]:
    text = HEADER + "".join(f"2026-W03,parade,{n},\n" for n in range(bad_rows))
    [group] = bulk.read(text.encode(), "dai-hoi-xiv")
    return bulk.listed(bulk.rejected(group))


def test_a_hundred_problems_are_all_listed() -> None:
    rows = rows_of(100)
    assert [len(r.errors) for r in rows] == [1] * 100
    assert "more_problems" not in {e.rule for r in rows for e in r.errors}


def test_the_hundred_and_first_problem_is_counted_not_listed() -> None:
    rows = rows_of(101)
    assert [len(r.errors) for r in rows] == [1] * 101
    last = rows[-1].errors[0]
    assert (rows[-1].line, last.field, last.rule) == (102, "", "more_problems")
    assert last.message == "1 more problem not listed, from this line on"
