"""The scheduler on a real SQLite database: a wave planned once for the units missing the
period, one campaign's odd calendar stopping no other campaign's notices, no digest for a
campaign that has not started, each campaign's own steps and addresses, and nothing for a
retired unit or a closed campaign, and an ended campaign's digest only when news came."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from services.bus.directory import Directory
from services.events import BreachDetected, CampaignNotifications, ReminderStep
from services.notifier.app import campaign_rules
from services.notifier.migrations import MIGRATIONS
from services.notifier.models import Breach, Notification
from services.notifier.planning import Links
from services.notifier.schedule import NotificationRules
from services.notifier.scheduler import Scheduler
from tests.unit.test_aggregator_rules import campaign, unit

HP = ZoneInfo("Asia/Ho_Chi_Minh")


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def test_a_wave_goes_once_and_an_odd_campaign_stops_no_other(migrated) -> None:
    engine = migrated(MIGRATIONS)
    odd = campaign(starts_on=date(1, 1, 1), ends_on=date(9999, 12, 31), code="ky-la")
    directory = Directory(
        units={code: unit(code, contacts={"email": f"{code}@example.vn"})
               for code in ("xa-a", "xa-b")},
        campaigns={"ky-la": odd, "dai-hoi-xiv": campaign()})
    rules = NotificationRules(department_emails=("so@example.vn",))
    clock = Clock(datetime(2026, 1, 24, 17, 0, tzinfo=HP).astimezone(UTC))  # W04's first step
    scheduler = Scheduler(engine, directory, lambda code: rules, Links("http://p/", "http://p/t"),
                          clock)
    assert scheduler.tick() > 0
    scheduler.tick()  # again: nothing twice
    with Session(engine) as session:
        planned = session.exec(select(Notification)).all()
    ours = sorted(n.key for n in planned if n.campaign == "dai-hoi-xiv" and n.kind == "reminder")
    assert ours == ["reminder:dai-hoi-xiv:2026-W04:xa-a:before-48h",
                    "reminder:dai-hoi-xiv:2026-W04:xa-b:before-48h"]
    assert [n.key for n in planned if n.kind == "digest" and n.campaign == "dai-hoi-xiv"] == [
        "digest:dai-hoi-xiv:2026-01-24"]


def test_a_campaign_not_yet_started_sends_leadership_no_digest(migrated) -> None:
    engine = migrated(MIGRATIONS)
    directory = Directory(units={}, campaigns={
        "sap-toi": campaign(starts_on=date(2026, 3, 1), ends_on=date(2026, 6, 30),
                            code="sap-toi"),
        "dai-hoi-xiv": campaign()})
    rules = NotificationRules(department_emails=("so@example.vn",))
    clock = Clock(datetime(2026, 2, 3, 8, 0, tzinfo=HP).astimezone(UTC))
    scheduler = Scheduler(engine, directory, lambda code: rules, Links("http://p/", "http://p/t"),
                          clock)
    scheduler.tick()
    with Session(engine) as session:
        digests = session.exec(select(Notification.key).where(Notification.kind == "digest"))
        assert sorted(digests) == ["digest:dai-hoi-xiv:2026-02-03"]
    clock.at = datetime(2026, 3, 1, 8, 0, tzinfo=HP).astimezone(UTC)
    scheduler.tick()
    with Session(engine) as session:
        digests = session.exec(select(Notification.key).where(Notification.kind == "digest"))
        assert "digest:sap-toi:2026-03-01" in set(digests)


def test_the_campaign_s_own_steps_and_addresses_are_the_ones_used(migrated) -> None:
    """A campaign reminding once, 24 hours before, with its own Department address; the
    configured address stands in only for a campaign that names none."""
    engine = migrated(MIGRATIONS)
    own = campaign().model_copy(update={"notifications": CampaignNotifications(
        reminders=[ReminderStep(name="before-24h", hours_from_deadline=-24,
                                copy_department=True)],
        department_emails=["vanphong@sovhttdl.haiphong.gov.vn"])})
    plain = campaign(code="mac-dinh")
    directory = Directory(units={"xa-a": unit("xa-a", contacts={"email": "xa-a@example.vn"})},
                          campaigns={"dai-hoi-xiv": own, "mac-dinh": plain})
    rules = campaign_rules(directory, ["so@example.vn"])
    assert rules("mac-dinh").department_emails == ["so@example.vn"]
    assert [s.name for s in rules("mac-dinh").reminders] == ["before-48h", "before-2h",
                                                             "after-24h"]
    # W04 is due Monday 26/01 17:00: the campaign's one step falls on Sunday at 17:00
    clock = Clock(datetime(2026, 1, 25, 17, 0, tzinfo=HP).astimezone(UTC))
    Scheduler(engine, directory, rules, Links("http://p/", "http://p/t"), clock).tick()
    with Session(engine) as session:
        reminders = session.exec(select(Notification).where(
            Notification.kind == "reminder", Notification.campaign == "dai-hoi-xiv")).all()
    assert [(n.key, n.copy_to) for n in reminders] == [
        ("reminder:dai-hoi-xiv:2026-W04:xa-a:before-24h", "vanphong@sovhttdl.haiphong.gov.vn")]


def test_a_retired_unit_and_a_closed_campaign_are_reminded_of_nothing(migrated) -> None:
    engine = migrated(MIGRATIONS)
    directory = Directory(
        units={"xa-a": unit("xa-a", contacts={"email": "xa-a@example.vn"}),
               "xa-cu": unit("xa-cu", contacts={"email": "xa-cu@example.vn"},
                             active_until=date(2026, 1, 18))},  # retired before W04
        campaigns={"dai-hoi-xiv": campaign(),
                   "da-dong": campaign(code="da-dong").model_copy(
                       update={"closes_on": date(2026, 1, 23)})})
    rules = NotificationRules(department_emails=["so@example.vn"])
    clock = Clock(datetime(2026, 1, 24, 17, 0, tzinfo=HP).astimezone(UTC))  # W04's first step
    Scheduler(engine, directory, lambda code: rules, Links("http://p/", "http://p/t"),
              clock).tick()
    with Session(engine) as session:
        reminded = sorted(session.exec(select(Notification.key).where(
            Notification.kind == "reminder")))
    assert reminded == ["reminder:dai-hoi-xiv:2026-W04:xa-a:before-48h"]


def test_an_ended_campaign_sends_a_digest_only_on_a_day_something_new_came(migrated) -> None:
    engine = migrated(MIGRATIONS)
    directory = Directory(units={}, campaigns={"dai-hoi-xiv": campaign()})  # ended 28/02
    rules = NotificationRules(department_emails=["so@example.vn"])
    clock = Clock(datetime(2026, 3, 10, 8, 0, tzinfo=HP).astimezone(UTC))
    scheduler = Scheduler(engine, directory, lambda code: rules,
                          Links("http://p/", "http://p/t"), clock)
    scheduler.tick()
    late = BreachDetected(
        breach_id="dai-hoi-xiv|report_missing|xa-a|2026-W09", campaign="dai-hoi-xiv",
        rule="report_missing", unit_code="xa-a", unit_name="Xã A", unit_kind="commune",
        period="2026-W09", deadline=datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
        detected_at=datetime(2026, 3, 10, 2, 0, tzinfo=UTC))
    with Session(engine) as session:
        session.add(Breach(breach_id=late.breach_id, campaign="dai-hoi-xiv",
                           event=late.model_dump_json(), detected_at=late.detected_at))
        session.commit()
    clock.at = datetime(2026, 3, 11, 8, 0, tzinfo=HP).astimezone(UTC)
    scheduler.tick()
    with Session(engine) as session:
        digests = session.exec(select(Notification.key).where(Notification.kind == "digest"))
        assert list(digests) == ["digest:dai-hoi-xiv:2026-03-11"]
