"""The Recognizer on every kind of source, Prediction's API, predict_batch, the default model."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from inference_helpers import LABELS, real_speech
from ser.audio import AudioTooLongError, EmptyAudioError, InvalidSamplesError, NoSamplesError, NotAudioError
from ser.errors import ModelError
from ser.inference import recognizer as recognizer_module
from ser.inference.recognizer import Prediction, Recognizer


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "clip.wav"
    sf.write(path, real_speech(1.5), 16000, subtype="FLOAT")
    return path


def test_path_bytes_file_and_array_agree(recognizer, clip):
    signal, _ = sf.read(clip, dtype="float32")
    by_path = recognizer(clip)
    by_str = recognizer(str(clip))
    by_bytes = recognizer(clip.read_bytes())
    with open(clip, "rb") as handle:
        by_file = recognizer(handle)
    by_buffer = recognizer(io.BytesIO(clip.read_bytes()))
    by_array = recognizer(signal, sr=16000)
    for other in (by_str, by_bytes, by_file, by_buffer, by_array):
        assert other.label == by_path.label
        np.testing.assert_allclose(list(other.scores.values()), list(by_path.scores.values()), atol=1e-6)
    assert by_path.duration_s == pytest.approx(1.5)


def test_prediction_api(recognizer, clip):
    prediction = recognizer(clip)
    assert list(prediction.scores) == LABELS == recognizer.labels
    assert sum(prediction.scores.values()) == pytest.approx(1.0, abs=1e-5)
    assert prediction.label == max(prediction.scores, key=prediction.scores.get)
    assert prediction.confidence == prediction.scores[prediction.label]
    top = prediction.top(3)
    assert len(top) == 3 and top[0] == (prediction.label, prediction.confidence)
    assert [p for _, p in top] == sorted((p for _, p in top), reverse=True)
    assert len(prediction.top(100)) == len(LABELS)
    as_dict = prediction.to_dict()
    assert set(as_dict) == {"label", "confidence", "scores", "duration_s", "speech_s", "warnings", "arousal", "valence"}
    assert -1 <= as_dict["arousal"] <= 1 and -1 <= as_dict["valence"] <= 1
    assert 0 < as_dict["speech_s"] <= as_dict["duration_s"]
    with pytest.raises(AttributeError):
        prediction.label = "x"  # frozen


def test_arrays_of_other_types_rates_and_layouts(recognizer):
    signal = real_speech(1.0)
    reference = recognizer(signal, sr=16000)
    int16 = np.round(signal * 32767).astype(np.int16)
    assert recognizer(int16, sr=16000).label == reference.label
    np.testing.assert_allclose(recognizer(int16, sr=16000).confidence, reference.confidence, atol=1e-3)
    stereo = np.stack([signal, signal], axis=1)
    np.testing.assert_allclose(recognizer(stereo, sr=16000).confidence, reference.confidence, atol=1e-6)
    np.testing.assert_allclose(recognizer(stereo.T, sr=16000).confidence, reference.confidence, atol=1e-6)
    # 44.1 kHz audio is resampled to 16 kHz.
    import soxr

    resampled = recognizer(soxr.resample(signal, 16000, 44100), sr=44100)
    assert resampled.duration_s == pytest.approx(1.0, abs=1e-3)
    np.testing.assert_allclose(resampled.confidence, reference.confidence, atol=0.02)


@pytest.mark.parametrize(
    "array, error, message",
    [
        (np.array([0.0, np.nan] * 800, np.float32), InvalidSamplesError, "NaN or infinite"),
        (np.zeros(0, np.float32), NoSamplesError, "zero samples"),
        (np.zeros((2, 2, 400), np.float32), InvalidSamplesError, "shape"),
        (np.array(["a", "b"]), InvalidSamplesError, "dtype"),
    ],
)
def test_bad_arrays(recognizer, array, error, message):
    with pytest.raises(error, match=message):
        recognizer(array, sr=16000)


def test_array_needs_sr_and_file_refuses_it(recognizer, clip):
    with pytest.raises(TypeError, match="sample rate"):
        recognizer(np.zeros(1600, np.float32))
    with pytest.raises(TypeError, match="only for numpy arrays"):
        recognizer(clip, sr=16000)


def test_bad_files(recognizer, tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.wav").write_text("not audio at all")
    with pytest.raises(EmptyAudioError, match="empty.wav"):
        recognizer(tmp_path / "empty.wav")
    with pytest.raises(NotAudioError, match="text.wav"):
        recognizer(tmp_path / "text.wav")


def test_max_duration(tiny_model_dir, tmp_path):
    limited = Recognizer.from_pretrained(tiny_model_dir, max_duration=1.0)
    sf.write(tmp_path / "long.wav", real_speech(2.0), 16000)
    with pytest.raises(AudioTooLongError, match="longer than the limit of 1 s"):
        limited(tmp_path / "long.wav")
    with pytest.raises(AudioTooLongError):
        limited(real_speech(2.0), sr=16000)


def test_predict_batch(recognizer, clip, tmp_path):
    (tmp_path / "bad.wav").write_text("nope")
    sources = [clip, tmp_path / "bad.wav", clip.read_bytes(), tmp_path / "missing.wav"]
    results = recognizer.predict_batch(sources, batch_size=3, on_error="return")
    assert isinstance(results[0], Prediction) and isinstance(results[2], Prediction)
    assert isinstance(results[1], NotAudioError) and "bad.wav" in str(results[1])
    assert "no such file" in str(results[3])
    assert results[0].scores == pytest.approx(recognizer(clip).scores, abs=1e-6)
    with pytest.raises(NotAudioError):
        recognizer.predict_batch(sources)
    with pytest.raises(ValueError, match="on_error"):
        recognizer.predict_batch(sources, on_error="ignore")
    assert recognizer.predict_batch([]) == []


def test_missing_default_model(monkeypatch, tmp_path):
    monkeypatch.setattr(recognizer_module, "default_model_dir", lambda: tmp_path / "default")
    with pytest.raises(ModelError, match="default model is not installed"):
        Recognizer.from_pretrained()


def test_lazy_public_names(tiny_model_dir):
    import ser

    assert ser.Recognizer is Recognizer and ser.Prediction is Prediction
    assert isinstance(ser.Recognizer.from_pretrained(tiny_model_dir)(np.zeros(1600), sr=16000), Prediction)


def test_overlapped_keeps_order_and_holds_at_most_three_batches():
    import threading

    from ser.inference.recognizer import overlapped

    produced, lock = [], threading.Lock()

    def batches():
        for k in range(6):
            with lock:
                produced.append(k)
            yield [k, k]

    seen = []
    for batch, result in overlapped(batches(), lambda b: sum(b)):
        # Two batches in prediction (this one and the next), none produced beyond them yet.
        assert len(produced) <= len(seen) + 2
        seen.append((batch, result))
    assert seen == [([k, k], 2 * k) for k in range(6)]


def test_overlapped_passes_errors_on():
    from ser.inference.recognizer import overlapped

    def batches():
        yield 1
        raise RuntimeError("decoding failed")

    with pytest.raises(RuntimeError, match="decoding failed"):
        list(overlapped(batches(), lambda b: b))
    with pytest.raises(ZeroDivisionError):
        list(overlapped(iter([1, 0]), lambda b: 1 / b))
