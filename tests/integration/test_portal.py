"""The portal in a real browser (Debian's Chromium through Selenium) against the real stack:
a unit signs in, reports through the form and sees its receipt; a refused field shows its
Vietnamese message beside it and nothing is stored; a leader's open period page moves by
itself when a report comes in; a unit's session opens only its own pages; a form without
its CSRF token is refused; axe-core finds no serious or critical accessibility violation.

Screenshots go to TEST_OUTPUT (default test-output/) for a person to look at. On one leg
only (tansu:sqlite): the pages do not depend on the broker or the database."""

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.web.spreadsheets import MEDIA_TYPE
from tests.rig import ServiceProcess, on_legs
from tests.unit.test_spreadsheets import sheet_of

pytestmark = on_legs("tansu:sqlite", why="browser tests run on tansu:sqlite")

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
OUTPUT = Path(os.environ.get("TEST_OUTPUT", ROOT / "test-output"))
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
PERIOD = "2026-W04"


@dataclass
class Portal:
    registry: ServiceProcess
    reporting: ServiceProcess
    aggregator: ServiceProcess
    portal: ServiceProcess
    leader: str

    def unit(self) -> tuple[str, str]:
        """A new commune and its token (not waited for: the portal must cope)."""
        code = f"xa-web-{uuid.uuid4().hex[:8]}"
        admin = self.registry.admin()
        admin.post("/v1/units", json={"code": code, "name": f"Xã Thử Nghiệm {code[-4:]}",
                                      "kind": "commune", "active_from": "2025-07-01"}
                   ).raise_for_status()
        token = admin.post("/v1/credentials", json={"scope": "unit", "unit_code": code,
                                                    "label": "cán bộ xã"}).json()["token"]
        return code, token

    def submit_with(self, token: str) -> httpx.Response:
        return httpx.post(self.reporting.url + "/v1/reports", json={
            "campaign": "dai-hoi-xiv", "period": PERIOD, "activities": [
                {"kind": "social_post", "count": 2, "platform": "tiktok", "format": "video"},
                {"kind": "loudspeaker_broadcast", "daily_counts": {"2026-01-20": 9}}]},
            headers={"authorization": f"Bearer {token}"}, timeout=30)

    def reports_of(self, token: str) -> int:
        return int(self.reporting.client(token).get("/v1/reports").json()["total"])


@pytest.fixture(scope="module")
def stack(module_services) -> Portal:
    registry = module_services("registry")
    reporting, aggregator = module_services("reporting"), module_services("aggregator")
    portal = module_services("portal", registry_url=registry.url, reporting_url=reporting.url,
                             aggregator_url=aggregator.url)
    leader = registry.admin().post("/v1/credentials", json={
        "scope": "leadership", "label": "Lãnh đạo Sở"}).json()["token"]
    return Portal(registry, reporting, aggregator, portal, leader)


@pytest.fixture
def browser() -> Iterator[Any]:
    if CHROMIUM is None or DRIVER is None:
        pytest.fail("Chromium and chromium-driver are needed: deploy/install-test-deps.sh")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--lang=vi", "--window-size=1280,900"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def sign_in(browser: Any, stack: Portal, token: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(stack.portal.url + "/dang-nhap")
    browser.find_element(By.ID, "token").send_keys(token)
    browser.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
    wait(lambda: "/dang-nhap" not in browser.current_url)


def wait(condition: Callable[[], object], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.05)


def no_serious_violations(browser: Any, page: str) -> None:
    """axe-core, run in the page, finds nothing serious or critical."""
    browser.execute_script(AXE.read_text(encoding="utf-8"))
    result = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document).then(r => done(JSON.stringify(r.violations)))"
        ".catch(e => done(JSON.stringify([{id: 'axe-error', impact: 'critical',"
        " description: String(e)}])));")
    serious = [(v["id"], v.get("impact"), v.get("description"),
                [n.get("html") for n in v.get("nodes", [])][:3])
               for v in json.loads(result) if v.get("impact") in ("serious", "critical")]
    assert serious == [], f"{page}: {serious}"


def screenshot(browser: Any, name: str) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    height = browser.execute_script("return document.documentElement.scrollHeight")
    width = browser.get_window_size()["width"]
    browser.set_window_size(width, min(max(height, 600), 6000))
    browser.save_screenshot(str(OUTPUT / f"{name}.png"))


