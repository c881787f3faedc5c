"""What to send, to whom, on which channels: the notifier's decisions, from events and the
registry read model. Each notification gets a deterministic key, so whatever plans it twice
(a redelivered event, a restart, two notifier processes) finds it planned already.

- a receipt per stored report version: `receipt:<campaign>:<period>:<unit>:v<version>`;
- a reminder per step of a period, for each unit still missing that period's report:
  `reminder:<campaign>:<period>:<unit>:<step>`;
- an alert per breach to its unit: `breach:<breach id>`;
- one digest a day to the Department's leadership: `digest:<campaign>:<day>`.
A unit gets each on every channel it has: email (its contact address) and webhook.
"""

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime

from services.events import BreachDetected, CampaignSnapshot, ReportSubmitted, UnitSnapshot
from services.notifier import texts
from services.notifier.models import Notification, State
from services.notifier.schedule import Due, NotificationRules, outside_quiet_hours
from services.periods import Period


@dataclass(frozen=True)
class Links:
    how_to_report: str
    progress: str


def _channels(unit: UnitSnapshot) -> Iterator[tuple[str, str]]:
    if unit.contacts.email:
        yield "email", unit.contacts.email
    if unit.contacts.webhook_url:
        yield "webhook", unit.contacts.webhook_url


def _rows(key: str, unit: UnitSnapshot, *, kind: str, campaign: str, period: str | None,
          step: str, text: texts.Text, payload: dict[str, object], due: datetime,
          now: datetime, copy_to: Iterable[str] = ()) -> list[Notification]:
    data = json.dumps(payload, ensure_ascii=False, default=str)
    copies = ", ".join(copy_to) or None
    return [Notification(key=key, channel=channel, kind=kind, campaign=campaign,
                         period=period, unit_code=unit.code, step=step, recipient=recipient,
                         copy_to=copies if channel == "email" else None, language="vi",
                         subject=text.subject, body=text.body, payload=data,
                         state=State.scheduled, due_at=due, created_at=now)
            for channel, recipient in _channels(unit)]


def receipt(event: ReportSubmitted, unit: UnitSnapshot, campaign: CampaignSnapshot,
            period: Period, rules: NotificationRules, now: datetime) -> list[Notification]:
    """The unit's receipt of one stored version, due now (or when quiet hours end)."""
    text = texts.message("receipt", {
        "unit": unit, "campaign": campaign, "period": period, "receipt": event,
        "counted": texts.counted(event)})
    payload = {"report_id": event.report_id, "unit": unit.code, "campaign": campaign.code,
               "period": event.period, "version": event.version, "on_time": event.on_time,
               "received_at": event.received_at.isoformat(),
               "deadline": event.deadline.isoformat(),
               "entered_by": event.entered_by.model_dump(mode="json") if event.entered_by
               else None,
               "counted": {line.label_en: line.count for line in texts.counted(event)}}
    return _rows(f"receipt:{campaign.code}:{event.period}:{unit.code}:v{event.version}", unit,
                 kind="receipt", campaign=campaign.code, period=event.period, step=f"v"
                 f"{event.version}", text=text, payload=payload,
                 due=outside_quiet_hours(now, rules.quiet_hours), now=now)


def expected(campaign: CampaignSnapshot, period: Period,
             units: Iterable[UnitSnapshot]) -> list[UnitSnapshot]:
    """The units a period's report is expected from: of a kind the campaign expects reports
    from, active on at least one day of the period."""
    return [u for u in units
            if (targets := campaign.targets.get(u.kind)) is not None
            and targets.reports_each_period
            and u.active_from <= period.end
            and (u.active_until is None or u.active_until >= period.start)]


def reminders(due: Due, campaign: CampaignSnapshot, missing: Iterable[UnitSnapshot],
              rules: NotificationRules, links: Links, now: datetime) -> list[Notification]:
    """One step's reminders, for the units still missing the period's report."""
    overdue = due.at > due.period.deadline
    goes = outside_quiet_hours(max(due.at, now), rules.quiet_hours)
    rows: list[Notification] = []
    for unit in missing:
        text = texts.message("reminder", {
            "unit": unit, "campaign": campaign, "period": due.period, "step": due.step,
            "deadline": due.period.deadline, "overdue": overdue, "now": due.at,
            "links": links})
        payload = {"unit": unit.code, "campaign": campaign.code, "period": due.period.name,
                   "step": due.step.name, "deadline": due.period.deadline.isoformat(),
                   "overdue": overdue}
        rows += _rows(f"reminder:{campaign.code}:{due.period.name}:{unit.code}:{due.step.name}",
                      unit, kind="reminder", campaign=campaign.code, period=due.period.name,
                      step=due.step.name, text=text, payload=payload, due=goes, now=now,
                      copy_to=rules.department_emails if due.step.copy_department else ())
    return rows


def breach_alert(breach: BreachDetected, unit: UnitSnapshot, campaign: CampaignSnapshot,
                 rules: NotificationRules, links: Links, now: datetime) -> list[Notification]:
    text = texts.message("breach", {"unit": unit, "campaign": campaign, "breach": breach,
                                    "links": links})
    return _rows(f"breach:{breach.breach_id}", unit, kind="breach", campaign=campaign.code,
                 period=breach.period, step=breach.rule, text=text,
                 payload=breach.model_dump(mode="json"),
                 due=outside_quiet_hours(now, rules.quiet_hours), now=now)


def digest(campaign: CampaignSnapshot, day: date, period: Period,
           breaches: list[BreachDetected], rows: list[tuple[str, int, int, int]],
           rules: NotificationRules, links: Links, now: datetime) -> list[Notification]:
    """The leadership's digest of a day: every new breach and the period's completeness, one
    email to the Department's addresses (nothing when it has none)."""
    if not rules.department_emails:
        return []
    text = texts.message("digest", {
        "campaign": campaign, "day": day, "period": period, "now": now, "breaches": breaches,
        "completeness": texts.completeness(rows), "links": links,
        "digest_at": rules.digest_at.strftime("%H:%M")})
    return [Notification(
        key=f"digest:{campaign.code}:{day.isoformat()}", channel="email", kind="digest",
        campaign=campaign.code, period=period.name, unit_code=None, step=day.isoformat(),
        recipient=", ".join(rules.department_emails), language="vi", subject=text.subject,
        body=text.body, payload=json.dumps({"breaches": [b.breach_id for b in breaches]}),
        state=State.scheduled, due_at=now, created_at=now)]
