"""Downloads for spreadsheets: CSV that Excel and LibreOffice open as the user expects, its
text cells never run as formulas."""

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from fastapi import Response
from fastapi.responses import StreamingResponse


def csv_download(name: str, header: Sequence[str], rows: Iterable[Sequence[Any]],
                 response: Response | None = None) -> StreamingResponse:
    """UTF-8 with a byte-order mark, so that Excel shows Vietnamese names correctly; every
    cell goes through `inert`. Streamed: lines go out as they are read. (`response`: the
    route's, whose headers, an ETag say, go with it.)"""
    def lines() -> Iterator[bytes]:
        out = io.StringIO()
        writer = csv.writer(out)
        out.write("\ufeff")
        writer.writerow(map(inert, header))
        for count, row in enumerate(rows, 1):
            writer.writerow(map(inert, row))
            if count % 500 == 0:
                yield out.getvalue().encode("utf-8")
                out.seek(0)
                out.truncate()
        yield out.getvalue().encode("utf-8")

    return StreamingResponse(lines(), media_type="text/csv; charset=utf-8", headers={
        "content-disposition": f'attachment; filename="{name}.csv"',
        **(response.headers if response is not None else {})})


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert(cell: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula (a unit named
    `=HYPERLINK(...)`), quoted with a leading `'` as OWASP advises; Excel shows the text."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell
