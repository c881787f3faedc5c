"""The compiled report as documents: a Word file from the Department's template (an
administrative report laid out as Decree 30/2020/NĐ-CP has it) and a workbook with the same
tables, one sheet each. The template is a .docx the Department edits in Word; the fields it
may use are listed in docs/compiled-report.md."""

import io
import re
import zipfile
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jinja2
from docxtpl import DocxTemplate
from jinja2.sandbox import SandboxedEnvironment

from services import periods
from services.aggregator.compiled import Compiled, PeriodFigures, UnitLine
from services.aggregator.schemas import RatioPublic
from services.events import COMMUNE_LEVEL, ReportingPeriod
from services.labels import ACTIVITY_KINDS, LANGUAGES, PLATFORMS, UNIT_KINDS, vietnamese
from services.memory import collector_paused
from services.refusals import Unavailable
from services.web.spreadsheets import Column, Sheet, xlsx, xml_text

TEMPLATE = Path(__file__).parent / "templates" / "bao-cao-tong-hop.docx"
STATES = {"upcoming": "Chưa đến kỳ", "open": "Đang trong kỳ", "due": "Đã đến hạn"}
PERIOD_KINDS = {ReportingPeriod.iso_week: "tuần", ReportingPeriod.month: "tháng"}
RULES = {"weekly": "chỉ tiêu tuần", "peak_day": "chỉ tiêu ngày cao điểm"}


def docx(report: Compiled, template: Path = TEMPLATE, issued_on: date | None = None) -> bytes:
    """The compiled report as a Word document from `template`, dated `issued_on` (today)."""
    with collector_paused():  # a row of fields per unit (services.memory)
        return rendered(template, context(report, issued_on or periods.today()))


_PARTS = re.compile(r"word/(document|header[0-9]*|footer[0-9]*)\.xml")


def rendered(template: Path, values: dict[str, Any]) -> bytes:
    """A Word template with its fields filled: the body, headers and footers cleaned of
    what Word puts inside a field (docxtpl's patch_xml), rendered by Jinja with every value
    escaped, and written back into a copy of the file. docxtpl's own `render` then walks
    every run of the result again and re-parses the whole body, which took 4.4 s of 5.0 s
    for the annex of 5,000 units (bench/report); nothing here needs what it does there
    (line breaks inside a value, column loops)."""
    environment = SandboxedEnvironment(autoescape=True)  # the template is the Department's
    cleaner = DocxTemplate(template)
    out = io.BytesIO()
    with zipfile.ZipFile(template) as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item)
            if _PARTS.fullmatch(item.filename):
                try:
                    data = environment.from_string(cleaner.patch_xml(data.decode())).render(
                        values).encode()
                except jinja2.TemplateError as exc:  # a broken field, or one the sandbox
                    raise Unavailable("report_template_invalid", f"the report template "
                                      f"{template.name} has a broken field in "
                                      f"{item.filename}: {exc.message}") from None
            target.writestr(item, data)
    return out.getvalue()


def context(report: Compiled, issued_on: date) -> dict[str, Any]:
    """What the template's fields are filled with (docs/compiled-report.md)."""
    due = [p for p in report.periods if p.state == "due"]
    missing = [line for line in report.units if line.late or line.missing]  # periods due
    return {
        "ngay": f"{issued_on.day:02d}", "thang": f"{issued_on.month:02d}",
        "nam": issued_on.year, "chien_dich": _text(report.campaign.name),
        "tinh_den": stated(report.as_of),
        "tu_ngay": periods.written_day(report.start),
        "den_ngay": periods.written_day(_last_day(report)),
        "so_ky": len(report.periods), "so_ky_het_han": len(due),
        "ky_dang_nhan": "" if len(due) == len(report.periods) else
        f"; {_open_periods(report)} chưa hết hạn, xem mục VII",
        "loai_ky": PERIOD_KINDS.get(report.campaign.reporting_period, "kỳ"),
        "han_bao_cao": _deadline_rule(report),
        "tp": _ratio_row("Toàn thành phố", report.city),
        "loai_don_vi": [_ratio_row(vietnamese(UNIT_KINDS, kind), ratio)
                        for kind, ratio in report.by_unit_kind.items()],
        "hoat_dong": [{"name": name, "count": _n(report.totals.by_activity_kind.get(code, 0))}
                      for code, (name, _) in ACTIVITY_KINDS.items()],
        "huy_dong": {"people": _n(report.totals.people_mobilised),
                     "shares": _n(report.totals.shares)},
        "nen_tang": [{"name": name, "count": _n(report.totals.by_platform.get(
            f"social_post:{code}", 0))} for code, (name, _) in PLATFORMS.items()],
        "ngon_ngu": [{"name": name, "count": _n(sum(
            n for key, n in report.totals.by_language.items() if key.endswith(f":{code}")))}
            for code, (name, _) in LANGUAGES.items()],
        "chi_tieu_loa": _loudspeaker_targets(report),
        "loa": [_loudspeaker_row(p) for p in report.periods],
        "loa_duoi_chi_tieu": [dict(row, no=n) for n, row in enumerate(_below(report), 1)],
        "bao_phu": _coverage_rows(report),
        "so_don_vi_thieu": len(missing),
        "thieu": [{"no": n, "name": _text(line.unit.name),
                   "kind": vietnamese(UNIT_KINDS, line.unit.kind),
                   "missing": ", ".join(line.missing) or "-",
                   "late": line.late} for n, line in enumerate(missing, 1)],
        "dien_bien": [_trend_row(p) for p in report.periods],
        "phu_luc": [_annex_row(n, line) for n, line in enumerate(report.units, 1)],
    }


