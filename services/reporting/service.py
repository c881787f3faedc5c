"""Intake decisions: who may report, whether a report is sound, and which version it is.

Refusals are domain refusals (services.refusals); the HTTP edge gives them their status.
"""

import hashlib
import os
from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy import Engine

from services import periods
from services.bus.directory import Directory
from services.bus.outbox import enqueue_raw
from services.callers import Caller
from services.database import RawConnection, raw_transaction, write_lock
from services.events import REPORTS, CampaignSnapshot, ReportSubmitted, UnitSnapshot
from services.events.reports import EnteredBy, LoudspeakerBroadcast
from services.refusals import Conflict, Forbidden, Invalid, Refusal, TooLarge
from services.reporting import store
from services.reporting.schemas import Receipt, ReportIn, ReportOnBehalfIn, receipt_of


@dataclass(frozen=True)
class Draft:
    """A checked report, ready to be numbered and stored."""

    report_id: str | None
    unit: UnitSnapshot
    campaign: CampaignSnapshot
    period: str
    start: date
    end: date
    body: ReportIn
    content_sha256: str
    received_at: datetime
    entered_by: EnteredBy | None = None  # the Department entered it on the unit's behalf


def reporting_unit(directory: Directory, caller: Caller) -> UnitSnapshot:
    """The unit a caller reports for; readers and units the registry lacks are refused.
    Whether the unit may report for a period is judged with the period (see prepare)."""
    if caller.scope != "unit" or caller.unit_code is None:
        raise Forbidden("forbidden", "only a unit's own token submits its reports")
    unit = directory.units.get(caller.unit_code)
    if unit is None:
        raise Forbidden("unit_unknown", "the token's unit is not in the registry")
    return unit


def prepare(directory: Directory, unit: UnitSnapshot, body: ReportIn,
            idempotency_key: str | None, received_at: datetime) -> Draft:
    """Check a report against its unit, campaign and period; a refusal names the rule."""
    if body.unit is not None and body.unit != unit.code:
        raise Forbidden.on("unit", "unit_mismatch", "a unit token reports only for its own unit")
    campaign = _running_campaign(directory, body.campaign, periods.local_day(received_at))
    if unit.kind not in campaign.targets:
        raise Invalid.on("campaign", "unit_kind_not_expected",
                         f"campaign {campaign.code} expects no reports from {unit.kind} units")
    start, end = _period(campaign, body.period)
    _check_active(unit, body.period, start, end)
    _check_days(body, start, end)
    report_id = body.report_id or _id_from_key(unit.code, idempotency_key)
    return Draft(report_id, unit, campaign, body.period, start, end, body,
                 _content_hash(body), received_at)


def _check_active(unit: UnitSnapshot, period: str, start: date, end: date) -> None:
    """A unit reports for a period it was active on at least one day of, whatever the day
    it sends the report: the aggregator expects that period's report from it."""
    if unit.active_until is not None and unit.active_until < start:
        raise Forbidden.on("period", "unit_retired", f"the unit's last active day was "
                           f"{unit.active_until}, before {period} began")
    if unit.active_from > end:
        raise Forbidden.on("period", "unit_not_active", f"the unit reports from "
                           f"{unit.active_from}, after {period} ended")


def _running_campaign(directory: Directory, code: str, today: date) -> CampaignSnapshot:
    campaign = directory.campaigns.get(code)
    if campaign is None:
        raise Invalid.on("campaign", "campaign_unknown", f"no campaign with code {code!r}")
    if today < campaign.starts_on:
        raise Invalid.on("campaign", "campaign_not_running",
                         f"campaign {code} starts on {campaign.starts_on}")
    if campaign.closes_on is not None and today > campaign.closes_on:
        raise Invalid.on("campaign", "campaign_not_running",
                         f"campaign {code} stopped taking reports on {campaign.closes_on}")
    return campaign


def _period(campaign: CampaignSnapshot, period: str) -> tuple[date, date]:
    try:
        found = periods.in_campaign(campaign, period)
    except periods.PeriodError as exc:
        raise Invalid.on("period", exc.rule, str(exc)) from None
    return found.start, found.end


def _check_days(body: ReportIn, start: date, end: date) -> None:
    for index, activity in enumerate(body.activities):
        if isinstance(activity, LoudspeakerBroadcast):
            outside = sorted(d for d in activity.daily_counts if not start <= d <= end)
            if outside:
                raise Invalid.on(f"activities.{index}.daily_counts", "day_outside_period",
                                 f"{outside[0]} is not in the period ({start} to {end})")


