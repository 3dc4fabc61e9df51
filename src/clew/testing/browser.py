"""A real browser for tests: Debian's Chromium driven by chromium-driver through Selenium,
headless. Selenium is blocking; every call goes through a thread (:class:`Browser`), so the
servers and controllers running in the test's event loop keep serving while the browser waits.

``scripts/bootstrap`` installs ``chromium`` and ``chromium-driver``; a missing one fails the test
with that hint (never a skip). Waits poll the page with a deadline (Selenium's WebDriverWait),
as every browser test must: the page has no event the test could subscribe to.
"""

from __future__ import annotations

import asyncio
import base64
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["Browser", "BrowserMissing", "chromium"]

CHROMIUM = ("/usr/bin/chromium", "chromium")
DRIVER = ("/usr/bin/chromedriver", "chromedriver")


class BrowserMissing(RuntimeError):
    pass


def _find(candidates: tuple[str, ...]) -> str:
    for candidate in candidates:
        found = shutil.which(candidate)
        if found:
            return found
    raise BrowserMissing(
        f"{candidates[-1]} is not installed: run ./scripts/bootstrap "
        "(apt-get install chromium chromium-driver)"
    )


def chromium(width: int = 1360, height: int = 900) -> Any:
    """A headless Chromium WebDriver (close it with ``quit()``)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = _find(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",  # tests run as root in containers
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        f"--window-size={width},{height}",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=_find(DRIVER)), options=options)


class Browser:
    """Async wrappers over one WebDriver; ``base`` is the server's URL."""

    def __init__(self, driver: Any, base: str) -> None:
        self.driver = driver
        self.base = base.rstrip("/")

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)

    async def get(self, path: str) -> None:
        await self.call(self.driver.get, self.base + path)

    async def js(self, script: str, *args: Any) -> Any:
        return await self.call(self.driver.execute_script, script, *args)

    async def async_js(self, script: str, *args: Any) -> Any:
        return await self.call(self.driver.execute_async_script, script, *args)

    async def wait(self, condition: Callable[[Any], Any], seconds: float = 20.0) -> Any:
        """The first truthy value of ``condition(driver)`` within ``seconds``."""
        from selenium.webdriver.support.ui import WebDriverWait

        return await self.call(WebDriverWait(self.driver, seconds, 0.1).until, condition)

    async def wait_text(self, css: str, text: str, seconds: float = 20.0) -> str:
        """The text of ``css`` once it contains ``text``."""

        def check(driver: Any) -> str | bool:
            from selenium.common.exceptions import (
                NoSuchElementException,
                StaleElementReferenceException,
            )
            from selenium.webdriver.common.by import By

            try:
                found = str(driver.find_element(By.CSS_SELECTOR, css).text)
            except (NoSuchElementException, StaleElementReferenceException):
                return False
            return found if text in found else False

        return str(await self.wait(check, seconds))

    async def text(self, css: str) -> str:
        from selenium.webdriver.common.by import By

        def read() -> str:
            return str(self.driver.find_element(By.CSS_SELECTOR, css).text)

        return str(await self.call(read))

    async def click(self, css: str, seconds: float = 10.0) -> None:
        """Click ``css``; retried while a live update replaces the element under the click."""
        from selenium.common.exceptions import (
            NoSuchElementException,
            StaleElementReferenceException,
        )
        from selenium.webdriver.common.by import By

        def click(driver: Any) -> bool:
            try:
                driver.find_element(By.CSS_SELECTOR, css).click()
            except (NoSuchElementException, StaleElementReferenceException):
                return False
            return True

        await self.wait(click, seconds)

    async def fill(self, css: str, value: str) -> None:
        from selenium.webdriver.common.by import By

        def fill() -> None:
            element = self.driver.find_element(By.CSS_SELECTOR, css)
            element.clear()
            element.send_keys(value)

        await self.call(fill)

    async def accept_confirm(self, seconds: float = 5.0) -> str:
        """Accept the page's ``confirm()`` dialog; its question."""
        from selenium.webdriver.support import expected_conditions

        alert = await self.wait(expected_conditions.alert_is_present(), seconds)
        question = str(alert.text)
        await self.call(alert.accept)
        return question

    async def screenshot(self, path: Path, max_height: int = 2400) -> None:
        """A PNG of the whole page (up to ``max_height`` CSS pixels), not only the window."""
        path.parent.mkdir(parents=True, exist_ok=True)

        def capture() -> None:
            metrics = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
            size = metrics["cssContentSize"]
            height = max(int(metrics["cssLayoutViewport"]["clientHeight"]), int(size["height"]))
            clip = {"x": 0, "y": 0, "width": size["width"], "height": min(height, max_height)}
            shot = self.driver.execute_cdp_cmd(
                "Page.captureScreenshot",
                {"format": "png", "captureBeyondViewport": True, "clip": {**clip, "scale": 1}},
            )
            path.write_bytes(base64.b64decode(shot["data"]))

        await self.call(capture)

    async def axe(self, axe_source: str) -> list[dict[str, Any]]:
        """axe-core's violations on the current page (inject ``axe_source`` first)."""
        await self.js(axe_source)
        result = await self.async_js(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']})"
            ".then(r => done(r.violations)).catch(e => done([{id: 'axe-error', impact: 'critical', "
            "help: String(e), nodes: []}]));"
        )
        return list(result or [])
