#!/usr/bin/env python3
"""Opens HTML pages in headless Chromium (Debian's `chromium`) through the DevTools protocol
over a pipe (no extra package), fails on any console error, uncaught exception, log error or
failed request, and saves a full-page screenshot of each page at each width.

    html_chromium.py SHOT_DIR PAGE.html [PAGE.html ...]
    -> JSON on stdout {"pages": [{"page", "width", "png", "height_px", "title"}], "problems": [...]}
    exit 1 when any problem was seen.
"""
import base64
import json
import os
import subprocess
import sys
import tempfile

# Debian's /usr/bin/chromium is a shell wrapper; the binary behind it takes the pipe as is.
CHROMIUM = os.environ.get("CITYFLOW_CHROMIUM") or next(
    (p for p in ("/usr/lib/chromium/chromium", "/usr/bin/chromium") if os.path.exists(p)),
    "chromium")
WIDTHS = [("desktop", 1280, 900, False), ("phone", 390, 844, True)]


class Browser:
    def __init__(self):
        self.profile = tempfile.TemporaryDirectory(prefix="cityflow-chromium-")
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()

        def fds():
            # DevTools reads fd 3 and writes fd 4 (copied high first: either may be 3 or 4).
            a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", "--no-default-browser-check", "--hide-scrollbars",
             f"--user-data-dir={self.profile.name}", "--remote-debugging-pipe", "about:blank"],
            pass_fds=(3, 4), preexec_fn=fds,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buf = b""
        self.next_id = 0
        self.events = []

    def recv(self):
        while b"\0" not in self.buf:
            chunk = os.read(self.from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        while True:
            m = self.recv()
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_for(self, method):
        for i, m in enumerate(self.events):
            if m.get("method") == method:
                del self.events[i]
                return m
        while True:
            m = self.recv()
            if m.get("method") == method:
                return m
            self.events.append(m)

    def close(self):
        try:
            self.call("Browser.close")
        except Exception:  # noqa: BLE001 - closing anyway
            pass
        self.proc.wait(timeout=30)
        self.profile.cleanup()


def problems_in(events, page):
    out = []
    for m in events:
        meth, p = m.get("method"), m.get("params", {})
        if meth == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append(f"{page}: console {p.get('type')}: {p.get('args')}")
        elif meth == "Runtime.exceptionThrown":
            out.append(f"{page}: exception: {p.get('exceptionDetails', {}).get('text')}")
        elif meth == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            out.append(f"{page}: log error: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        elif meth == "Network.loadingFailed":
            out.append(f"{page}: request failed: {p.get('errorText')} {p.get('blockedReason', '')}")
        elif meth == "Network.requestWillBeSent":
            url = p.get("request", {}).get("url", "")
            if not url.startswith("file://"):
                out.append(f"{page}: network request to {url}")
    return out


def shoot(b, session, page, shot_dir, name, width, height, mobile, n):
    b.call("Emulation.setDeviceMetricsOverride",
           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}, session)
    b.events.clear()
    b.call("Page.navigate", {"url": "file://" + os.path.abspath(page)}, session)
    b.wait_for("Page.loadEventFired")
    title = b.call("Runtime.evaluate", {"expression": "document.title"}, session)
    full = b.call("Runtime.evaluate", {"expression":
                  "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]",
                  "returnByValue": True}, session)["result"]["value"]
    shot = b.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                  "clip": {"x": 0, "y": 0, "width": width, "height": full[1], "scale": 1}}, session)
    stem = os.path.splitext(os.path.basename(page))[0]
    png = os.path.join(shot_dir, f"{n}-{stem}-{name}.png")
    with open(png, "wb") as f:
        f.write(base64.b64decode(shot["data"]))
    info = {"page": page, "width": name, "png": png, "height_px": full[1],
            "scroll_width_px": full[0], "title": title["result"].get("value")}
    return info, problems_in(b.events, f"{os.path.basename(page)} ({name})")


def main(shot_dir, pages):
    os.makedirs(shot_dir, exist_ok=True)
    b = Browser()
    results, problems = [], []
    try:
        target = b.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = b.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            b.call(f"{domain}.enable", {}, session)
        for n, page in enumerate(pages, 1):
            for name, width, height, mobile in WIDTHS:
                info, probs = shoot(b, session, page, shot_dir, name, width, height, mobile, n)
                results.append(info)
                problems.extend(probs)
                if info["scroll_width_px"] > width:
                    problems.append(f"{page} ({name}): {info['scroll_width_px']} px wide, wider than the screen")
    finally:
        b.close()
    json.dump({"pages": results, "problems": problems}, sys.stdout)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