def _last_day(report: Compiled) -> date:
    """The span's last day as covered: that of the last period begun by as_of."""
    return min(report.end, report.periods[-1].period.end) if report.periods else report.end


def _open_periods(report: Compiled) -> str:
    names = [p.period.name for p in report.periods if p.state != "due"]
    return ("kỳ " if len(names) == 1 else "các kỳ ") + ", ".join(names)


def _text(value: str) -> str:
    return xml_text(value)


def _n(value: int) -> str:
    """A whole number as written here: 1.234."""
    return f"{value:,}".replace(",", ".")


def _percent(value: float | None) -> str:
    """A ratio as written here: 87,5%; a dash when nothing was expected."""
    return "-" if value is None else f"{value * 100:.1f}%".replace(".", ",")


def _ratio_row(name: str, ratio: RatioPublic) -> dict[str, Any]:
    """The workbook's ratio cells (RATIO_COLUMNS), written for the document."""
    return {"name": name, **{c.code: _percent(v) if c.kind == "ratio" else _n(v)
                             for c, v in zip(RATIO_COLUMNS, _ratio_cells(ratio), strict=True)}}


def _deadline_rule(report: Compiled) -> str:
    rule = report.campaign.deadline
    return (f"{rule.at.strftime('%H:%M')}, {rule.days_after_period_end} ngày sau ngày cuối "
            "của kỳ")


def _loudspeaker_targets(report: Compiled) -> str:
    parts = []
    for kind, targets in report.campaign.targets.items():
        if kind in COMMUNE_LEVEL and (targets.loudspeaker_per_week or
                                      targets.loudspeaker_per_peak_day):
            parts.append(f"{vietnamese(UNIT_KINDS, kind)}: {targets.loudspeaker_per_week or 0} "
                         f"buổi/tuần, {targets.loudspeaker_per_peak_day or 0} buổi/ngày cao điểm")
    return "; ".join(parts) or "không đặt chỉ tiêu"


def _loudspeaker_row(figures: PeriodFigures) -> dict[str, Any]:
    speaker = figures.loudspeaker
    return {"period": figures.period.name, "checked": _n(speaker.units_checked),
            "failing": _n(speaker.units_failing), "weekly": _n(speaker.units_below_weekly),
            "daily": _n(speaker.units_below_daily)}


def _below(report: Compiled) -> Iterator[dict[str, Any]]:
    names = {line.unit.code: line.unit.name for line in report.units}
    for figures in report.periods:
        for below in figures.below:
            rules = [RULES[rule] for rule, fails in (("weekly", below.weekly),
                                                     ("peak_day", below.peak_day)) if fails]
            yield {"name": _text(names.get(below.code, below.code)),
                   "period": figures.period.name, "rule": ", ".join(rules)}


def _coverage_rows(report: Compiled) -> list[dict[str, Any]]:
    rows = []
    for scope, found in report.coverage.items():
        name = "Toàn thành phố" if scope == "city" else vietnamese(UNIT_KINDS, scope)
        marks = {**found.platforms.model_dump(), **found.languages.model_dump()}
        rows.append({"name": name, **{k: "Có" if v else "Không" for k, v in marks.items()}})
    return sorted(rows, key=lambda row: row["name"] != "Toàn thành phố")


