"""End to end in headless Chromium: the web page against a real server on a loopback port.

Debian's Chromium (/usr/bin/chromium) is driven by Playwright; Playwright's own browser builds
are never downloaded. Where Chromium is missing and this runs as root with apt-get, it is
installed; elsewhere the tests skip with the reason. The live mode gets Chromium's fake
microphone, fed from a WAV clip. Screenshots go to test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from serve_helpers import EXAMPLES, REPO, running_server

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
    """The app served as ``ser serve`` serves it, on a free loopback port."""
    from ser.serve.app import create_app

    with running_server(create_app(page_recognizer)) as url:
        yield url


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory, server_url):
    chromium = ensure_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install 'ser[dev]')")
    work = tmp_path_factory.mktemp("browser")
    # The fake microphone plays this WAV in a loop: the six examples one after another (neutral,
    # happy, sad, angry, fearful, surprised), 16-bit at 16 kHz.
    from ser.audio import load

    signal = np.concatenate([load(path) for path in sorted(EXAMPLES.glob("*.flac"))])
    sf.write(work / "microphone.wav", signal, 16000, subtype="PCM_16")
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
    errors, foreign = [], []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # Offline: every request the page makes goes to this server.
    page.on("request", lambda request: None if request.url.startswith((server_url, "blob:", "data:")) else foreign.append(request.url))
    page.goto(server_url + "/")
    page.wait_for_selector("#legend span")  # the model's labels arrived
    page.wait_for_selector("#example-buttons button")
    yield page
    page.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
    assert not foreign, f"requests to other hosts: {foreign}"


def result_of(page) -> dict:
    """What the result box shows."""
    return page.evaluate(
        """() => ({
            label: document.querySelector('#result-label').textContent,
            grey: document.querySelector('#result-label').classList.contains('none'),
            confidence: document.querySelector('#result-confidence').textContent,
            source: document.querySelector('#result-source').textContent,
            bars: document.querySelector('#bars').hidden ? 0 : document.querySelectorAll('#bars .bar').length,
            ticks: [...document.querySelectorAll('#file-ticks span')].map((s) => s.textContent),
            waveform: document.querySelector('#waveform').dataset.drawn,
            player: document.querySelector('#player').src,
            summary: document.querySelector('#summary').textContent,
        })"""
    )


def test_an_example_in_one_click_shows_label_waveform_timeline_and_playback(page, page_recognizer):
    expected = page_recognizer(CLIP)
    page.click(f"#example-buttons button[data-name='{CLIP.name}']")
    page.wait_for_selector("#media:not([hidden])")
    page.wait_for_function("document.querySelector('#waveform').dataset.drawn === 'waveform'")
    shown = result_of(page)
    assert shown["label"] == (expected.label if expected.label is not None else "no speech")
    assert shown["confidence"] == f"{100 * expected.confidence:.0f}%"
    assert CLIP.name in shown["source"] and shown["bars"] == len(page_recognizer.labels)
    assert shown["ticks"][0] == "0 s" and len(shown["ticks"]) >= 3 and all(t.endswith("s") for t in shown["ticks"])
    assert shown["player"].startswith("blob:") and "speech" in shown["summary"]
    assert painted_pixels(page, "#waveform") > 0 and painted_pixels(page, "#file-timeline") > 0
    # Playback of what was sent, on the same axis: a click half-way along seeks to the middle.
    page.wait_for_function("document.querySelector('#player').duration > 0")
    duration = page.evaluate("document.querySelector('#player').duration")
    assert duration == pytest.approx(expected.duration_s, abs=0.05)
    box = page.locator("#media-stack").bounding_box()
    page.locator("#media-stack").click(position={"x": box["width"] / 2, "y": 10})  # scrolled into view first
    position = page.evaluate("document.querySelector('#player').currentTime")
    assert position == pytest.approx(duration / 2, abs=0.3)
    page.wait_for_selector("#playhead:not([hidden])")
    page.evaluate("document.querySelector('#player').pause()")
    assert page.locator("#message").is_hidden()
    page.screenshot(path=str(ARTIFACTS / "serve-file.png"), full_page=True)


def test_upload_shows_progress_and_a_timeline(page, tmp_path):
    # The six examples one after another, twice, as 48 kHz stereo WAV (45 s, 8.6 MB).
    from ser.audio import load

    long = tmp_path / "six-emotions.wav"
    signal = np.concatenate([load(path, 48000) for path in sorted(EXAMPLES.glob("*.flac"))] * 2)
    sf.write(long, np.stack([signal, signal], axis=1), 48000, subtype="PCM_16")
    page.evaluate("document.body.dataset.uploadProgress = ''")
    page.set_input_files("#file-input", str(long))
    page.wait_for_selector("#media:not([hidden])", timeout=60000)
    assert page.evaluate("document.body.dataset.uploadProgress") == "100"
    assert page.locator("#progress-box").is_hidden()
    shown = result_of(page)
    assert len(shown["ticks"]) >= 4 and shown["ticks"][:2] == ["0 s", "10 s"]  # round steps, 60 px or more apart
    page.wait_for_function("document.querySelector('#waveform').dataset.drawn === 'waveform'")
    page.screenshot(path=str(ARTIFACTS / "serve-timeline.png"), full_page=True)


def test_silence_shows_the_grey_no_speech_state(page, tmp_path):
    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, np.zeros(3 * 16000, np.float32), 16000, subtype="PCM_16")
    page.set_input_files("#file-input", str(quiet))
    page.wait_for_selector("#result:not([hidden])")
    shown = result_of(page)
    assert shown["label"] == "no speech" and shown["grey"] and shown["bars"] == 0 and shown["confidence"] == ""
    assert "No speech" in page.inner_text("#result-warning")
    page.screenshot(path=str(ARTIFACTS / "serve-no-speech.png"), full_page=True)


def test_a_rejected_file_shows_the_server_message(page, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("this is not audio")
    page.set_input_files("#file-input", str(notes))
    page.wait_for_selector("#message:not([hidden]):not(.info)")
    text = page.inner_text("#message")
    assert "could not use notes.txt" in text and "not an audio file" in text
    assert page.locator("#result").is_hidden()


def test_changing_mode_clears_the_result(page):
    page.click(f"#example-buttons button[data-name='{CLIP.name}']")
    page.wait_for_selector("#result:not([hidden])")
    page.click("#tab-record")
    assert page.locator("#result").is_hidden() and page.locator("#media").is_hidden()
    page.click("#tab-file")
    assert page.locator("#result").is_hidden()


def test_record_and_send(page, page_recognizer):
    page.click("#tab-record")
    page.click("#record-button")
    page.wait_for_function("document.querySelector('#record-time').textContent.includes('2 s')", timeout=15000)
    page.click("#record-button")  # stop: the WebM/Opus recording is sent
    page.wait_for_selector("#media:not([hidden])", timeout=20000)
    shown = result_of(page)
    assert "the recording" in shown["source"]
    assert shown["label"] in page_recognizer.labels + ["no speech"]
    assert shown["player"].startswith("blob:") and len(shown["ticks"]) >= 2
    assert page.locator("#message").is_hidden(), page.inner_text("#message")


def test_live_mode_draws_a_rolling_timeline_and_sums_the_session_up(page, page_recognizer):
    page.click("#tab-live")
    page.click("#live-button")
    page.wait_for_function("Number(document.querySelector('#live-timeline').dataset.updates) >= 8", timeout=40000)
    assert "updates" in page.inner_text("#live-status")
    assert page.inner_text("#result-label") in page_recognizer.labels + ["no speech"]
    assert painted_pixels(page, "#live-timeline") > 0
    ticks = page.eval_on_selector_all("#live-ticks span", "spans => spans.map((s) => s.textContent)")
    assert len(ticks) >= 3 and all(t.endswith("s") for t in ticks)
    page.screenshot(path=str(ARTIFACTS / "serve-live.png"), full_page=True)
    page.click("#live-button")  # Stop: the session summary replaces the last window
    page.wait_for_selector("#result[data-session='summary']", timeout=20000)
    shown = result_of(page)
    assert shown["source"].startswith("live session")
    assert shown["label"] in page_recognizer.labels  # the fake microphone plays speech
    assert "Session:" in shown["summary"] and "%" in shown["summary"] and "streamed" in shown["summary"]
    shares = page.eval_on_selector_all("#bars .pct", "cells => cells.map((c) => Number(c.textContent.slice(0, -1)))")
    assert len(shares) == len(page_recognizer.labels) and 97 <= sum(shares) <= 103
    assert shown["waveform"] == "waveform" and shown["player"].startswith("blob:")
    assert painted_pixels(page, "#file-timeline") > 0
    assert page.locator("#message").is_hidden(), page.inner_text("#message")
    page.screenshot(path=str(ARTIFACTS / "serve-live-summary.png"), full_page=True)


def test_tell_voices_apart_draws_one_lane_per_voice(page, page_recognizer, tmp_path):
    from ser.audio import load

    two = tmp_path / "two-voices.wav"  # actor 04 (female), 1 s of silence, actor 07 (male)
    first, second = load(EXAMPLES / "03-01-05-02-01-01-04.flac"), load(EXAMPLES / "03-01-08-02-01-01-07.flac")
    sf.write(two, np.concatenate([first, np.zeros(16000, np.float32), second]), 16000, subtype="PCM_16")
    expected = page_recognizer.timeline(str(two), speakers="auto")
    voices = sorted({seg.speaker for seg in expected.segments if seg.speaker})
    page.check("#speakers-file")
    page.set_input_files("#file-input", str(two))
    page.wait_for_selector("#media:not([hidden])", timeout=30000)
    lanes = page.eval_on_selector_all("#speaker-lanes .lane", "rows => rows.map((r) => r.dataset.speaker)")
    assert lanes == voices and len(voices) == 2
    for voice in voices:
        assert painted_pixels(page, f"#speaker-lanes .lane[data-speaker='{voice}'] canvas") > 0
    assert "Voices: S1" in result_of(page)["summary"]
    page.screenshot(path=str(ARTIFACTS / "serve-speakers.png"), full_page=True)
    page.uncheck("#speakers-file")  # without the switch: no lanes
    page.set_input_files("#file-input", str(two))
    page.wait_for_function("document.querySelector('#speaker-lanes').hidden && !document.querySelector('#media').hidden")


def record_once(page, seconds: int) -> None:
    page.click("#record-button")
    page.wait_for_function(f"document.querySelector('#record-time').textContent.includes('{seconds} s')", timeout=20000)
    page.click("#record-button")
    page.wait_for_selector("#media:not([hidden])", timeout=20000)


def test_record_adapts_to_my_voice_from_earlier_recordings(page, page_recognizer):
    page.click("#tab-record")
    if not page_recognizer.can_adapt:
        assert page.locator("[data-slot='adapt-record']").is_hidden()
        return
    page.evaluate("localStorage.clear()")
    page.check("#adapt-record")
    record_once(page, 4)  # nothing learned yet: not adapted; then the page learns this recording
    assert "adapted" not in result_of(page)["source"]
    page.wait_for_function("document.querySelector('#voice-count').textContent.includes('1 recording')", timeout=20000)
    record_once(page, 4)
    assert "adapted to 1 earlier recording of your voice" in result_of(page)["source"]
    page.wait_for_function("document.querySelector('#voice-count').textContent.includes('2 recordings')", timeout=20000)
    stored = page.evaluate("JSON.parse(localStorage.getItem('ser-speaker-profile'))")
    assert stored["clips"] == 2 and stored["format"] == "ser-speaker-profile/1"
    page.screenshot(path=str(ARTIFACTS / "serve-record-adapt.png"), full_page=True)
    page.click("#forget-voice")
    assert page.evaluate("localStorage.getItem('ser-speaker-profile')") is None
    assert page.locator("#forget-voice").is_hidden() and page.inner_text("#voice-count") == ""
    assert page.locator("#message").is_hidden(), page.inner_text("#message")


def test_live_adapts_to_my_voice_when_switched_on(page, page_recognizer):
    page.click("#tab-live")
    if not page_recognizer.can_adapt:
        assert page.locator("[data-slot='adapt-live']").is_hidden()
        return
    assert page.locator("[data-slot='adapt-live']").is_visible()
    page.check("#adapt-live")
    page.click("#live-button")
    page.wait_for_function("document.querySelector('#adapt-live').disabled")  # the mode is fixed while it runs
    page.wait_for_function("document.querySelector('#result-source').textContent.includes('of your voice')", timeout=40000)
    page.click("#live-button")
    page.wait_for_selector("#result[data-session='summary']", timeout=20000)
    assert page.locator("#message").is_hidden(), page.inner_text("#message")
    page.screenshot(path=str(ARTIFACTS / "serve-live-adapt.png"), full_page=True)


def test_the_models_limits_are_stated_with_the_model_card(page, server_url):
    text = page.inner_text("#model-limits")
    assert "acted" in text and "new voices" in text and "non-commercial" in text
    link = page.get_attribute("#model-limits a", "href")
    assert link == "/model-card"
    card = page.request.get(server_url + link)
    assert card.ok and "non-commercial" in card.text()


def test_api_docs_render_offline(page, server_url):
    page.goto(server_url + "/docs")
    page.wait_for_selector(".swagger-ui .opblock-summary-path", timeout=30000)
    paths = page.eval_on_selector_all(".opblock-summary-path", "nodes => nodes.map((n) => n.textContent)")
    assert any("/v1/predict" in p for p in paths)


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