def prepare_on_behalf(directory: Directory, caller: Caller, body: ReportOnBehalfIn,
                      idempotency_key: str | None, now: datetime) -> Draft:
    """Check a report the Department enters for a unit (received on paper or by email) as
    the unit's own would be, judged at the stated reception: neither in the future nor
    before the period began."""
    received = body.received()
    if received > now:
        raise Invalid.on("received_at", "received_in_future", f"thời điểm nhận "
                         f"{periods.written_moment(received)} chưa tới / the stated reception "
                         "is in the future")
    unit = directory.units.get(body.unit)
    if unit is None:
        raise Invalid.on("unit", "unit_unknown", f"không có đơn vị mang mã {body.unit!r} / "
                         f"no unit has the code {body.unit!r}")
    _check_received_in_period(directory, body, received)
    # The Department's keys are its own: one of them never replays a unit's own report.
    key = None if idempotency_key is None else \
        f"on-behalf\n{caller.credential_id}\n{idempotency_key}"
    draft = prepare(directory, unit, body.report(), key, received)
    entered = EnteredBy(credential_id=caller.credential_id or caller.scope,
                        label=_holder(directory, caller), note=body.note, entered_at=now)
    # Sent again with another reception or note, it is another entry, not a replay.
    digest = hashlib.sha256(f"{draft.content_sha256}\n{received.isoformat()}\n"
                            f"{body.note}".encode()).hexdigest()
    return replace(draft, entered_by=entered, content_sha256=digest)


def _check_received_in_period(directory: Directory, body: ReportOnBehalfIn,
                              received: datetime) -> None:
    """A period's report cannot have arrived before the period began. (An unknown campaign
    or period is left to `prepare`, which names it.)"""
    campaign = directory.campaigns.get(body.campaign)
    if campaign is None:
        return
    try:
        start, _ = periods.bounds(body.period, campaign.reporting_period)
    except periods.PeriodError:
        return
    if periods.local_day(received) < start:
        raise Invalid.on("received_at", "received_before_period", f"kỳ {body.period} bắt "
                         f"đầu ngày {periods.written_day(start)}, sau thời điểm nhận / "
                         f"{body.period} began on {start}, after the stated reception")


def _holder(directory: Directory, caller: Caller) -> str:
    """The caller's name as the registry labels its credential; its id if it has none."""
    found = next((c.label for c in directory.credentials.values()
                  if c.id == caller.credential_id), None)
    return found or caller.credential_id or caller.scope


def _id_from_key(unit_code: str, key: str | None) -> str | None:
    if key is None:
        return None
    return "idem-" + hashlib.sha256(f"{unit_code}\n{key}".encode()).hexdigest()[:32]


MAX_REPORT_BYTES = 512 * 1024  # well under Kafka's 1 MiB message limit, whatever the route


def _content_hash(body: ReportIn) -> str:
    content = body.model_dump_json(exclude={"report_id", "unit"}).encode()
    if len(content) > MAX_REPORT_BYTES:
        raise TooLarge.on("activities", "report_too_large",
                          f"a report may take at most {MAX_REPORT_BYTES} bytes; split it")
    return hashlib.sha256(content).hexdigest()


Outcome = tuple[Receipt, bool] | Refusal


def accept_batch(db: RawConnection, drafts: list[Draft]) -> list[Outcome]:
    """Number and store a batch of reports with their events, or find what each repeats.

    Two queries and three multi-row inserts per batch, whatever its size; never commits.
    An outcome is (receipt, replayed) or the refusal of that one draft."""
    known = store.reports_by_id(db, {(d.unit.code, d.report_id) for d in drafts
                                     if d.report_id})
    latest = store.latest_versions(db, {(d.unit.code, d.campaign.code, d.period)
                                        for d in drafts})
    outcomes: list[Outcome] = []
    fresh: list[tuple[ReportSubmitted, str, bytes]] = []
    batch: dict[store.ReportKey, Receipt] = {}  # stored by this batch, not yet inserted
    for draft in drafts:
        outcome = _decide(db, draft, known, latest, batch)
        if isinstance(outcome, ReportSubmitted):
            payload = outcome.model_dump_json().encode()
            fresh.append((outcome, draft.content_sha256, payload))
            stored = store.Stored(outcome.report_id, outcome.unit_code, outcome.version,
                                  draft.content_sha256,
                                  first_received_at=outcome.first_received_at,
                                  received_at=outcome.received_at)
            key = (outcome.unit_code, outcome.report_id)
            known[key] = latest[_key(draft)] = stored
            batch[key] = receipt_of(outcome)
            outcomes.append((batch[key], False))
        else:
            outcomes.append(outcome)
    store.insert_reports(db, fresh)
    enqueue_raw(db, REPORTS, [(event.unit_code, payload) for event, _, payload in fresh])
    return outcomes