def _trend_row(figures: PeriodFigures) -> dict[str, Any]:
    city = figures.ratios.city
    return {"period": figures.period.name,
            "dates": f"{_day(figures.period.start)} - {_day(figures.period.end)}",
            "deadline": periods.written_moment(figures.period.deadline),
            "state": STATES[figures.state], "completeness": _percent(city.completeness),
            "timeliness": _percent(city.timeliness), "missing": _n(city.expected - city.reported)}


def _day(value: date) -> str:
    return value.strftime("%d/%m")


def _annex_row(number: int, line: UnitLine) -> dict[str, Any]:
    return {"no": number, "code": _text(line.unit.code), "name": _text(line.unit.name),
            "kind": vietnamese(UNIT_KINDS, line.unit.kind), "expected": line.expected,
            "reported": line.reported, "on_time": line.on_time, "late": line.late,
            "activities": _n(sum(line.activities.values())),
            "loudspeaker": "-" if line.loudspeaker is None else _n(line.loudspeaker),
            "below": line.periods_below if line.unit.kind in COMMUNE_LEVEL else "-",
            "entered": ", ".join(sorted(map(_text, line.entered_by)))}


# --- the workbook --------------------------------------------------------------------------

RATIO_COLUMNS = (Column("expected", "Phải báo cáo", "int"), Column("reported", "Đã báo cáo", "int"),
                 Column("on_time", "Đúng hạn", "int"), Column("late", "Trễ hạn", "int"),
                 Column("missing", "Chưa báo cáo", "int"),
                 Column("completeness", "Tỷ lệ báo cáo", "ratio"),
                 Column("timeliness", "Tỷ lệ đúng hạn", "ratio"))


def workbook(report: Compiled) -> bytes:
    """The compiled report's tables as a workbook, one sheet each."""
    heading = (f"{report.campaign.name}: {periods.written_day(report.start)} - "
               f"{periods.written_day(_last_day(report))}, số liệu tính đến "
               f"{stated(report.as_of)}")
    return xlsx([
        Sheet("Tình hình báo cáo", (Column("unit_kind", "Loại đơn vị"), *RATIO_COLUMNS),
              [(_kind_name(kind), *_ratio_cells(r)) for kind, r in
               [*report.by_unit_kind.items(), ("city", report.city)]], heading,
              notes=(DUE_ONLY,)),
        Sheet("Hoạt động", (Column("activity_kind", "Loại hoạt động"),
                            Column("code", "Mã"), Column("count", "Số lượng", "int")),
              [(name, code, report.totals.by_activity_kind.get(code, 0))
               for code, (name, _) in ACTIVITY_KINDS.items()], heading),
        Sheet("Nền tảng, ngôn ngữ", (Column("detail", "Chi tiết"), Column("code", "Mã"),
                                     Column("count", "Số lượng", "int")),
              _details(report), heading),
        Sheet("Loa truyền thanh", (Column("period", "Kỳ"), Column("code", "Mã đơn vị"),
                                   Column("name", "Tên đơn vị"),
                                   Column("below_weekly", "Dưới chỉ tiêu tuần", "bool"),
                                   Column("below_peak_day", "Dưới chỉ tiêu ngày cao điểm",
                                          "bool")),
              _below_cells(report), heading),
        Sheet("Bao phủ", (Column("scope", "Phạm vi"),
                          *(Column(code, name, "bool") for code, (name, _) in
                            [*list(PLATFORMS.items())[:4], *LANGUAGES.items()])),
              _coverage_cells(report), heading),
        Sheet("Chưa báo cáo, trễ hạn", (Column("code", "Mã đơn vị"), Column("name", "Tên đơn vị"),
                                        Column("unit_kind", "Loại đơn vị"),
                                        Column("period", "Kỳ"), Column("status", "Tình trạng"),
                                        Column("received_at", "Nhận lúc", "datetime")),
              _missing_cells(report), heading),
        Sheet("Diễn biến qua các kỳ", (Column("period", "Kỳ"),
                                       Column("period_start", "Từ ngày", "date"),
                                       Column("period_end", "Đến ngày", "date"),
                                       Column("deadline", "Hạn báo cáo", "datetime"),
                                       Column("state", "Tình trạng"), *RATIO_COLUMNS),
              [(p.period.name, p.period.start, p.period.end, p.period.deadline,
                STATES[p.state], *_ratio_cells(p.ratios.city)) for p in report.periods],
              heading),
        Sheet("Phụ lục theo đơn vị", ANNEX_COLUMNS, map(_annex_cells, report.units), heading,
              notes=(DUE_ONLY + " Các cột hoạt động gồm mọi báo cáo đã ghi nhận, kể cả kỳ "
                     "chưa hết hạn. / Activities count every report recorded, open periods "
                     "included.",)),
    ])


