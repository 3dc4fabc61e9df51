"""The list page with 1,000 Applications, in a real browser: it loads (server render, transfer
and browser layout) within 1 s, search-as-you-type filters the rows within 100 ms, and the
first load of the UI (login page with its stylesheet and script) stays under 200 KB compressed.
The figures are printed (run with ``-s``) and written to ``$CLEW_TEST_ARTIFACTS/ui``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from clew.cluster import Cluster
from clew.testing.browser import Browser

from .test_operator import application
from .test_ui_browser import account_token, grant_operator, sign_in

COUNT = 1000


async def test_a_thousand_applications(
    kube_admin: Cluster, kube_namespace: str, browser: Browser, artifacts: Path
) -> None:
    ns = kube_namespace
    gate = asyncio.Semaphore(16)

    async def create(i: int) -> None:
        app = application(f"app-{i:04d}", ns, "https://git.invalid/x.git", suspend=True)
        app["metadata"]["labels"] = {"team": f"t{i % 10}"}
        async with gate:
            await kube_admin.create(app)

    await asyncio.gather(*(create(i) for i in range(COUNT)))

    # The first load: the sign-in page, its stylesheet and its script, as transferred.
    await browser.get("/login")
    first_load = await browser.js(
        "return performance.getEntriesByType('navigation')[0].transferSize"
        " + performance.getEntriesByType('resource').reduce((n, r) => n + r.transferSize, 0)"
    )
    assert 0 < first_load <= 200 * 1024

    await grant_operator(kube_admin, ns, "alice")
    await sign_in(browser, await account_token(kube_admin, ns, "alice"))
    await browser.wait(lambda d: d.execute_script("return true"))
    await browser.get(f"/?namespace={ns}")
    await browser.wait_text("#count", f"{COUNT} of {COUNT}")
    timing = await browser.js(
        "const n = performance.getEntriesByType('navigation')[0];"
        "return {load: n.loadEventEnd - n.startTime, response: n.responseEnd - n.startTime,"
        " bytes: n.transferSize, decoded: n.decodedBodySize}"
    )
    rows = await browser.js("return document.querySelectorAll('#apps tbody tr').length")
    assert rows == COUNT
    assert timing["load"] <= 1000, timing

    search = await browser.js(
        "const input = document.getElementById('search'); const t0 = performance.now();"
        "input.value = 'app-0042'; input.dispatchEvent(new Event('input'));"
        "const shown = [...document.querySelectorAll('#apps tbody tr')].filter(r => !r.hidden);"
        "return {ms: performance.now() - t0, shown: shown.length}"
    )
    assert search["shown"] == 1
    assert search["ms"] <= 100, search

    figures = {
        "applications": COUNT,
        "first_load_bytes": first_load,
        "list": timing,
        "search": search,
    }
    print(json.dumps(figures))
    (artifacts / "scale.json").write_text(json.dumps(figures, indent=2))
    await browser.screenshot(artifacts / "list-1000.png")
