"""Fixtures of the service tests: the tiny ONNX model of the inference tests, apps over it, clips."""

from __future__ import annotations

from pathlib import Path

import pytest

from serve_helpers import EXAMPLES, export_tiny, real_speech, wav_bytes, write_adaptable_model, write_config


@pytest.fixture(scope="session")
def serve_model_dir(tmp_path_factory) -> Path:
    """A tiny model folder (random weights, 7 labels) with a version and model-card metrics."""
    directory = tmp_path_factory.mktemp("serve_model")
    export_tiny(directory / "model.onnx")
    write_config(directory, metrics={"ravdess_6fold": {"balanced_accuracy": 0.5}}, card="MODEL_CARD.md")
    return directory


@pytest.fixture(scope="session")
def recognizer(serve_model_dir):
    from ser.inference.recognizer import Recognizer

    return Recognizer.from_pretrained(serve_model_dir)


@pytest.fixture(scope="session")
def client(recognizer):
    """A TestClient over an app with the default limits, shared by the module's tests."""
    from fastapi.testclient import TestClient

    from ser.serve.app import ServeConfig, create_app

    with TestClient(create_app(recognizer, config=ServeConfig())) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def adaptable_recognizer(tmp_path_factory):
    """A tiny adaptable model (its graph outputs an embedding; a speaker-centred head)."""
    from ser.inference.recognizer import Recognizer

    directory = tmp_path_factory.mktemp("adaptable_model")
    write_adaptable_model(directory)
    recognizer = Recognizer.from_pretrained(directory)
    assert recognizer.can_adapt
    return recognizer


@pytest.fixture(scope="session")
def adaptable_client(adaptable_recognizer):
    """A TestClient over an app serving the adaptable model with the default limits."""
    from fastapi.testclient import TestClient

    from ser.serve.app import ServeConfig, create_app

    with TestClient(create_app(adaptable_recognizer, config=ServeConfig())) as test_client:
        yield test_client


@pytest.fixture
def make_client(recognizer):
    """``make_client(**ServeConfig fields)``: a TestClient over an app with those limits."""
    from fastapi.testclient import TestClient

    from ser.serve.app import ServeConfig, create_app

    clients = []

    def make(**limits):
        test_client = TestClient(create_app(recognizer, config=ServeConfig(**limits)))
        test_client.__enter__()
        clients.append(test_client)
        return test_client

    yield make
    for test_client in clients:
        test_client.__exit__(None, None, None)


@pytest.fixture(scope="session")
def speech_wav() -> bytes:
    """3 s of speech-like sound, 16-bit WAV at 16 kHz."""
    return wav_bytes(real_speech(3.0, seed=1))


@pytest.fixture(scope="session")
def example_flac() -> Path:
    return EXAMPLES / "03-01-05-02-01-01-04.flac"
