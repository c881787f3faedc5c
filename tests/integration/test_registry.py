"""The registry end to end: HTTP in, snapshots on the compacted topics out."""

import uuid

import pytest
import sqlalchemy as sa

from deploy.brokers import launch
from deploy.local import UNITS_CSV
from tests.rig import BROKER, ServiceProcess, TopicReader, latest, until

pytestmark = pytest.mark.integration

UNITS = "registry.units.v1"
CAMPAIGNS = "registry.campaigns.v1"
CREDENTIALS = "registry.credentials.v1"


def new_unit(**fields: object) -> dict[str, object]:
    suffix = uuid.uuid4().hex[:6]
    return {"code": f"so-thu-{suffix}", "name": f"Sở Thử nghiệm {suffix}",
            "kind": "department", "active_from": "2025-07-01",
            "contacts": {"email": "vanthu@haiphong.gov.vn"}} | fields


class TestSnapshots:
    def test_unit_created_over_http_arrives_on_its_compacted_topic(
            self, registry: ServiceProcess, reader: TopicReader) -> None:
        body = new_unit(channels={"facebook": "https://facebook.com/sothu"})
        created = registry.admin().post("/v1/units", json=body)
        assert created.status_code == 201, created.text
        records = reader.read(UNITS, until=lambda rs: any(r.key == body["code"] for r in rs))
        snapshot = latest(records)[str(body["code"])]
        assert snapshot is not None
        assert snapshot["name"] == body["name"]
        assert snapshot["kind"] == "department"
        assert snapshot["contacts"]["email"] == "vanthu@haiphong.gov.vn"
        assert snapshot["channels"]["facebook"] == "https://facebook.com/sothu"
        assert snapshot["revision"] == 1

    def test_update_publishes_the_next_revision(self, registry, reader) -> None:
        body = new_unit()
        registry.admin().post("/v1/units", json=body).raise_for_status()
        changed = registry.admin().patch(f"/v1/units/{body['code']}",
                                         json={"contacts": {"phone": "0225 3842 000"}})
        assert changed.status_code == 200, changed.text
        records = reader.read(UNITS, until=lambda rs: any(
            r.key == body["code"] and r.value and r.value["revision"] == 2 for r in rs))
        snapshot = latest(records)[str(body["code"])]
        assert snapshot is not None and snapshot["contacts"]["phone"] == "0225 3842 000"

    def test_retired_unit_snapshot_carries_its_last_day(self, registry, reader) -> None:
        body = new_unit()
        registry.admin().post("/v1/units", json=body).raise_for_status()
        retired = registry.admin().post(f"/v1/units/{body['code']}/retire",
                                        json={"active_until": "2026-01-31"})
        assert retired.json()["active_until"] == "2026-01-31"
        records = reader.read(UNITS, until=lambda rs: any(
            r.key == body["code"] and r.value and r.value["active_until"] for r in rs))
        assert latest(records)[str(body["code"])]["active_until"] == "2026-01-31"  # type: ignore[index]

    def test_deleted_unit_leaves_a_tombstone(self, registry, reader) -> None:
        body = new_unit()
        registry.admin().post("/v1/units", json=body).raise_for_status()
        assert registry.admin().delete(f"/v1/units/{body['code']}").status_code == 204
        records = reader.read(UNITS, until=lambda rs: any(
            r.key == body["code"] and r.value is None for r in rs))
        assert latest(records)[str(body["code"])] is None
        assert registry.admin().get(f"/v1/units/{body['code']}").status_code == 404

    def test_seeded_campaign_is_on_its_topic(self, registry, reader) -> None:
        records = reader.read(CAMPAIGNS, until=lambda rs: any(r.key == "dai-hoi-xiv" for r in rs))
        campaign = latest(records)["dai-hoi-xiv"]
        assert campaign is not None
        assert campaign["starts_on"] == "2026-01-13" and campaign["ends_on"] == "2026-02-28"
        assert campaign["peak_windows"] == [{"starts_on": "2026-01-19", "ends_on": "2026-01-25"}]
        assert campaign["targets"]["commune"]["loudspeaker_per_week"] == 3

    def test_campaign_update_is_published(self, registry, reader) -> None:
        current = registry.admin().get("/v1/campaigns/dai-hoi-xiv").json()
        body = {k: current[k] for k in ("name", "starts_on", "peak_windows", "reporting_period",
                                        "deadline", "targets")} | {"ends_on": "2026-03-15"}
        replaced = registry.admin().put("/v1/campaigns/dai-hoi-xiv", json=body)
        assert replaced.status_code == 200, replaced.text
        records = reader.read(CAMPAIGNS, until=lambda rs: any(
            r.value and r.value["ends_on"] == "2026-03-15" for r in rs))
        assert latest(records)["dai-hoi-xiv"]["revision"] == 2  # type: ignore[index]