def test_a_unit_signs_in_reports_through_the_form_and_sees_its_receipt(stack,
                                                                       browser) -> None:
    from selenium.webdriver.common.by import By

    code, token = stack.unit()
    browser.set_window_size(360, 800)  # a commune officer's phone
    sign_in(browser, stack, token)
    assert browser.current_url.endswith(f"/don-vi/{code}")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "vi"
    assert "Các kỳ báo cáo" in browser.page_source
    no_serious_violations(browser, "unit home")
    browser.find_element(By.CSS_SELECTOR, f"a[href='/don-vi/{code}/bao-cao/{PERIOD}']").click()
    for day, count in (("2026-01-19", "2"), ("2026-01-20", "1"), ("2026-01-21", "3")):
        browser.find_element(By.ID, f"loa-{day}").send_keys(count)
    browser.find_element(By.ID, "mxh-zalo-so").send_keys("4")
    browser.find_element(By.ID, "mxh-zalo-chi-tiet").click()  # format and links, folded
    browser.find_element(By.ID, "mxh-zalo-minh-chung").send_keys("https://zalo.me/p/123")
    browser.find_element(By.ID, "nn-ko-so").send_keys("1")
    no_serious_violations(browser, "report form")
    screenshot(browser, "unit-form-phone")
    browser.find_element(By.CSS_SELECTOR, "form.report button[type=submit]").click()
    wait(lambda: "/bien-nhan/" in browser.current_url)
    assert "Biên nhận báo cáo" in browser.page_source
    report_id = browser.find_element(By.ID, "report-id").text
    no_serious_violations(browser, "receipt")
    [stored] = stack.reporting.client(token).get("/v1/reports").json()["items"]
    assert stored["report_id"] == report_id and stored["period"] == PERIOD
    kinds = {a["kind"]: a for a in stored["activities"]}
    assert kinds["loudspeaker_broadcast"]["daily_counts"] == {
        "2026-01-19": 2, "2026-01-20": 1, "2026-01-21": 3}
    assert (kinds["social_post"]["platform"], kinds["social_post"]["count"]) == ("zalo", 4)
    assert kinds["foreign_language_item"]["language"] == "ko"
    browser.find_element(By.LINK_TEXT, "Về trang đơn vị").click()
    home = browser.current_url
    wait(lambda: browser.find_elements(By.CSS_SELECTOR, "tr.state-reported_late") or
         browser.get(home))  # once the aggregator has folded it (W04 is long past: late)
    row = browser.find_element(By.CSS_SELECTOR, "tr.state-reported_late").text
    assert PERIOD in row and "6 / 3 đạt" in row  # 6 broadcasts, 3 a week asked
    assert "0 / 1 chưa đạt" in row  # 22 to 25 January, peak days, had none
    browser.get(stack.portal.url + f"/don-vi/{code}/bao-cao/{PERIOD}")  # a revision
    assert browser.find_element(By.ID, "mxh-zalo-so").get_attribute("value") == "4"


def test_a_refused_field_shows_its_vietnamese_message_beside_it_and_nothing_is_stored(
        stack, browser) -> None:
    from selenium.webdriver.common.by import By

    code, token = stack.unit()
    sign_in(browser, stack, token)
    browser.get(stack.portal.url + f"/don-vi/{code}/bao-cao/{PERIOD}")
    browser.find_element(By.ID, "mxh-facebook-so").send_keys("2")
    browser.find_element(By.ID, "mxh-facebook-chi-tiet").click()
    browser.find_element(By.ID, "mxh-facebook-minh-chung").send_keys("facebook.com/bai-viet")
    browser.find_element(By.CSS_SELECTOR, "form.report button[type=submit]").click()
    wait(lambda: browser.find_elements(By.ID, "mxh-facebook-minh-chung-error"))
    message = browser.find_element(By.ID, "mxh-facebook-minh-chung-error").text
    assert "Đường dẫn" in message and "http" in message
    field = browser.find_element(By.ID, "mxh-facebook-minh-chung")
    assert field.get_attribute("aria-invalid") == "true"
    assert field.get_attribute("value") == "facebook.com/bai-viet"  # kept to correct
    no_serious_violations(browser, "refused form")
    assert stack.reports_of(token) == 0