def _key(draft: Draft) -> tuple[str, str, str]:
    return draft.unit.code, draft.campaign.code, draft.period


def _decide(db: RawConnection, draft: Draft, known: dict[store.ReportKey, store.Stored],
            latest: dict[tuple[str, str, str], store.Stored],
            batch: dict[store.ReportKey, Receipt]) -> ReportSubmitted | Outcome:
    earlier = known.get((draft.unit.code, draft.report_id)) if draft.report_id else None
    if earlier is not None:
        if earlier.content_sha256 != draft.content_sha256:
            return Conflict.on("report_id", "report_id_reused", "this unit used this report "
                               "id for a different report; choose a new id")
        return _receipt(db, earlier, batch), True
    previous = latest.get(_key(draft))
    if previous is not None and draft.report_id is None and \
            previous.content_sha256 == draft.content_sha256:
        return _receipt(db, previous, batch), True
    if draft.entered_by is not None and previous is not None:
        refused = _received_before(db, draft, previous)
        if refused is not None:
            return refused
    return new_event(draft, previous)


def _received_before(db: RawConnection, draft: Draft, previous: store.Stored) -> Refusal | None:
    """A report entered on a unit's behalf may not be stated as received before the version
    it would replace: versions stand in their order, so an earlier reception would replace
    a later report, and the stated time would say nothing of when the period was first
    reported (the first version's reception)."""
    latest = previous.received_at or store.received_at(db, previous.unit_code, previous.id)
    if draft.received_at >= latest:
        return None
    return Conflict.on("received_at", "received_before_latest", f"lần {previous.version} "
                       f"của báo cáo đã nhận lúc {periods.written_moment(latest)}, sau thời "
                       f"điểm nhận đã nêu: bản nhận trước không thay được bản nhận sau / "
                       f"version {previous.version} was received at {latest.isoformat()}, "
                       "after the stated reception: an earlier report cannot replace a "
                       "later one")


def _receipt(db: RawConnection, report: store.Stored,
             batch: dict[store.ReportKey, Receipt]) -> Receipt:
    key = (report.unit_code, report.id)
    return batch[key] if key in batch else store.receipt(db, report)


def new_event(draft: Draft, latest: store.Stored | None) -> ReportSubmitted:
    """The event of a new report: numbered after `latest`; on time when the period's first
    report arrived by the deadline, so a late correction of an on-time report stays on time."""
    deadline = periods.deadline(draft.end, draft.campaign.deadline)
    first = (latest.first_received_at if latest else None) or draft.received_at
    # Every part was validated on the way in (ReportIn, the directory): skip doing it twice.
    return ReportSubmitted.model_construct(
        report_id=draft.report_id or f"rpt-{os.urandom(12).hex()}",
        unit_code=draft.unit.code, unit_kind=draft.unit.kind,
        campaign_code=draft.campaign.code, period=draft.period, period_start=draft.start,
        period_end=draft.end, version=latest.version + 1 if latest else 1,
        supersedes=latest.id if latest else None, received_at=draft.received_at,
        deadline=deadline, on_time=first <= deadline, first_received_at=first,
        activities=draft.body.activities, note=draft.body.note, entered_by=draft.entered_by)


def republish_all(engine: Engine) -> int:
    """Queue every stored report's event again (the broker lost its topics), in the order
    received. The reports are read first: intake waits only while their events are added."""
    with raw_transaction(engine) as db:
        events = [(unit, event.encode()) for unit, event in db.select(
            "SELECT unit_code, event FROM reports ORDER BY received_at, version")]
    with write_lock(engine), raw_transaction(engine) as db:
        enqueue_raw(db, REPORTS, events)
    return len(events)