class TestRepublish:
    def test_restarted_registry_republishes_every_snapshot_to_an_emptied_broker(
            self, service_factory, database_url, tmp_path) -> None:
        first = launch(BROKER, workdir=tmp_path / "broker-1")
        try:
            database = database_url("registry")
            registry = service_factory("registry", on=first, database=database)
            codes = [str(new_unit()["code"]) for _ in range(3)]
            for code in codes:
                registry.admin().post("/v1/units", json=new_unit(code=code)).raise_for_status()
            token = registry.admin().post("/v1/credentials", json={
                "scope": "leadership", "label": "Văn phòng UBND"}).json()
            assert registry.stop() == 0
        finally:
            first.stop()
        emptied = launch(BROKER, port=first.port, workdir=tmp_path / "broker-2")
        try:
            assert not TopicReader(emptied.bootstrap).read(UNITS, until=bool, timeout=2)
            service_factory("registry", on=emptied, database=database)
            reader = TopicReader(emptied.bootstrap)
            units = latest(reader.read(UNITS, until=lambda rs: set(codes) <= {r.key for r in rs}))
            credentials = latest(reader.read(CREDENTIALS, until=lambda rs: any(
                r.key == token["id"] for r in rs)))
            campaigns = latest(reader.read(CAMPAIGNS, until=bool))
        finally:
            emptied.stop()
        assert set(codes) <= set(units)
        assert token["id"] in credentials and "dai-hoi-xiv" in campaigns

    def test_change_made_while_broker_is_down_is_published_when_it_returns(
            self, service_factory, tmp_path) -> None:
        own = launch(BROKER, workdir=tmp_path / "broker")
        try:
            registry = service_factory("registry", on=own)
            own.stop()
            body = new_unit()
            assert registry.admin().post("/v1/units", json=body).status_code == 201
            # the relay (a process of its own) tells its service it fails, within seconds
            until(lambda: registry.client().get("/readyz").status_code == 503)
            own.start()
            records = TopicReader(own.bootstrap).read(
                UNITS, until=lambda rs: any(r.key == body["code"] for r in rs), timeout=60)
            assert latest(records)[str(body["code"])] is not None
            registry.wait_for("/readyz", timeout=30)
        finally:
            own.stop()


