"""Browser tests: real headless Chromium (Debian's `chromium`, driven by Playwright) against a real
gateway. Playwright never downloads a browser here; a machine without Chromium fails these tests
with a message naming `scripts/setup --tests`, it never skips them."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, sync_playwright

from tests.conftest import RunningGateway

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
# Without the background-networking flags Chromium keeps calling out to Google's hosts, which
# this machine's closed network refuses; --headless comes from Playwright's own headless mode.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.fail(f"没有找到 {CHROMIUM}：请先运行 scripts/setup --tests（安装 Debian 的 chromium 与中文字体）", pytrace=False)
    if shutil.which("fc-list") and not subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout.strip():
        pytest.fail("没有能显示中文的字体：请先运行 scripts/setup --tests（安装 fonts-wqy-microhei）", pytrace=False)
    with sync_playwright() as running:
        yield running


@pytest.fixture()
def browser(playwright: Playwright, tmp_path: Path) -> Iterator[BrowserContext]:
    """A fresh Chromium profile (its own --user-data-dir) for each test: no cookie carries over."""
    context = playwright.chromium.launch_persistent_context(
        tmp_path / "chromium-profile",
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_ARGS,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        viewport={"width": 1280, "height": 900},
    )
    context.set_default_timeout(15_000)
    yield context
    context.close()


def screenshot(page: Page, name: str) -> Path:
    """Save the whole page under test-artifacts/browser/ for a person to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^0-9A-Za-z_.-]+', '-', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(browser: BrowserContext, gateway: RunningGateway, unit: str, path: str = "/console/") -> Page:
    """Open `path` as `unit`: the console sends the browser to its sign-in form, then back."""
    page = browser.new_page()
    page.goto(f"{gateway.base_url}{path}")
    page.fill("#api_key", gateway.keys[unit])
    page.click("button[type=submit]")
    page.wait_for_selector("#signed-in-unit")
    return page
