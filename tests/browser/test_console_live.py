"""A police station's console: signing in (a wrong key is refused in Chinese), the Chinese
rendered by a real CJK font, and the live alert view showing an alert submitted through the API
without a reload (the time it took is printed; bench/run measures the latency)."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import BrowserContext

from tests.browser.conftest import screenshot, sign_in
from tests.conftest import RunningGateway
from tests.flows import JUSTICE_BUREAU, SUNWU_STATION, fence_breach, submit

pytestmark = pytest.mark.broker

# Two different characters drawn on a canvas in the console's font: without a font that has them
# both come out as the same empty box (豆腐块), so equal pixels mean the Chinese does not render.
DRAWN_ALIKE = """() => {
  const font = getComputedStyle(document.body).fontFamily;
  const draw = (text) => {
    const canvas = document.createElement("canvas");
    canvas.width = 64; canvas.height = 64;
    const context = canvas.getContext("2d");
    context.font = "48px " + font;
    context.fillText(text, 4, 52);
    return canvas.toDataURL();
  };
  return draw("矫") === draw("正");
}"""


def test_a_wrong_key_is_refused_in_chinese_and_the_chinese_renders(browser: BrowserContext, fresh_gateway: RunningGateway) -> None:
    page = browser.new_page()
    page.goto(f"{fresh_gateway.base_url}/console/")
    assert page.url.endswith("/console/login?next=/console/")  # no session: the sign-in form
    assert page.inner_text("h1") == "单位登录"
    assert page.evaluate(DRAWN_ALIKE) is False, "汉字被画成同样的方框：缺少中文字体"
    page.fill("#api_key", "xt_不是任何单位的密钥")
    page.click("button[type=submit]")
    error = page.inner_text("#login-error")
    assert "API密钥无效" in error
    assert page.locator("#signed-in-unit").count() == 0
    screenshot(page, "login-wrong-key-refused")

    page.fill("#api_key", fresh_gateway.keys[SUNWU_STATION])
    page.click("button[type=submit]")
    assert page.inner_text("#signed-in-unit") == "惠民县公安局孙武派出所（派出所）"
    assert page.inner_text("h1") == "工作台"
    screenshot(page, "police-station-board")

    page.click("text=退出")
    page.wait_for_selector("#api_key")
    page.goto(f"{fresh_gateway.base_url}/console/live")
    assert "/console/login" in page.url  # signed out: the session is gone


def test_the_station_sees_an_alert_from_the_api_without_a_reload(browser: BrowserContext, fresh_gateway: RunningGateway) -> None:
    page = sign_in(browser, fresh_gateway, SUNWU_STATION, "/console/live")
    page.wait_for_selector("#stream-state.ok")  # the EventSource is open

    sent = time.monotonic()
    response = submit(fresh_gateway, JUSTICE_BUREAU, "canonical", fence_breach("2025-06-01T22:15:00+08:00"))
    assert response.status_code == 202, response.text
    message_id = response.json()["message_id"]
    alert = page.wait_for_selector(f'li.alert[data-message-id="{message_id}"]', timeout=10_000)
    print(f"alert shown on the station's live page {1000 * (time.monotonic() - sent):.0f} ms after submission (bench/run measures p99)")

    assert alert is not None
    assert alert.inner_text().startswith("电子监管告警") or "告警" in alert.inner_text()
    assert "惠民县司法局" in alert.inner_text()
    document = alert.query_selector("details pre")
    assert document is not None and "117.532811" in document.text_content()  # the station's own XML carries the location
    screenshot(page, "police-station-live-alert")
