"""Headless Chromium over the DevTools protocol, on a pipe: no port, no extra package.

    from bench.chromium import Browser, find_browser
    with Browser(find_browser()) as browser:
        page = browser.open(Path("out/report.html"), width=1400, height=900)
        page.evaluate("document.title")
        page.screenshot(Path("shot.png"))
        browser.errors          # console errors, uncaught exceptions, CSP violations, ...

Chromium is started with `--remote-debugging-pipe` (it reads protocol messages on fd 3 and
writes them on fd 4, each a JSON text ended by NUL; a short Python trampoline puts the pipe
there and execs the browser) and the flags of a throw-away, offline
profile. Used by `bench/screenshot_report.py` and `tests/test_report_browser.py`; Debian's
`chromium` package is enough (`apt-get install -y chromium`), nothing is downloaded.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Self

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
)


def find_browser() -> str | None:
    """The first Chromium-family binary on PATH (or $MESH_CHROMIUM), or None."""
    explicit = os.environ.get("MESH_CHROMIUM")
    if explicit:
        return explicit if shutil.which(explicit) else None
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


# argv: read end, write end, browser, its arguments; dup2 leaves fds 3 and 4 inheritable
_TRAMPOLINE = (
    "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
    "os.execv(sys.argv[3], sys.argv[3:])"
)


class BrowserError(RuntimeError):
    pass


class Browser:
    """One headless Chromium process; `open()` gives a page (a target with its own session)."""

    def __init__(self, binary: str, timeout: float = 60.0) -> None:
        self.binary = binary
        self.timeout = timeout
        self.errors: list[str] = []  # console errors and exceptions of every page
        self.console: list[str] = []  # every console message, for a failing test's output
        self._next_id = 0
        self._buffer = b""
        self._events: list[dict[str, Any]] = []
        self._profile = tempfile.mkdtemp(prefix="mesh-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        # the child's ends above fd 9, so that the trampoline below can put them on fds 3 and 4
        # without one overwriting the other (not a preexec_fn: forking with a Python callback
        # is unsafe in a process with threads, such as a test run)
        ends = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_child_r, from_child_w)]
        for fd in (to_child_r, from_child_w):
            os.close(fd)
        to_child_r, from_child_w = ends
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _TRAMPOLINE,
                str(to_child_r),
                str(from_child_w),
                binary,
                *FLAGS,
                f"--user-data-dir={self._profile}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(to_child_r, from_child_w),
        )
        os.close(to_child_r)
        os.close(from_child_w)

    # ------------------------------------------------------------ protocol

    def send(
        self,
        method: str,
        params: dict | None = None,
        session: str | None = None,
        timeout: float | None = None,
    ) -> dict:
        """Send a command and wait for its result (events meanwhile are kept)."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        wanted = self._next_id
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for reply in self._read(deadline):
                if reply.get("id") == wanted:
                    if "error" in reply:
                        raise BrowserError(f"{method}: {reply['error']}")
                    return reply.get("result", {})
                self._event(reply)

    def wait_for(self, method: str, session: str | None = None) -> dict:
        """The next event `method` (of `session`), waiting for it if needed."""
        deadline = time.monotonic() + self.timeout
        while True:
            for i, event in enumerate(self._events):
                if event.get("method") == method and event.get("sessionId") == session:
                    return self._events.pop(i).get("params", {})
            for reply in self._read(deadline):
                self._event(reply)

    def _read(self, deadline: float) -> list[dict[str, Any]]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"no answer from {self.binary} in time")
            ready, _, _ = select.select([self._from_child], [], [], left)
            if ready:
                chunk = os.read(self._from_child, 1 << 20)
                if not chunk:
                    raise BrowserError(f"{self.binary} exited ({self._proc.poll()})")
                self._buffer += chunk
        *messages, self._buffer = self._buffer.split(b"\0")
        return [json.loads(m) for m in messages if m]

    def _event(self, event: dict[str, Any]) -> None:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled":
            text = " ".join(
                str(a.get("value", a.get("description", ""))) for a in params.get("args", [])
            )
            self.console.append(f"console.{params.get('type')}: {text}")
            if params.get("type") in ("error", "assert"):
                self.errors.append(f"console.{params.get('type')}: {text}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            text = details.get("exception", {}).get("description") or details.get("text")
            self.errors.append(f"exception: {text}")
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            self.console.append(f"log.{entry.get('level')}: {entry.get('text')}")
            if entry.get("level") == "error":
                self.errors.append(f"log ({entry.get('source')}): {entry.get('text')}")
        else:
            self._events.append(event)

    # ------------------------------------------------------------ pages

    def open(self, html: Path, width: int = 1400, height: int = 900, scripts: bool = True) -> Page:
        """A new page showing `html`, once its load event fired (`scripts=False`: with
        JavaScript disabled, as a reader who blocks scripts sees it)."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        page = Page(self, session)
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable", session=session)
        page.resize(width, height)
        if not scripts:
            self.send("Emulation.setScriptExecutionDisabled", {"value": True}, session=session)
        self.send("Page.navigate", {"url": html.resolve().as_uri()}, session=session)
        self.wait_for("Page.loadEventFired", session=session)
        return page

    def close(self) -> None:
        try:
            if self._proc.poll() is None:
                try:
                    self.send("Browser.close")
                except (BrowserError, OSError):
                    pass
                try:
                    self._proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait(timeout=10)
        finally:
            for fd in (self._to_child, self._from_child):
                try:
                    os.close(fd)
                except OSError:
                    pass
            shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Page:
    def __init__(self, browser: Browser, session: str) -> None:
        self.browser = browser
        self.session = session

    def send(self, method: str, params: dict | None = None, timeout: float | None = None) -> dict:
        return self.browser.send(method, params, session=self.session, timeout=timeout)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (JSON-serialisable values)."""
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")

    def resize(self, width: int, height: int) -> None:
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )

    def media(self, media: str) -> None:
        """Emulate a CSS media type ("print", "screen"; "" restores)."""
        self.send("Emulation.setEmulatedMedia", {"media": media})

    def screenshot(self, png: Path, y: float = 0, height: float | None = None) -> Path:
        """A PNG of the page from `y` down `height` CSS pixels (default: the viewport's), scrolled
        there first (sticky table headers sit where a reader would see them)."""
        self.evaluate(f"window.scrollTo(0, {float(y)})")
        metrics = self.send("Page.getLayoutMetrics")
        width = metrics["cssLayoutViewport"]["clientWidth"]
        if height is None:
            height = metrics["cssLayoutViewport"]["clientHeight"]
        data = self.send(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": y, "width": width, "height": height, "scale": 1},
            },
        )["data"]
        png.parent.mkdir(parents=True, exist_ok=True)
        png.write_bytes(base64.b64decode(data))
        return png

    def pdf(self, path: Path, timeout: float = 600) -> Path:
        """The print version (print CSS) as a PDF; a long report takes minutes to paginate."""
        data = self.send("Page.printToPDF", {"printBackground": True}, timeout=timeout)["data"]
        path.write_bytes(base64.b64decode(data))
        return path