class TestAccess:
    def test_write_without_admin_credential_is_refused_and_changes_nothing(
            self, registry, reader) -> None:
        leader = registry.admin().post("/v1/credentials", json={
            "scope": "leadership", "label": "Lãnh đạo Sở"}).json()["token"]
        body = new_unit()
        assert registry.client().post("/v1/units", json=body).status_code == 401
        assert registry.client("hpk_not-a-real-token").post("/v1/units",
                                                            json=body).status_code == 401
        assert registry.client(leader).post("/v1/units", json=body).status_code == 403
        assert registry.client(leader).put("/v1/campaigns/dai-hoi-xiv", json={}).status_code == 403
        assert registry.client(leader).get(f"/v1/units/{body['code']}").status_code == 404
        marker = new_unit()
        registry.admin().post("/v1/units", json=marker).raise_for_status()
        keys = {r.key for r in reader.read(UNITS, until=lambda rs: any(
            r.key == marker["code"] for r in rs))}
        assert body["code"] not in keys

    def test_unit_token_reads_only_its_own_unit(self, registry) -> None:
        mine, other = new_unit(), new_unit()
        for body in (mine, other):
            registry.admin().post("/v1/units", json=body).raise_for_status()
        token = registry.admin().post("/v1/credentials", json={
            "scope": "unit", "unit_code": mine["code"], "label": "cán bộ"}).json()["token"]
        assert registry.client(token).get(f"/v1/units/{mine['code']}").status_code == 200
        assert registry.client(token).get(f"/v1/units/{other['code']}").status_code == 403
        assert registry.client(token).get("/v1/units").status_code == 403

    def test_revoked_credential_is_refused(self, registry, reader) -> None:
        issued = registry.admin().post("/v1/credentials", json={
            "scope": "leadership", "label": "tạm"}).json()
        assert registry.client(issued["token"]).get("/v1/units").status_code == 200
        registry.admin().post(f"/v1/credentials/{issued['id']}/revoke").raise_for_status()
        assert registry.client(issued["token"]).get("/v1/units").status_code == 401
        records = reader.read(CREDENTIALS, until=lambda rs: any(
            r.key == issued["id"] and r.value and r.value["revoked_at"] for r in rs))
        assert latest(records)[issued["id"]]["revoked_at"]  # type: ignore[index]

    def test_token_is_never_stored_or_logged_in_clear(self, registry, reader) -> None:
        issued = registry.admin().post("/v1/credentials", json={
            "scope": "leadership", "label": "kiểm tra"}).json()
        token = issued["token"]
        assert registry.client(token).get("/v1/units").status_code == 200
        assert registry.client(token + "x").get("/v1/units").status_code == 401
        records = reader.read(CREDENTIALS, until=lambda rs: any(
            r.key == issued["id"] for r in rs))
        assert all(token not in str(r.value) for r in records)
        assert latest(records)[issued["id"]]["token_sha256"] != token  # type: ignore[index]
        assert "token" not in registry.admin().get("/v1/credentials").json()["items"][0]
        assert token not in _database_dump(registry.env["REGISTRY_DATABASE_URL"])
        registry.stop()
        assert token not in registry.logs()
        assert str(registry.admin_token) not in registry.logs()


class TestImport:
    def test_commune_level_units_load_with_one_call(self, registry) -> None:
        imported = registry.admin().post("/v1/units/import?active_from=2025-07-01",
                                         content=UNITS_CSV.read_bytes(),
                                         headers={"content-type": "text/csv"})
        assert imported.status_code == 200, imported.text
        assert imported.json()["created"] == 114
        leader = registry.admin().post("/v1/credentials", json={
            "scope": "leadership", "label": "Lãnh đạo"}).json()["token"]
        totals = {kind: registry.client(leader).get("/v1/units", params={"kind": kind}).json()
                  ["total"] for kind in ("ward", "commune", "special_zone")}
        assert totals == {"ward": 45, "commune": 67, "special_zone": 2}
        again = registry.admin().post("/v1/units/import", content=UNITS_CSV.read_bytes())
        assert again.json()["unchanged"] == 114 and again.json()["created"] == 0

    def test_csv_with_bad_rows_gets_a_per_row_report_and_changes_nothing(
            self, registry) -> None:
        csv = ("kind,name,email\n"
               "ward,Phường Mới Một,\n"
               "village,Thôn Sai,\n"
               "commune,Xã Hoà Bình Mới,not-an-email\n"
               "commune,Xã Hòa Bình Mới,\n").encode()
        refused = registry.admin().post("/v1/units/import", content=csv)
        assert refused.status_code == 422
        problems = {(p["line"], p["field"]) for p in refused.json()["problems"]}
        assert problems == {(3, "kind"), (4, "email"), (5, "name")}
        assert refused.json()["imported"] is False
        assert registry.admin().get("/v1/units").json()["total"] == 0
        partial = registry.admin().post("/v1/units/import?good_rows=true", content=csv)
        assert partial.status_code == 200 and partial.json()["created"] == 1
        listed = registry.admin().get("/v1/units").json()
        assert [u["name"] for u in listed["items"]] == ["Phường Mới Một"]


def _database_dump(url: str) -> str:
    """Every value of every table, as text."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as connection:
        tables = sa.inspect(connection).get_table_names()
        rows = [connection.execute(sa.text(f"SELECT * FROM {t}")).all() for t in tables]
    engine.dispose()
    return repr(rows)
