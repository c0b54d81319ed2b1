"""Headless Chromium driven through the DevTools protocol over a pipe
(--remote-debugging-pipe: commands on the browser's fd 3, answers and events
on its fd 4, each a JSON text ended by a NUL byte), so no WebSocket client is
needed: Debian's chromium and the standard library suffice.

One browser process for a whole test (each start costs a second or two on a
loaded machine); a throwaway profile; a page (target) with its own session.
"""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time


def chromium_binary():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise AssertionError("no chromium: scripts/deps installs Debian's chromium package")


class Browser:
    """A headless Chromium and one page in it."""

    def __init__(self, width=1280, height=1600, extra=()):
        self.profile = tempfile.mkdtemp(prefix="sg-cdp-")
        to_read, self._to = os.pipe()      # we write, it reads on fd 3
        self._from, from_write = os.pipe()  # it writes on fd 4, we read

        def fds():
            a, b = os.dup(to_read), os.dup(from_write)  # out of the way of 3 and 4 first
            os.dup2(a, 3)
            os.dup2(b, 4)

        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [chromium_binary(), "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
             "--disable-extensions", "--hide-scrollbars", "--disable-background-networking",
             "--user-data-dir=" + self.profile, "--remote-debugging-pipe",
             "--window-size=%d,%d" % (width, height)] + list(extra),
            preexec_fn=fds, pass_fds=(3, 4), stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        os.close(to_read)
        os.close(from_write)
        self._buf = b""
        self._next = 0
        self.events = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target,
                                 flatten=True)["sessionId"]
        self.page("Page.enable")
        self.page("Runtime.enable")
        self.page("Log.enable")
        self.start_seconds = time.monotonic() - t0

    def call(self, method, session=None, timeout=60, **params):
        """Sends one command and returns its result; events met meanwhile are
        kept in self.events."""
        self._next += 1
        ident = self._next
        msg = {"id": ident, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self._to, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" not in self._buf:
                if time.monotonic() > deadline:
                    raise AssertionError("chromium did not answer %s" % method)
                chunk = os.read(self._from, 1 << 20)
                if not chunk:
                    raise AssertionError("chromium exited: %s" % self._stderr())
                self._buf += chunk
            line, self._buf = self._buf.split(b"\0", 1)
            m = json.loads(line)
            if m.get("id") == ident:
                if "error" in m:
                    raise AssertionError("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            self.events.append(m)

    def page(self, method, **params):
        return self.call(method, session=self.session, **params)

    def navigate(self, url, timeout=30):
        """Loads url and waits for its load event."""
        self.events = []
        r = self.page("Page.navigate", url=url)
        if r.get("errorText"):
            raise AssertionError("cannot load %s: %s" % (url, r["errorText"]))
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            if time.monotonic() > deadline:
                raise AssertionError("%s did not load" % url)
            self.evaluate("1")  # reads the pipe, collecting events
            time.sleep(0.05)

    def evaluate(self, expression):
        """The value of a JavaScript expression in the page."""
        r = self.page("Runtime.evaluate", expression=expression, returnByValue=True,
                      awaitPromise=True)
        if r.get("exceptionDetails"):
            raise AssertionError("%s: %s" % (expression, r["exceptionDetails"]))
        return r["result"].get("value")

    def screenshot(self, path):
        """A PNG of the whole page, written to path; its bytes returned."""
        data = base64.b64decode(self.page("Page.captureScreenshot", format="png",
                                          captureBeyondViewport=True)["data"])
        with open(path, "wb") as f:
            f.write(data)
        return data

    def console_errors(self):
        """What the page logged as errors or threw (CSP violations included)."""
        out = []
        for e in self.events:
            if e.get("method") == "Runtime.exceptionThrown":
                out.append(e["params"]["exceptionDetails"].get("text", "exception"))
            elif e.get("method") == "Runtime.consoleAPICalled" and \
                    e["params"].get("type") == "error":
                out.append(" ".join(str(a.get("value")) for a in e["params"]["args"]))
            elif e.get("method") == "Log.entryAdded" and \
                    e["params"]["entry"].get("level") == "error":
                out.append(e["params"]["entry"].get("text", ""))
        return out

    def _stderr(self):
        try:
            return self.proc.stderr.read().decode(errors="replace")[-2000:]
        except (OSError, ValueError):
            return ""

    def close(self):
        try:
            self.call("Browser.close", timeout=10)
        except AssertionError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to, self._from):
            try:
                os.close(fd)
            except OSError:
                pass
        self.proc.stderr.close()
        shutil.rmtree(self.profile, ignore_errors=True)
