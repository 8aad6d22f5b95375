#!/usr/bin/env python3
"""The web dashboard in a real browser (issue 8): headless Chromium driven by Selenium, checked by
axe-core (axe-selenium-python). Starts a real n = 4 cluster with one Byzantine worker, asks a few
queries, then for every page: zero axe violations of impact serious or critical (every violation is
printed), keyboard navigation (Tab reaches every link, field and button in document order and each
shows a visible focus outline), the live region announces a newly decided query, and a tampered
certificate renders FAIL with the auditor's reason. Screenshots and the axe results are written to
the artifacts directory.

  tests/a11y/test_dashboard.py BUTTERFLY_BINARY ARTIFACTS_DIR

Exit 0: all checks passed; 1: a check failed; 77: the browser stack is missing (printed why).
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

CHROMIUM = os.environ.get("BUTTERFLY_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("BUTTERFLY_CHROMEDRIVER", "/usr/bin/chromedriver")
BLOCKING = ("serious", "critical")
AXE_MIN_VERSION = (4, 7)  # WCAG 2.2 rules (target-size) are tagged wcag22aa from axe-core 4.7


def axe_script():
    """The newest axe-core here: axe-selenium-python 2.1.6 (the last for Python < 3.12) bundles axe-core
    3.1.1 (2018, no WCAG 2.2 rules), so scripts/a11y-setup also installs axe-playwright-python, without
    its Playwright dependency, only for the axe-core 4.x file it ships; Selenium injects that file."""
    import importlib.util
    spec = importlib.util.find_spec("axe_playwright_python")  # locates the package without importing it
    if spec and spec.submodule_search_locations:
        path = os.path.join(list(spec.submodule_search_locations)[0], "axe.min.js")
        if os.path.exists(path):
            return path
    return None
TAB_PRESSES_MAX = 200  # a page with more focusable elements than this is itself a finding

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.common.action_chains import ActionChains
    from axe_selenium_python import Axe
except ImportError as e:  # the venv from scripts/a11y-setup is not the one running us
    print(f"SKIP: {e}; run scripts/a11y-setup and use its python")
    sys.exit(77)

failures = []
expecting_faults = False  # during self_check: the faults are planted, say so instead of FAIL


def fail(message):
    print(("  caught (planted): " if expecting_faults else "FAIL: ") + message)
    failures.append(message)


def http_json(base, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def start_browser():
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not try to download drivers
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1000", "--force-color-profile=srgb", "--lang=en-US"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def run_axe(driver, name, script):
    axe = Axe(driver, script) if script else Axe(driver)
    axe.inject()
    results = axe.run()
    version = driver.execute_script("return axe.version")
    results.setdefault("testEngine", {})["version"] = version
    violations = results["violations"]
    print(f"  axe-core {version}: {len(results['passes'])} rules passed, "
          f"{len(violations)} violations, {len(results['incomplete'])} need review")
    for v in violations:
        targets = "; ".join(",".join(n["target"]) for n in v["nodes"][:5])
        print(f"    violation {v['id']} (impact {v['impact']}): {v['help']} [{len(v['nodes'])} nodes: {targets}]")
        if v["impact"] in BLOCKING:
            fail(f"{name}: axe {v['impact']} violation {v['id']}: {v['help']}")
    for v in results["incomplete"]:
        print(f"    needs review {v['id']} (impact {v['impact']}): {v['help']} [{len(v['nodes'])} nodes]")
    if results["passes"] == [] and violations == []:
        fail(f"{name}: axe ran no rule at all")
    return {"page": name, "axe_version": results.get("testEngine", {}).get("version"),
            "passes": len(results["passes"]),
            "violations": [{"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": len(v["nodes"])}
                           for v in violations],
            "incomplete": [{"id": v["id"], "impact": v["impact"], "nodes": len(v["nodes"])}
                           for v in results["incomplete"]]}


def screenshot(driver, path):
    """The whole page: the window grows to the document's height (bounded) for the shot."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(max(int(height) + 150, 1000), 8000))
    driver.save_screenshot(path)
    driver.set_window_size(1280, 1000)


FOCUSABLE_JS = """
return Array.from(document.querySelectorAll(
  'a[href], button:not([disabled]), input:not([disabled]), select, textarea, [tabindex]'))
  .filter(e => e.tabIndex >= 0 && e.getClientRects().length > 0);
"""

