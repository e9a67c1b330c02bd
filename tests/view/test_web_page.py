"""`export web`'s index.html, served as plain static files by Python's http.server on
127.0.0.1, opens in a real browser at the capture's first camera and matches `setsplat
render` of that camera; it asks nothing of any other server."""

from __future__ import annotations

import functools
import http.server
import json
import threading

import pytest

from .browser import chromium, open_page, page_background, psnr, settled
from .test_viewer import MATCH_DB, browser_camera, capture_cameras, setsplat_render

pytestmark = pytest.mark.slow


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def static_server(tmp_path):
    """A plain static file server of ``tmp_path/web`` on a free local port."""
    folder = tmp_path / "web"
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join(timeout=10)


def test_exported_page_shows_the_first_camera(cli, trained_scan, static_server, tmp_path):
    folder, origin = static_server
    result = cli("--json", "export", "web", trained_scan / "scene.ply", "--out", folder)
    assert result.code == 0, result.err
    assert "index.html" in json.loads(result.out)["files"]
    assert "index.html" in (folder / "README.txt").read_text()

    requested: list[str] = []
    with chromium() as browser:
        browser.on("request", lambda request: requested.append(request.url))
        page = open_page(browser, f"{origin}/index.html", 400, 300)
        page.background = page_background(page)
        shot = settled(page)
        first = browser_camera(capture_cameras(trained_scan)[0], page, "first")
    ours = setsplat_render(cli, trained_scan / "scene.ply", first, page.background, tmp_path)
    print(f"export web page against setsplat render: {psnr(shot, ours):.2f} dB")
    assert psnr(shot, ours) >= MATCH_DB
    elsewhere = [u for u in requested if not u.startswith((origin, "data:", "blob:"))]
    assert not elsewhere