ANNEX_COLUMNS = (Column("code", "Mã đơn vị"), Column("name", "Tên đơn vị", width=40),
                 Column("unit_kind", "Loại đơn vị"), Column("parent", "Tỉnh, thành phố"),
                 Column("expected", "Phải báo cáo", "int"),
                 Column("reported", "Đã báo cáo", "int"), Column("on_time", "Đúng hạn", "int"),
                 Column("late", "Trễ hạn", "int"),
                 *(Column(code, name, "int") for code, (name, _) in ACTIVITY_KINDS.items()),
                 Column("periods_below", "Kỳ dưới chỉ tiêu loa", "int"),
                 Column("missing_periods", "Kỳ chưa báo cáo"),
                 Column("entered_by", "Nhập thay bởi"))


DUE_ONLY = ("Số lượt phải báo cáo, đã báo cáo, đúng hạn, trễ hạn và chưa báo cáo tính trên "
            "các kỳ đã hết hạn báo cáo. / Expected, reported, on time, late and missing count "
            "the periods whose deadline has passed.")


def _kind_name(kind: str) -> str:
    return "Toàn thành phố" if kind == "city" else vietnamese(UNIT_KINDS, kind)


def _ratio_cells(ratio: RatioPublic) -> tuple[Any, ...]:
    return (ratio.expected, ratio.reported, ratio.on_time, ratio.reported - ratio.on_time,
            ratio.expected - ratio.reported, ratio.completeness, ratio.timeliness)


def _details(report: Compiled) -> list[tuple[Any, ...]]:
    totals = report.totals
    return [*((f"Bài đăng trên {name}", f"social_post:{code}",
               totals.by_platform.get(f"social_post:{code}", 0))
              for code, (name, _) in PLATFORMS.items()),
            *((f"{name} (tin, bài, chương trình)", f"language:{code}",
               sum(n for key, n in totals.by_language.items() if key.endswith(f":{code}")))
              for code, (name, _) in LANGUAGES.items()),
            ("Cán bộ, đảng viên được huy động", "people_mobilised", totals.people_mobilised),
            ("Lượt chia sẻ", "shares", totals.shares)]


def _below_cells(report: Compiled) -> Iterator[tuple[Any, ...]]:
    names = {line.unit.code: line.unit.name for line in report.units}
    for figures in report.periods:
        for below in figures.below:
            yield (figures.period.name, below.code, names.get(below.code, below.code),
                   below.weekly, below.peak_day)


def _coverage_cells(report: Compiled) -> list[tuple[Any, ...]]:
    return [(_kind_name(scope), *found.platforms.model_dump().values(),
             *found.languages.model_dump().values())
            for scope, found in sorted(report.coverage.items(), key=lambda i: i[0] != "city")]


def _missing_cells(report: Compiled) -> Iterator[tuple[Any, ...]]:
    for figures in report.periods:
        if figures.state != "due":
            continue
        for unit in figures.missing:
            yield (unit.code, unit.name, _kind_name(unit.kind), figures.period.name,
                   "Chưa báo cáo", None)
        for unit, first in figures.late:
            yield (unit.code, unit.name, _kind_name(unit.kind), figures.period.name,
                   "Trễ hạn", first)


def _annex_cells(line: UnitLine) -> tuple[Any, ...]:
    return (line.unit.code, line.unit.name, _kind_name(line.unit.kind), line.unit.parent,
            line.expected, line.reported, line.on_time, line.late,
            *(line.activities.get(code, 0) for code in ACTIVITY_KINDS),
            line.periods_below if line.unit.kind in COMMUNE_LEVEL else None,
            " ".join(line.missing), ", ".join(sorted(line.entered_by)))


def stated(moment: datetime) -> str:
    """The report's stated time, to the second (asking again for it gives the same
    figures): 17:05:32 ngày 05/12/2026, Hai Phong time."""
    return f"{periods.local_moment(moment):%H:%M:%S} ngày {periods.local_moment(moment):%d/%m/%Y}"
