"""The service's typed request and response bodies (pydantic); they make the OpenAPI schema."""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field


class ErrorBody(BaseModel):
    """Every error the service answers: a stable machine-readable code and a sentence for people."""

    error: str = Field(description="machine-readable code, e.g. 'not_audio', 'upload_too_large'", examples=["not_audio"])
    message: str = Field(description="what is wrong, naming the input", examples=["clip.txt: not an audio file in a format we can read"])
    detail: Optional[list[dict[str, Any]]] = Field(None, description="per-parameter problems, for invalid parameters")


# The bodies below are what `ser.inference` returns (`to_dict`), typed for the schema; fields the
# library adds later pass through (extra="allow") rather than being dropped silently.


class SegmentBody(BaseModel):
    """One stretch of the recording: speech (predicted) or silence (the speech detector's call)."""

    model_config = ConfigDict(extra="allow")

    start_s: float
    end_s: float
    kind: Literal["speech", "silence"]
    label: str
    confidence: float
    scores: dict[str, float] = Field(description="every label's probability; empty for silence")
    arousal: Optional[float] = Field(None, description="derived arousal in [-1, 1] (ser.dimensions); null for silence")
    valence: Optional[float] = Field(None, description="derived valence in [-1, 1] (ser.dimensions); null for silence")
    speaker: Optional[str] = Field(None, description="with ?speakers=: the voice of this speech segment ('S1', 'S2'...)")


class SummaryBody(BaseModel):
    """How the recording's time divides among emotions (see `ser.inference.timeline.Timeline.summary`)."""

    model_config = ConfigDict(extra="allow")

    label: Optional[str] = Field(None, description="the whole recording's label (the prediction's own); null without speech")
    confidence: float = Field(0.0, description="its score")
    duration_s: float
    speech_s: float
    silence_s: float
    silence_share: float = Field(description="silence's share of the whole recording, in [0, 1]")
    emotions: dict[str, float] = Field(description="each label's share of the speech time, largest first")
    speakers: Optional[dict[str, dict[str, Any]]] = Field(
        None, description="with ?speakers=: each voice's speech time and share of each emotion"
    )


class PredictionBody(BaseModel):
    """The emotion of one upload (`ser.inference.prediction.Prediction.to_dict`), and with
    ``?timeline=true`` its emotion over time."""

    model_config = ConfigDict(extra="allow")

    label: Optional[str] = Field(description="the emotion of the speech; null when no speech was detected", examples=["angry"])
    confidence: float = Field(ge=0, le=1, description="the label's probability (0 without speech)", examples=[0.91])
    scores: dict[str, float] = Field(
        description="every label's probability, in the model's label order, summing to 1; empty without speech"
    )
    duration_s: float = Field(description="length of the audio in seconds")
    speech_s: float = Field(description="seconds of it the speech detector found to be speech; only these are judged")
    warnings: list[str] = Field(default_factory=list, description="what to know: no speech, little speech...")
    arousal: Optional[float] = Field(None, description="derived arousal in [-1, 1] (ser.dimensions); null without speech")
    valence: Optional[float] = Field(None, description="derived valence in [-1, 1] (ser.dimensions); null without speech")
    adaptation: Optional[dict[str, Any]] = Field(None, description="what the prediction was adapted to, when adapted")
    segments: Optional[list[SegmentBody]] = Field(None, description="with ?timeline=true: the segments in time order")
    summary: Optional[SummaryBody] = Field(None, description="with ?timeline=true: share of speech time per emotion")


class ProfileBody(BaseModel):
    """A speaker profile (`ser.inference.profile.SpeakerProfile.to_dict`): the sum of the pooled
    embeddings of one person's clips, never audio. Send it back as ``/v1/predict``'s form field
    ``profile`` to judge that person's clips against their usual voice."""

    model_config = ConfigDict(extra="allow")

    format: str = Field(description="'ser-speaker-profile/1'")
    model: str = Field(description="the model it belongs to (name and head fingerprint); another model refuses it")
    clips: int = Field(ge=1, description="clips with speech it was made from")
    speech_s: float = Field(description="their seconds of speech")
    embedding_sum: list[float] = Field(description="the sum of the clips' pooled embeddings")


class LimitsBody(BaseModel):
    """What the service accepts."""

    max_upload_bytes: int
    max_duration_s: float
    max_pending: int = Field(description="requests admitted at once (running or queued); more get 503")
    workers: int = Field(description="predictions running at once")
    max_streams: int
    max_stream_s: float
    max_message_bytes: int = Field(description="largest WebSocket audio message")
    upload_timeout_s: float = Field(description="longest time to receive one upload; 408 beyond")
    upload_idle_s: float = Field(description="longest pause while receiving an upload; 408 beyond")
    header_timeout_s: float = Field(description="longest time to send a request's headers (ser serve); 408 beyond")
    max_connections_per_client: int = Field(description="connections one client address may hold (ser serve); 429 beyond")
    max_receiving_bytes: int = Field(description="bytes of uploads still arriving that the server buffers at once; 503 beyond")
    stream_idle_s: float = Field(description="a live stream this many seconds of wall time behind on audio is closed")


class HealthBody(BaseModel):
    status: Literal["ok"] = "ok"
    ser_version: str
    model: str
    uptime_s: float
    in_flight: int = Field(description="requests admitted now (running or queued)")
    streams: int = Field(description="live WebSocket streams now")
    limits: LimitsBody


class ModelBody(BaseModel):
    """The loaded model, from its ``ser_model.json``."""

    model_config = ConfigDict(protected_namespaces=())

    name: str
    version: Optional[str] = None
    labels: list[str]
    sample_rate: int = 16000
    max_input_s: Optional[float] = Field(None, description="longest piece the model sees at once; longer audio is averaged over pieces")
    can_adapt: bool = Field(False, description="whether it adapts to a speaker: /v1/enroll, the profile field, stream adapt=true")
    metrics: dict[str, Any] = Field(default_factory=dict, description="the model card's metrics, as in ser_model.json")
    details: dict[str, Any] = Field(
        default_factory=dict, description="the other descriptive fields of ser_model.json (model card file, training recipe...)"
    )


class ExampleBody(BaseModel):
    """An example clip the page offers (from the server's examples folder)."""

    name: str = Field(examples=["03-01-05-02-01-01-04.flac"])
    url: str = Field(description="where to fetch it from this server", examples=["/examples/03-01-05-02-01-01-04.flac"])
    acted_emotion: Optional[str] = Field(None, description="the emotion the actor played, from a RAVDESS file name", examples=["angry"])


class StreamParams(BaseModel):
    """Query parameters of ``WS /v1/stream``."""

    model_config = ConfigDict(extra="forbid")

    sample_rate: int = Field(16000, ge=8000, le=192000, description="rate of the PCM the client sends, in Hz")
    format: Literal["int16", "float32"] = Field("int16", description="little-endian samples: 16-bit PCM or float32 in [-1, 1]")
    window: float = Field(2.0, ge=0.5, le=30.0, description="seconds of audio per prediction")
    hop: float = Field(1.0, ge=0.25, le=30.0, description="seconds between predictions")
    adapt: bool = Field(False, description="judge each window against a running profile of the session's speech (adaptable models)")
