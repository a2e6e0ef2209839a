"""User story: no other site can show my page inside its own (clickjacking)."""

from __future__ import annotations

import time

import pytest
import requests

from tests.browser.page import CSP_REFUSALS

pytestmark = pytest.mark.browser


def test_another_site_cannot_frame_the_page(page, site):
    """Clickjacking: a page of another origin (another port) puts the site in an iframe. The site's
    CSP (frame-ancestors 'none'; X-Frame-Options: DENY for older browsers) makes Chromium refuse
    to show it: the frame holds an error page, never the sign-in form."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    served = requests.get(site, timeout=10)
    assert "frame-ancestors 'none'" in served.headers["Content-Security-Policy"]
    assert served.headers["X-Frame-Options"] == "DENY"

    framer_html = f'<!doctype html><title>framer</title><iframe id="site" src="{site}/"></iframe>'.encode()

    class Framer(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(framer_html)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Framer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page.goto(f"http://127.0.0.1:{server.server_port}/")
        deadline = time.monotonic() + 15
        while not [m for m in CSP_REFUSALS if "frame-ancestors" in m] and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        refused = [m for m in CSP_REFUSALS if "frame-ancestors" in m]
        assert refused, CSP_REFUSALS  # Chromium says why
        page.wait_for_timeout(1000)  # what a framed page would have shown by now
        frames = [f for f in page.frames if f != page.main_frame]
        assert len(frames) == 1 and not frames[0].url.startswith(site), frames[0].url
        assert page.frame_locator("#site").locator("#sign-in-form").count() == 0
    finally:
        server.shutdown()
        server.server_close()
    CSP_REFUSALS[:] = [m for m in CSP_REFUSALS if m not in refused]  # the refusal this test expects
