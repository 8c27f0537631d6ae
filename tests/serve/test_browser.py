"""End to end in headless Chromium: the web page against a real server on a loopback port.

Debian's Chromium (/usr/bin/chromium) is driven by Playwright; Playwright's own browser builds
are never downloaded. Where Chromium is missing and this runs as root with apt-get, it is
installed; elsewhere the tests skip with the reason. The live mode gets Chromium's fake
microphone, fed from a WAV clip. Screenshots go to test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from serve_helpers import EXAMPLES, REPO

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"
DEFAULT_MODEL = REPO / "src" / "ser" / "pretrained" / "default"
CLIP = EXAMPLES / "03-01-05-02-01-01-04.flac"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
]
PHONE = {"width": 390, "height": 844}


def ensure_chromium() -> Path:
    """/usr/bin/chromium, installed with apt-get where it is missing and we may; else skip."""
    if CHROMIUM.is_file():
        return CHROMIUM
    if os.name != "posix" or os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip(f"{CHROMIUM} is missing and cannot be installed here (apt-get as root needed)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "install", "-y", "-q", "chromium"], ["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium"]):
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
        if command[1] == "install" and result.returncode == 0 and CHROMIUM.is_file():
            return CHROMIUM
    pytest.skip(f"apt-get could not install chromium: {(result.stderr or result.stdout)[-300:]}")


@pytest.fixture(scope="module")
def page_recognizer(serve_model_dir):
    """The shipped model when it is there (what a user sees), else the tiny test model."""
    from ser.inference.recognizer import Recognizer

    return Recognizer.from_pretrained(DEFAULT_MODEL if (DEFAULT_MODEL / "ser_model.json").is_file() else serve_model_dir)


@pytest.fixture(scope="module")
def server_url(page_recognizer):
    """A uvicorn server with the app, on a free loopback port, in a thread."""
    import uvicorn

    from ser.serve.app import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(page_recognizer), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(300):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=20)
    sock.close()


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory, server_url):
    chromium = ensure_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install 'ser[dev]')")
    work = tmp_path_factory.mktemp("browser")
    # The fake microphone plays this WAV in a loop: the angry example twice, 16-bit at 16 kHz.
    from ser.audio import load

    signal = load(CLIP)
    sf.write(work / "microphone.wav", np.concatenate([signal, signal]), 16000, subtype="PCM_16")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(work / "profile"),  # a fresh user data dir
            executable_path=str(chromium),
            headless=True,
            args=FLAGS + [f"--use-file-for-fake-audio-capture={work / 'microphone.wav'}"],
            viewport=PHONE,
        )
        context.grant_permissions(["microphone"], origin=server_url)
        yield context
        context.close()


@pytest.fixture
def page(browser_context, server_url):
    page = browser_context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(server_url + "/")
    page.wait_for_selector("#legend span")  # the model's labels arrived
    yield page
    page.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def test_upload_shows_the_predicted_label(page, page_recognizer):
    expected = page_recognizer(CLIP)
    page.set_input_files("#file-input", str(CLIP))
    page.wait_for_selector("#result:not([hidden])")
    assert page.inner_text("#result-label") == expected.label
    assert page.inner_text("#result-confidence") == f"{100 * expected.confidence:.0f}%"
    assert CLIP.name in page.inner_text("#result-source")
    assert page.locator("#bars .bar").count() == len(page_recognizer.labels)
    assert page.locator("#message").is_hidden()
    page.screenshot(path=str(ARTIFACTS / "serve-upload.png"), full_page=True)


def test_upload_with_timeline(page):
    page.check("#want-timeline")
    page.set_input_files("#file-input", str(CLIP))
    page.wait_for_selector("#segments-box:not([hidden])")
    assert "of speech" in page.inner_text("#summary")
    assert painted_pixels(page, "#file-timeline") > 0


def test_a_rejected_file_shows_the_server_message(page, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("this is not audio")
    page.set_input_files("#file-input", str(notes))
    page.wait_for_selector("#message:not([hidden]):not(.info)")
    text = page.inner_text("#message")
    assert "could not use notes.txt" in text and "not an audio file" in text
    page.screenshot(path=str(ARTIFACTS / "serve-rejected.png"), full_page=True)


def test_record_and_send(page, page_recognizer):
    page.click("#tab-record")
    page.click("#record-button")
    page.wait_for_function("document.querySelector('#record-time').textContent.includes('2 s')", timeout=15000)
    page.click("#record-button")  # stop: the WebM/Opus recording is sent as the raw body
    page.wait_for_selector("#result:not([hidden])", timeout=20000)
    assert "the recording" in page.inner_text("#result-source")
    assert page.inner_text("#result-label") in page_recognizer.labels
    assert page.locator("#message").is_hidden(), page.inner_text("#message")


def test_live_mode_draws_a_rolling_timeline(page, page_recognizer):
    page.click("#tab-live")
    page.click("#live-button")
    page.wait_for_function("Number(document.querySelector('#live-timeline').dataset.updates) >= 3", timeout=30000)
    assert "updates" in page.inner_text("#live-status")
    assert page.inner_text("#result-label") in page_recognizer.labels
    assert painted_pixels(page, "#live-timeline") > 0
    page.screenshot(path=str(ARTIFACTS / "serve-live.png"), full_page=True)
    page.click("#live-button")
    page.wait_for_function("document.querySelector('#live-button').textContent.includes('Start')")
    assert page.locator("#message").is_hidden(), page.inner_text("#message")


def test_fits_a_phone_screen(page):
    for tab in ("#tab-file", "#tab-record", "#tab-live"):
        page.click(tab)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def painted_pixels(page, selector: str) -> int:
    """Pixels of the canvas that are not transparent."""
    return page.evaluate(
        """(selector) => {
            const canvas = document.querySelector(selector);
            const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            let n = 0;
            for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
            return n;
        }""",
        selector,
    )