def test_a_leaders_period_page_moves_by_itself_when_a_report_is_accepted(stack,
                                                                         browser) -> None:
    from selenium.webdriver.common.by import By

    code, token = stack.unit()
    sign_in(browser, stack, stack.leader)
    page = stack.portal.url + f"/lanh-dao/ky/{PERIOD}"
    wait(lambda: browser.get(page) or code in browser.page_source, timeout=20)  # it is known
    before = browser.find_element(By.ID, "reported").text
    completeness = browser.find_element(By.ID, "completeness").text
    no_serious_violations(browser, "period page")
    time.sleep(0.5)  # the page's event stream is open
    answer = stack.submit_with(token)
    assert answer.status_code == 201, answer.text
    accepted = time.monotonic()
    wait(lambda: browser.find_element(By.ID, "reported").text != before, timeout=10)
    assert time.monotonic() - accepted < 2, "the page moved, but not within 2 s"
    assert browser.find_element(By.ID, "completeness").text != completeness
    reported, expected = (int(n) for n in browser.find_element(
        By.ID, "reported").text.split(" / "))
    assert reported == int(before.split(" / ")[0]) + 1
    wait(lambda: "TikTok" in browser.find_element(By.ID, "unit-table").text)
    header = browser.find_element(By.XPATH, "//div[@id='unit-table']//th[.//button]"
                                            "[contains(., 'Lượt phát thanh')]")
    header.find_element(By.TAG_NAME, "button").click()
    header.find_element(By.TAG_NAME, "button").click()  # the most broadcasts first
    assert header.get_attribute("aria-sort") == "descending"
    first = browser.find_element(By.CSS_SELECTOR, "#unit-table tbody tr").text
    assert "TikTok" in first and " 9 " in f" {first} "
    screenshot(browser, "period-page")


def test_the_overview_shows_every_period_and_downloads_for_excel(stack, browser) -> None:
    from selenium.webdriver.common.by import By

    sign_in(browser, stack, stack.leader)
    browser.get(stack.portal.url + "/lanh-dao")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Tổng quan đợt tuyên truyền"
    rows = browser.find_elements(By.CSS_SELECTOR, "table tbody tr th a")
    periods = [r.text for r in rows]  # every week of the seeded campaign, in order
    assert PERIOD in periods and periods == sorted(periods) and len(periods) > 4
    assert browser.find_elements(By.CSS_SELECTOR, "svg.chart polyline")
    no_serious_violations(browser, "overview")
    screenshot(browser, "overview")
    cookies = {c["name"]: c["value"] for c in browser.get_cookies()}
    session = httpx.Client(base_url=stack.portal.url, cookies=cookies, timeout=30)
    trend = session.get("/lanh-dao/tong-quan.csv").text.splitlines()
    assert trend[0].startswith("\ufeffKỳ báo cáo,") and trend[1].startswith("period,")
    table = session.get(f"/lanh-dao/ky/{PERIOD}/don-vi.csv")
    assert table.status_code == 200 and table.text.splitlines()[1].startswith("code,name,kind")
    missing = session.get(f"/lanh-dao/ky/{PERIOD}/chua-nop.csv", params={"header": "code"})
    assert missing.status_code == 200 and missing.text.startswith("\ufeffcode,name")
    kinds = session.get(f"/lanh-dao/ky/{PERIOD}/loai-don-vi.csv").text.splitlines()
    assert kinds[1] == ("unit_kind,unit_kind_name,expected,reported,on_time,completeness,"
                        "timeliness")
    assert kinds[-1].startswith("city,") and any(k.startswith("commune,") for k in kinds)
    for path in ("/lanh-dao/tong-quan.xlsx", f"/lanh-dao/ky/{PERIOD}/don-vi.xlsx",
                 f"/lanh-dao/ky/{PERIOD}/chua-nop.xlsx",
                 f"/lanh-dao/ky/{PERIOD}/loai-don-vi.xlsx"):
        workbook = session.get(path)
        assert workbook.headers["content-type"] == MEDIA_TYPE, path
        assert sheet_of(workbook.content).freeze_panes == "A4", path


def test_a_unit_session_opens_only_its_own_pages(stack, browser) -> None:
    code, token = stack.unit()
    other, _ = stack.unit()
    sign_in(browser, stack, token)
    cookies = {c["name"]: c["value"] for c in browser.get_cookies()}
    session = httpx.Client(base_url=stack.portal.url, cookies=cookies, timeout=30)
    assert session.get(f"/don-vi/{code}").status_code == 200
    for page in (f"/don-vi/{other}", f"/don-vi/{other}/bao-cao/{PERIOD}", "/lanh-dao",
                 f"/lanh-dao/ky/{PERIOD}", "/su-kien", "/lanh-dao/tong-quan.csv",
                 f"/lanh-dao/ky/{PERIOD}/don-vi.csv"):
        refused = session.get(page, follow_redirects=False)
        assert refused.status_code == 403, page
        assert "không được xem trang này" in refused.text
    assert "hpk_" not in session.get(f"/don-vi/{code}").text  # the token is in no page


def test_a_form_posted_without_its_csrf_token_is_refused(stack, browser) -> None:
    from selenium.webdriver.common.by import By

    code, token = stack.unit()
    sign_in(browser, stack, token)
    browser.get(stack.portal.url + f"/don-vi/{code}/bao-cao/{PERIOD}")
    browser.find_element(By.ID, "vd-nguoi").send_keys("10")
    browser.execute_script("document.querySelector('form.report input[name=csrf]').remove()")
    browser.find_element(By.CSS_SELECTOR, "form.report button[type=submit]").click()
    wait(lambda: "Biểu mẫu đã hết hạn" in browser.page_source)
    assert stack.reports_of(token) == 0