FOCUS_STYLE_JS = """
const e = document.activeElement; const s = getComputedStyle(e); const r = e.getBoundingClientRect();
return {tag: e.tagName, text: (e.textContent || e.name || '').trim().slice(0, 40), outline: s.outlineStyle,
        width: parseFloat(s.outlineWidth), color: s.outlineColor, top: r.top, left: r.left,
        visible: r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0};
"""


def keyboard_check(driver, name, url):
    driver.get(url)  # fresh: no earlier focus moves the sequential-navigation starting point
    expected = driver.execute_script(FOCUSABLE_JS)
    if not expected:
        fail(f"{name}: nothing focusable")
        return 0
    reached = []
    for i in range(min(len(expected), TAB_PRESSES_MAX)):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        active = driver.switch_to.active_element
        reached.append(active)
        style = driver.execute_script(FOCUS_STYLE_JS)
        if active != expected[i]:
            fail(f"{name}: Tab {i + 1} reached {style['tag']} '{style['text']}', not the next element in document order")
            break
        if style["outline"] == "none" or style["width"] < 2:
            fail(f"{name}: Tab {i + 1} ({style['tag']} '{style['text']}'): no visible focus outline "
                 f"({style['outline']} {style['width']}px)")
        if not style["visible"]:
            fail(f"{name}: Tab {i + 1} ({style['tag']} '{style['text']}') is focused but off screen")
    # The first stop is the skip link, and Enter on it moves focus to the main content.
    first = expected[0]
    if first.get_attribute("class") != "skip":
        fail(f"{name}: the first Tab stop is not the skip link")
    else:
        driver.get(url)
        ActionChains(driver).send_keys(Keys.TAB).send_keys(Keys.ENTER).perform()
        time.sleep(0.1)
        if driver.switch_to.active_element.get_attribute("id") != "main":
            fail(f"{name}: Enter on the skip link did not move focus to <main>")
    print(f"  keyboard: Tab reached {len(reached)} of {len(expected)} focusable elements (faults, if any, are listed above)")
    return len(expected)


# A page with known faults: no lang, an image without text, low-contrast text, a link whose focus
# outline is removed. The checks above must catch each one, or they prove nothing.
BROKEN_PAGE = ("data:text/html,<title>broken</title><main><h1>x</h1><img src='x.png'>"
               "<p style='color:%23bbbbbb;background:%23ffffff'>faint text</p>"
               "<a href='%23a' style='outline:none' class='skip'>link</a></main>")


