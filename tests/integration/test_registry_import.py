"""A large unit import through the real registry process: a job followed to its end, every
unit on the units topic once, and other registry writes served meanwhile."""

import time
import uuid
from collections import Counter

import pytest

from services.registry import importing
from services.registry.names import slug
from tests.integration.test_registry import UNITS
from tests.rig import ServiceProcess, TopicReader

pytestmark = pytest.mark.integration

ROWS = 20_000
SYLLABLES = "An Bình Hòa Hưng Phú Thịnh Tân Thành Đông Tây Nam Bắc Hải Sơn Thủy Lâm".split()


def large_file(tag: str, rows: int = ROWS) -> tuple[bytes, list[str]]:
    """Units, with codes given for every other row and made from the name for the rest."""
    lines, codes = ["code,kind,name,admin_code,email"], []
    for n in range(rows):
        name = f"Xã {SYLLABLES[n % 16]} {SYLLABLES[n // 16 % 16]} {tag} {n}"
        code = f"xa-{tag}-{n}" if n % 2 else ""
        lines.append(f"{code},commune,{name},{tag[:6]}{n},vanthu{n}@haiphong.gov.vn")
        codes.append(code or slug(name))
    return ("\n".join(lines) + "\n").encode(), codes


def follow(registry: ServiceProcess, where: str, timeout: float = 120) -> dict:
    client, deadline = registry.admin(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(where).json()
        if job["state"] not in ("checking", "writing"):
            return job
        time.sleep(0.2)
    raise TimeoutError(where)


class TestLargeImport:
    def test_a_large_file_is_a_job_and_every_unit_arrives_once_on_the_topic(
            self, registry: ServiceProcess, reader: TopicReader) -> None:
        tag = uuid.uuid4().hex[:8]
        body, codes = large_file(tag)
        accepted = registry.admin().post("/v1/units/import?active_from=2025-07-01",
                                         content=body, headers={"content-type": "text/csv"})
        assert accepted.status_code == 202, accepted.text
        created = registry.admin().post("/v1/units", json={  # a write while it runs
            "code": f"so-{tag}", "name": f"Sở Thử nghiệm {tag}", "kind": "department"})
        assert created.status_code == 201, created.text
        meanwhile = registry.admin().get(accepted.headers["location"]).json()
        assert meanwhile["state"] in ("checking", "writing")  # the write did not wait for it
        job = follow(registry, accepted.headers["location"])
        assert job["state"] == "done", job
        assert job["report"]["created"] == ROWS and job["report"]["problems"] == []
        assert job["progress"]["rows_written"] == job["progress"]["rows_total"] == ROWS
        wanted = set(codes)
        assert len(wanted) == ROWS
        records = reader.read(UNITS, until=lambda rs: wanted <= {r.key for r in rs},
                              timeout=90)
        counts = Counter(r.key for r in records if r.key in wanted)
        assert set(counts) == wanted and set(counts.values()) == {1}
        names = {r.key: r.value["name"] for r in records if r.key in wanted and r.value}
        assert names[codes[1]] == f"Xã Bình An {tag} 1"



class TestJobsOverChunks:
    """Files of a few chunks (importing.CHUNK rows each), run as jobs when asked."""

    ROWS = 4 * importing.CHUNK + 10

    def post(self, registry: ServiceProcess, body: bytes) -> dict:
        accepted = registry.admin().post("/v1/units/import", content=body,
                                         headers={"prefer": "respond-async"})
        assert accepted.status_code == 202, accepted.text
        return follow(registry, accepted.headers["location"])

    def test_importing_the_same_file_again_changes_nothing(self, registry) -> None:
        body, _ = large_file(uuid.uuid4().hex[:8], self.ROWS)
        assert self.post(registry, body)["report"]["created"] == self.ROWS
        again = self.post(registry, body)["report"]
        assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, self.ROWS)

    def test_a_bad_row_in_the_last_chunk_imports_nothing(self, registry) -> None:
        body, _ = large_file(uuid.uuid4().hex[:8], self.ROWS)
        job = self.post(registry, body + ",village,Thôn Cuối,,\n".encode())
        assert job["state"] == "refused" and job["report"]["imported"] is False
        assert [(p["line"], p["field"]) for p in job["report"]["problems"]] == [
            (self.ROWS + 2, "kind")]
        assert registry.admin().get("/v1/units").json()["total"] == 0