def test_signing_out_ends_the_session(stack, browser) -> None:
    from selenium.webdriver.common.by import By

    code, token = stack.unit()
    sign_in(browser, stack, token)
    cookies = {c["name"]: c["value"] for c in browser.get_cookies()}
    cookie = next(c for c in browser.get_cookies() if c["name"] == "hp_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    browser.find_element(By.CSS_SELECTOR, "form[action='/dang-xuat'] button").click()
    wait(lambda: "/dang-nhap" in browser.current_url)
    stale = httpx.get(stack.portal.url + f"/don-vi/{code}", cookies=cookies,
                      follow_redirects=False)
    assert stale.status_code == 303 and stale.headers["location"].startswith("/dang-nhap")
    no_serious_violations(browser, "sign-in page")
    missing = httpx.get(stack.portal.url + "/khong-co-trang-nay")
    assert missing.status_code == 404 and "Không tìm thấy trang." in missing.text
    assert token not in stack.portal.logs() and "hpk_" not in stack.portal.logs()


def test_english_by_the_switch(stack, browser) -> None:
    from selenium.webdriver.common.by import By

    code, token = stack.unit()
    sign_in(browser, stack, token)
    browser.find_element(By.CSS_SELECTOR, "a[href^='/ngon-ngu/en']").click()
    wait(lambda: "Reporting periods" in browser.page_source)
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    assert browser.current_url.endswith(f"/don-vi/{code}")


def test_the_administrator_creates_imports_retires_and_hands_out_tokens(stack,
                                                                        browser) -> None:
    from selenium.webdriver.common.by import By

    assert stack.registry.admin_token is not None
    sign_in(browser, stack, stack.registry.admin_token)
    assert browser.current_url.endswith("/quan-tri/don-vi")
    no_serious_violations(browser, "units (administrator)")
    browser.find_element(By.CSS_SELECTOR, "details.card > summary").click()
    name = f"Phường Quản Trị {uuid.uuid4().hex[:4]}"
    browser.find_element(By.ID, "name").send_keys(name)
    browser.find_element(By.ID, "email").send_keys("khong-phai-email")
    browser.find_element(By.CSS_SELECTOR, "form[action='/quan-tri/don-vi'] button").click()
    wait(lambda: browser.find_elements(By.ID, "email-error"))  # refused beside its field
    assert "thư điện tử" in browser.find_element(By.ID, "email-error").text
    field = browser.find_element(By.ID, "email")
    field.clear()
    field.send_keys("phuong@haiphong.gov.vn")
    browser.execute_script("document.getElementById('active_from').value = '2025-07-01'")
    browser.find_element(By.CSS_SELECTOR, "form[action='/quan-tri/don-vi'] button").click()
    wait(lambda: "Đã lưu." in browser.page_source)
    created = stack.registry.admin().get("/v1/units", params={"limit": 1000}).json()["items"]
    [unit] = [u for u in created if u["name"] == name]
    csv_file = OUTPUT / "units-import.csv"
    OUTPUT.mkdir(parents=True, exist_ok=True)
    csv_file.write_text("name,kind\nXã Nhập Thử,commune\n,commune\n", encoding="utf-8")
    browser.find_elements(By.CSS_SELECTOR, "details.card > summary")[1].click()
    browser.find_element(By.ID, "file").send_keys(str(csv_file))
    browser.find_element(By.CSS_SELECTOR, "form[action='/quan-tri/nhap'] button").click()
    wait(lambda: browser.find_elements(By.ID, "import-result"))
    result = browser.find_element(By.ID, "import-result").text
    assert "Bị từ chối: 1" in result and "3" in result  # line 3 has no name: nothing written
    browser.get(stack.portal.url + "/quan-tri/ma-truy-cap")
    browser.find_elements(By.CSS_SELECTOR, "details.card > summary")[0].click()
    browser.find_element(By.ID, "unit_code").send_keys(unit["code"])
    browser.find_element(By.ID, "label").send_keys("cán bộ phường")
    browser.find_element(By.CSS_SELECTOR, "form[action='/quan-tri/ma-truy-cap'] button").click()
    wait(lambda: browser.find_elements(By.ID, "issued-token"))
    token = browser.find_element(By.ID, "issued-token").get_attribute("value")
    no_serious_violations(browser, "credentials (administrator)")
    answer = stack.submit_with(token)
    assert answer.status_code == 201, answer.text  # works at once
    browser.get(stack.portal.url + "/quan-tri/ma-truy-cap")
    assert token not in browser.page_source  # shown that once only