def self_check(driver, script):
    global expecting_faults
    expecting_faults = True
    before = len(failures)
    driver.get(BROKEN_PAGE)
    found = run_axe(driver, "self-check", script)
    ids = {v["id"] for v in found["violations"] if v["impact"] in BLOCKING}
    keyboard_check(driver, "self-check", BROKEN_PAGE)
    caught = failures[before:]
    del failures[before:]
    expecting_faults = False
    print(f"  self-check: axe found {sorted(ids)}; keyboard check: {len([c for c in caught if 'outline' in c])} outline faults")
    for want in ("image-alt", "color-contrast"):
        if want not in ids:
            fail(f"self-check: axe did not report {want} on a page that has it")
    if not any("no visible focus outline" in c for c in caught):
        fail("self-check: the keyboard check did not notice a link without a focus outline")
    return found["axe_version"]


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    bf, artifacts = sys.argv[1], sys.argv[2]
    for path, what in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromedriver")):
        if not os.access(path, os.X_OK):
            print(f"SKIP: {what} not at {path}; run scripts/a11y-setup")
            return 77
    os.makedirs(artifacts, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="bf-dashboard-")
    cdir = os.path.join(tmp, "cluster")
    driver = None
    try:
        out = subprocess.run([bf, "cluster", "start", "--workers", "4", "--byzantine", "1", "--kind", "wrong",
                              "--dir", cdir], capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            fail("cluster start: " + out.stdout + out.stderr)
            return 1
        with open(os.path.join(cdir, "cluster.json")) as f:
            base = "http://" + json.load(f)["http"]
        deadline = time.time() + 30
        while http_json(base, "/v1/status")["connected"] < 4 and time.time() < deadline:
            time.sleep(0.1)
        sequences = []
        for q in ("2+2?", "9-3", "6*7"):
            r = http_json(base, "/v1/query", {"query": q})
            print(f"query {q!r}: {r['outcome']} {r['answer']!r}, certificate {r['sequence']}")
            sequences.append(r["sequence"])
        driver = start_browser()
        print(f"browser: {driver.capabilities.get('browserName')} {driver.capabilities.get('browserVersion')}")
        script = axe_script()
        print("page self-check (known faults)")
        engine = self_check(driver, script)
        version = tuple(int(x) for x in engine.split(".")[:2])
        if version < AXE_MIN_VERSION:
            fail(f"axe-core {version} predates WCAG 2.2 rules; run scripts/a11y-setup")
        pages = [("status", "/"), ("queries", "/queries"), ("certificate", f"/certificates/{sequences[0]}"),
                 ("help", "/help"), ("missing-certificate", "/certificates/999999"), ("not-found-form", "/certificates?sequence=x")]
        summary = []
        for name, path in pages:
            print(f"page {name} ({path})")
            driver.get(base + path)
            if driver.find_element(By.TAG_NAME, "html").get_attribute("lang") != "en":
                fail(f"{name}: no lang attribute")
            if len(driver.find_elements(By.CSS_SELECTOR, "[role=status][aria-live=polite]")) != 1:
                fail(f"{name}: no polite live region")
            summary.append(run_axe(driver, name, script))
            summary[-1]["focusable"] = keyboard_check(driver, name, base + path)
            driver.get(base + path)
            screenshot(driver, os.path.join(artifacts, f"dashboard-{name}.png"))

        # Content the operator relies on, in words.
        driver.get(base + "/")
        text = driver.find_element(By.TAG_NAME, "main").text
        for want in ("alpha (worker-01)", "delta (worker-04)", "4 of 4 workers connected"):
            if want not in text:
                fail(f"status page lacks '{want}'")
        driver.get(base + "/queries")
        text = driver.find_element(By.TAG_NAME, "main").text
        for want in ("2+2?", "Certificate " + str(sequences[-1]), "decided"):
            if want not in text:
                fail(f"queries page lacks '{want}'")
        driver.get(f"{base}/certificates/{sequences[0]}")
        text = driver.find_element(By.TAG_NAME, "main").text
        for want in ("Verdict: PASS", "alpha (worker-01)", '"4"', "head-signature"):
            if want not in text:
                fail(f"certificate page lacks '{want}'")

        # The live region announces a query decided while the page is open.
        driver.get(base + "/")
        time.sleep(1.5)  # the script's first poll records where things stand
        r = http_json(base, "/v1/query", {"query": "5+5"})
        want = f"Query {r['sequence']} {r['outcome']}"
        deadline = time.time() + 15
        live = ""
        while time.time() < deadline:
            live = driver.find_element(By.ID, "live").text
            if want in live:
                break
            time.sleep(0.2)
        print(f"live region: {live!r}")
        if want not in live:
            fail(f"the live region did not announce '{want}' within 15 s (it says {live!r})")

        # A tampered certificate: the viewer shows the auditor's FAIL and its reason.
        cert = os.path.join(cdir, "log", f"{sequences[1]:06d}.cert")
        with open(cert, "r+b") as f:
            f.seek(-1, os.SEEK_END)
            last = f.read(1)
            f.seek(-1, os.SEEK_END)
            f.write(bytes([last[0] ^ 1]))
        print(f"page tampered-certificate (/certificates/{sequences[1]})")
        driver.get(f"{base}/certificates/{sequences[1]}")
        verdict = driver.find_element(By.CSS_SELECTOR, "main p").text
        rows = [row.text for row in driver.find_elements(By.CSS_SELECTOR, "main table tbody tr") if "FAIL" in row.text]
        print(f"  verdict: {verdict!r}; failing rows: {rows}")
        if not verdict.startswith("Verdict: FAIL") or not rows:
            fail("the tampered certificate is not shown as FAIL with a failing check")
        summary.append(run_axe(driver, "tampered-certificate", script))
        screenshot(driver, os.path.join(artifacts, "dashboard-tampered-certificate.png"))

        with open(os.path.join(artifacts, "dashboard-axe.json"), "w") as f:
            json.dump(summary, f, indent=2)
        print(f"artifacts: {artifacts}")
    finally:
        if driver is not None:
            driver.quit()
        state = os.path.join(cdir, "cluster.json")
        if os.path.exists(state):
            subprocess.run([bf, "cluster", "stop", "--dir", cdir], capture_output=True, timeout=60)
            with open(state) as f:  # whatever did not stop is killed, by its own pid
                c = json.load(f)
            for pid in [c["head"]["pid"]] + [w["pid"] for w in c["workers"]]:
                try:
                    os.kill(int(pid), 9)
                except (ProcessLookupError, ValueError, PermissionError):
                    pass
        subprocess.run(["rm", "-rf", tmp])
    if failures:
        print(f"{len(failures)} checks failed")
        return 1
    print("all dashboard checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
