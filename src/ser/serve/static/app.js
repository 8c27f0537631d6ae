// The ser web page: send a file, an example or a recording to POST /v1/predict and show its label,
// waveform, playback and emotion timeline on one time axis; or stream the microphone over
// WS /v1/stream, draw the emotions live and sum the session up after Stop. Plain JS, nothing
// loaded from elsewhere.
"use strict";

const $ = (id) => document.getElementById(id);
const COLORS = {
  neutral: "#8a94a3", calm: "#3fa7a0", happy: "#eeb004", sad: "#3b6fd8", angry: "#d6453d",
  fearful: "#8e55c9", disgust: "#4c9a2a", surprised: "#f07f1d", boredom: "#9c7a54", other: "#5f7485",
};
const SPARE_COLORS = ["#17becf", "#bcbd22", "#e377c2", "#7f7f7f", "#8c564b", "#1f77b4"];
const SILENCE_COLOR = "#d9dde2";
const NO_SPEECH = "no speech";
const LIVE_SPAN_S = 30;          // seconds shown by the rolling live timeline
const LIVE_WINDOW_S = 2, LIVE_HOP_S = 1;
const LIVE_KEEP_S = 600;         // audio of a live session kept for playback after Stop
const RECORD_LIMIT_S = 120;
const TICK_STEPS = [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800];
const PROFILE_KEY = "ser-speaker-profile";  // Record's "adapt to my voice" profile (localStorage; never audio)

let labels = [];
let limits = null;
let live = null;                 // the running live session, if any
let recording = null;            // the running recording, if any
let shown = null;                // what the media box shows: {duration, columns}
let request = null;              // the upload in flight (XMLHttpRequest)

function colorOf(label) {
  if (COLORS[label]) return COLORS[label];
  const i = Math.max(0, labels.indexOf(label));
  return SPARE_COLORS[i % SPARE_COLORS.length];
}

// ---------------------------------------------------------------------------------- messages

function showError(text) { const m = $("message"); m.textContent = text; m.className = "message"; m.hidden = false; }
function showInfo(text) { const m = $("message"); m.textContent = text; m.className = "message info"; m.hidden = false; }
function clearMessage() { $("message").hidden = true; }

// ---------------------------------------------------------------------------------- tabs

for (const tab of document.querySelectorAll('[role="tab"]')) {
  tab.addEventListener("click", () => {
    if (tab.getAttribute("aria-selected") === "true") return;
    for (const other of document.querySelectorAll('[role="tab"]')) {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      $(other.getAttribute("aria-controls")).hidden = !selected;
    }
    // A result belongs to the mode that made it.
    if (live) stopLive(false);
    if (recording) cancelRecording();
    if (request) request.abort();
    clearResult();
    clearMessage();
  });
}

// ---------------------------------------------------------------------------------- model

async function loadModel() {
  try {
    const [model, health] = await Promise.all([fetchJson("/v1/model"), fetchJson("/v1/health")]);
    labels = model.labels;
    limits = health.limits;
    // The adapt switch only where the model can adapt (the server refuses adapt=true otherwise).
    for (const slot of document.querySelectorAll(".adapt-slot")) slot.hidden = !model.can_adapt;
    showVoiceCount();
    $("model-info").textContent =
      `model ${model.name}${model.version ? " " + model.version : ""} · ${labels.length} emotions · ` +
      `files up to ${(limits.max_upload_bytes / 2 ** 20).toFixed(0)} MB and ${Math.round(limits.max_duration_s / 60)} min`;
    $("legend").replaceChildren(...labels.map((label) => {
      const item = document.createElement("span");
      const swatch = document.createElement("i");
      swatch.style.background = colorOf(label);
      item.append(swatch, label);
      return item;
    }));
  } catch (error) {
    showError(`The server does not answer (${error.message}). Is "ser serve" running?`);
  }
  loadExamples();
}

async function loadExamples() {
  let examples = [];
  try { examples = await fetchJson("/v1/examples"); } catch (error) { return; }
  $("example-buttons").replaceChildren(...examples.map((example) => {
    const button = document.createElement("button");
    button.className = "example";
    button.textContent = example.acted_emotion ? `${example.acted_emotion}` : example.name;
    button.title = example.name;
    button.dataset.name = example.name;
    if (example.acted_emotion) button.style.borderColor = colorOf(example.acted_emotion);
    button.addEventListener("click", () => sendExample(example));
    return button;
  }));
  $("examples").hidden = !examples.length;
}

async function fetchJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status} ${response.statusText}`);
  return response.json();
}

// ---------------------------------------------------------------------------------- results

function clearResult() {
  $("result").hidden = true;
  delete $("result").dataset.session;
  $("media").hidden = true;
  $("speaker-lanes").replaceChildren();
  $("speaker-lanes").hidden = true;
  const player = $("player");
  if (player.src) { player.pause(); URL.revokeObjectURL(player.src); player.removeAttribute("src"); player.load(); }
  shown = null;
}

// The headline: a label with its confidence and every score, or the grey no-speech state.
function showVerdict({ label, confidence, scores, source, warning, caption }) {
  $("result").hidden = false;
  const chip = $("result-label");
  const none = label === null || label === undefined;
  chip.textContent = none ? NO_SPEECH : label;
  chip.classList.toggle("none", none);
  chip.style.background = none ? SILENCE_COLOR : colorOf(label);
  $("result-confidence").textContent = none || confidence === null ? "" : `${(100 * confidence).toFixed(0)}%`;
  $("result-source").textContent = source;
  $("result-warning").textContent = warning || "";
  $("result-warning").hidden = !warning;
  $("bars-caption").textContent = caption || "";
  $("bars-caption").hidden = none || !caption;
  $("bars").hidden = none;
  if (!none) drawBars(scores);
}

// A prediction of the server (REST or a live window) as the headline. A missing label (null,
// the library's no-speech result) or a no-speech warning (older servers) is the no-speech state.
function showPrediction(p, source) {
  const warnings = [].concat(p.warnings || [], p.warning ? [p.warning] : []);
  const noSpeech = p.label === null || p.is_speech === false || warnings.some((w) => /no speech/i.test(w));
  showVerdict({
    label: noSpeech ? null : p.label,
    confidence: p.confidence,
    scores: p.scores,
    source,
    warning: noSpeech ? "No speech was detected: there is no emotion to tell." : warnings.join(" "),
    caption: p.speech_s !== undefined ? `Probabilities over the ${p.speech_s.toFixed(1)} s of speech:` : "",
  });
}

function drawBars(scores) {
  const rows = [];
  for (const label of labels.length ? labels : Object.keys(scores)) {
    const value = scores[label] || 0;
    const name = document.createElement("span");
    name.textContent = label;
    const bar = document.createElement("div");
    bar.className = "bar";
    const fill = document.createElement("div");
    fill.style.width = `${(100 * value).toFixed(1)}%`;
    fill.style.background = colorOf(label);
    bar.append(fill);
    const pct = document.createElement("span");
    pct.className = "pct";
    pct.textContent = `${(100 * value).toFixed(0)}%`;
    rows.push(name, bar, pct);
  }
  $("bars").replaceChildren(...rows);
}

// The media box: waveform (if the browser can decode the audio), timeline and ticks on one axis, playback.
function showMedia({ blob, samples = null, rate = 16000, duration, columns, summary, lanes = [] }) {
  const player = $("player");
  if (player.src) URL.revokeObjectURL(player.src);
  player.src = URL.createObjectURL(blob);
  $("media").hidden = false;
  shown = { duration: Math.max(duration, 0.01), columns, samples, rate, lanes };
  makeLanes(lanes);
  $("summary").textContent = summary || "";
  drawMedia();
  if (!samples) decodeForWaveform(blob, shown);
}

function drawMedia() {
  if (!shown || $("media").hidden) return;
  drawWaveform($("waveform"), shown.samples, shown.duration, shown.rate);
  drawColumns($("file-timeline"), shown.columns, 0, shown.duration);
  shown.lanes.forEach((lane, i) => drawColumns($("speaker-lanes").children[i].querySelector("canvas"), lane.columns, 0, shown.duration));
  drawTicks($("file-ticks"), 0, shown.duration, (t) => formatTime(t));
  movePlayhead();
}

async function decodeForWaveform(blob, target) {
  try {
    const context = new OfflineAudioContext(1, 1, 16000);
    const audio = await context.decodeAudioData(await blob.arrayBuffer());
    if (shown !== target) return;  // another result replaced this one meanwhile
    target.samples = audio.getChannelData(0);
    target.rate = audio.sampleRate;
    drawWaveform($("waveform"), target.samples, target.duration, target.rate);
  } catch (error) {
    drawWaveform($("waveform"), null, target.duration);  // the browser cannot decode it: the server could
  }
}

// Min/max of the samples under each pixel column; `samples` at `rate` Hz (16 kHz unless said).
function drawWaveform(canvas, samples, duration, rate = 16000) {
  const g = prepare(canvas);
  const { width, height } = g;
  canvas.dataset.drawn = samples ? "waveform" : "none";
  if (!samples) {
    g.fillStyle = "#9aa3ad";
    g.font = "12px system-ui, sans-serif";
    g.fillText("(no waveform: the browser cannot decode this format)", 8, height / 2 + 4);
    return;
  }
  const perPixel = (duration * rate) / width;
  g.fillStyle = "#56606b";
  for (let x = 0; x < width; x++) {
    const a = Math.floor(x * perPixel), b = Math.min(samples.length, Math.floor((x + 1) * perPixel));
    let low = 0, high = 0;
    for (let i = a; i < b; i++) {
      const v = samples[i];
      if (v < low) low = v; else if (v > high) high = v;
    }
    const top = (1 - Math.min(1, high)) * height / 2, bottom = (1 - Math.max(-1, low)) * height / 2;
    g.fillRect(x, top, 1, Math.max(1, bottom - top));
  }
}

function prepare(canvas) {
  const dpr = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 600, height = canvas.clientHeight || Number(canvas.getAttribute("height"));
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  const g = canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, width, height);
  g.width = width;
  g.height = height;
  return g;
}

// Stacked probabilities per time span; silence (or a window without speech) drawn flat and grey.
function drawColumns(canvas, columns, t0, t1) {
  const g = prepare(canvas);
  const { width, height } = g;
  const x = (t) => ((t - t0) / (t1 - t0)) * width;
  for (const c of columns) {
    const left = Math.max(0, x(c.start)), right = Math.min(width, x(c.end));
    if (right <= left) continue;
    if (!c.speech) {
      g.fillStyle = SILENCE_COLOR;
      g.fillRect(left, height * 0.8, right - left, height * 0.2);
      continue;
    }
    let y = height;
    for (const label of labels) {
      const h = (c.scores[label] || 0) * height;
      g.fillStyle = colorOf(label);
      g.fillRect(left, y - h, right - left + 0.5, h);
      y -= h;
    }
  }
}

// Tick labels under a chart spanning [t0, t1] s, at a round step giving at most ~8 ticks.
function drawTicks(box, t0, t1, format) {
  const width = box.clientWidth || 600;
  const span = Math.max(t1 - t0, 0.01);
  const most = Math.max(2, Math.floor(width / 60));
  const step = TICK_STEPS.find((s) => span / s <= most) || TICK_STEPS[TICK_STEPS.length - 1];
  const ticks = [];
  for (let t = Math.ceil(t0 / step) * step; t <= t1 + 1e-9; t += step) {
    const tick = document.createElement("span");
    tick.textContent = format(t);
    tick.style.left = `${((t - t0) / span) * 100}%`;
    ticks.push(tick);
  }
  box.replaceChildren(...ticks);
}

function formatTime(t) {
  if (t < 60) return `${Number.isInteger(t) ? t : t.toFixed(1)} s`;
  const s = Math.round(t % 60);
  return `${Math.floor(t / 60)}:${String(s).padStart(2, "0")}`;
}

function movePlayhead() {
  const player = $("player"), head = $("playhead");
  if (!shown || !player.src) { head.hidden = true; return; }
  head.hidden = player.currentTime <= 0 && player.paused;
  head.style.left = `${Math.min(100, (100 * player.currentTime) / shown.duration)}%`;
}

function followPlayback() {
  movePlayhead();
  if (!$("player").paused) requestAnimationFrame(followPlayback);
}
$("player").addEventListener("play", () => requestAnimationFrame(followPlayback));
for (const name of ["seeked", "pause", "ended", "timeupdate"]) $("player").addEventListener(name, movePlayhead);
$("media-stack").addEventListener("click", (event) => {
  if (!shown) return;
  const box = $("media-stack").getBoundingClientRect();
  const player = $("player");
  player.currentTime = Math.max(0, Math.min(shown.duration, ((event.clientX - box.left) / box.width) * shown.duration));
  player.play().catch(() => {});  // autoplay rules may refuse; the position is set anyway
  movePlayhead();
});
window.addEventListener("resize", drawMedia);

// The timeline's segments as columns; the summary as one line.
function columnsOf(segments) {
  return (segments || []).map((s) => ({ start: s.start_s, end: s.end_s, scores: s.scores, speech: s.kind === "speech" && s.label !== null }));
}

// One lane per voice when the segments name voices ("S1", "S2"...): that voice's speech only.
function lanesOf(segments) {
  const names = [...new Set((segments || []).filter((s) => s.speaker).map((s) => s.speaker))];
  names.sort((a, b) => a.length - b.length || a.localeCompare(b));
  return names.map((name) => ({ name, columns: columnsOf(segments.filter((s) => s.speaker === name)) }));
}

function makeLanes(lanes) {
  $("speaker-lanes").replaceChildren(...lanes.map((lane) => {
    const row = document.createElement("div");
    row.className = "lane";
    row.dataset.speaker = lane.name;
    const canvas = document.createElement("canvas");
    canvas.setAttribute("height", "22");
    canvas.setAttribute("aria-label", `emotion over time of voice ${lane.name}`);
    const name = document.createElement("span");
    name.textContent = lane.name;
    row.append(canvas, name);
    return row;
  }));
  $("speaker-lanes").hidden = !lanes.length;
}

// The headline is the whole speech's mean score; this line is another measure (which emotion
// leads moment by moment), so it says so, lest a different order look like a contradiction.
function summaryLine(summary) {
  if (!summary) return "";
  const shares = Object.entries(summary.emotions).filter(([, v]) => v > 0)
    .map(([k, v]) => `${k} ${(100 * v).toFixed(0)}%`).join(", ");
  const silence = `silence ${(100 * summary.silence_share).toFixed(0)}% of the recording`;
  const voices = Object.entries(summary.speakers || {})
    .map(([name, v]) => `${name} ${v.speech_s.toFixed(1)} s${v.label ? ", mostly " + v.label : ""}`).join("; ");
  return (shares ? `Leading emotion moment by moment, share of the ${summary.speech_s.toFixed(1)} s of speech: ${shares}; ${silence}.`
    : `No speech; ${silence}.`) + (voices ? ` Voices: ${voices}.` : "");
}

// ---------------------------------------------------------------------------------- uploads

function setBusy(busy) {
  $("file-input").disabled = busy;
  for (const button of document.querySelectorAll("#example-buttons button")) button.disabled = busy;
  $("record-button").disabled = busy && !recording;
}

function setProgress(fraction, text) {
  $("progress-box").hidden = fraction === null;
  const bar = $("upload-progress");
  if (fraction === undefined) bar.removeAttribute("value"); else if (fraction !== null) bar.value = 100 * fraction;
  $("progress-text").textContent = text || "";
  if (fraction !== null && fraction !== undefined) document.body.dataset.uploadProgress = String(Math.round(100 * fraction));
}

// POST the audio with XMLHttpRequest, whose upload events give the progress that fetch does not.
function sendAudio(blob, sourceName, { speakers = false, adapt = false } = {}) {
  clearMessage();
  clearResult();
  setBusy(true);
  setProgress(0, `Sending ${sourceName}…`);
  const form = new FormData();
  form.append("file", blob, blob.name || "recording");
  const profile = adapt ? storedProfile() : null;
  if (profile) form.append("profile", profile);
  const xhr = new XMLHttpRequest();
  request = xhr;
  xhr.open("POST", `/v1/predict?timeline=true${speakers ? "&speakers=auto" : ""}`);
  xhr.responseType = "json";
  xhr.upload.onprogress = (event) => {
    if (event.lengthComputable) setProgress(event.loaded / event.total, `Sending ${sourceName}… ${Math.round((100 * event.loaded) / event.total)}%`);
  };
  xhr.upload.onload = () => setProgress(undefined, "Analysing…");
  const done = () => { request = null; setBusy(false); setProgress(null); };
  xhr.onload = () => {
    done();
    const data = xhr.response;
    if (xhr.status !== 200 || !data) {
      let why = data && data.message ? data.message : `${xhr.status} ${xhr.statusText}`;
      if (why.startsWith(`${sourceName}: `)) why = why.slice(sourceName.length + 2);  // the message names the file too
      if (data && data.error === "invalid_profile") { storeProfile(null); why += " The page forgot that voice: record again."; }
      showError(`The server could not use ${sourceName}: ${why}`);
      return;
    }
    const adapted = data.adaptation
      ? ` · adapted to ${data.adaptation.clips} earlier recording${data.adaptation.clips === 1 ? "" : "s"} of your voice` : "";
    showPrediction(data, `${sourceName} · ${data.duration_s.toFixed(1)} s${adapted}`);
    if (adapt) learnVoice(blob, profile);
    showMedia({
      blob, duration: data.duration_s, columns: columnsOf(data.segments), summary: summaryLine(data.summary), lanes: lanesOf(data.segments),
    });
  };
  xhr.onerror = () => { done(); showError("Could not reach the server: the upload failed."); };
  xhr.onabort = done;
  xhr.send(form);
}

function sendFile(file) {
  if (!file) return;
  if (limits && file.size > limits.max_upload_bytes) {
    showError(`${file.name} is ${(file.size / 2 ** 20).toFixed(1)} MB, more than the server's limit of ` +
      `${(limits.max_upload_bytes / 2 ** 20).toFixed(0)} MB.`);
    return;
  }
  sendAudio(file, file.name, { speakers: $("speakers-file").checked });
}

async function sendExample(example) {
  try {
    const response = await fetch(example.url);
    if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
    sendFile(new File([await response.blob()], example.name, { type: response.headers.get("content-type") || "" }));
  } catch (error) {
    showError(`The example ${example.name} cannot be loaded: ${error.message}`);
  }
}

$("file-input").addEventListener("change", (event) => { sendFile(event.target.files[0]); event.target.value = ""; });
const dropZone = $("drop-zone");
for (const name of ["dragenter", "dragover"]) {
  dropZone.addEventListener(name, (event) => { event.preventDefault(); dropZone.classList.add("over"); });
}
for (const name of ["dragleave", "drop"]) {
  dropZone.addEventListener(name, (event) => { event.preventDefault(); dropZone.classList.remove("over"); });
}
dropZone.addEventListener("drop", (event) => sendFile(event.dataTransfer.files[0]));

// ---------------------------------------------------------------------------------- my voice

function storedProfile() {
  try { return localStorage.getItem(PROFILE_KEY); } catch (error) { return null; }  // storage off: no memory
}

function storeProfile(text) {
  try { if (text) localStorage.setItem(PROFILE_KEY, text); else localStorage.removeItem(PROFILE_KEY); } catch (error) { /* off */ }
  showVoiceCount();
}

function showVoiceCount() {
  let clips = 0;
  try { clips = JSON.parse(storedProfile() || "{}").clips || 0; } catch (error) { storeProfile(null); }
  $("voice-count").textContent = clips ? `Learned from ${clips} recording${clips === 1 ? "" : "s"}.` : "";
  $("forget-voice").hidden = !clips;
}

// Adds the recording to the stored profile (POST /v1/enroll with the profile so far); a recording
// without speech teaches nothing and is skipped quietly.
async function learnVoice(blob, profile) {
  const form = new FormData();
  form.append("file", blob, blob.name || "recording");
  if (profile) form.append("profile", profile);
  try {
    const response = await fetch("/v1/enroll", { method: "POST", body: form });
    if (response.ok) storeProfile(JSON.stringify(await response.json()));
  } catch (error) { /* the prediction is shown; the voice is learned next time */ }
}

$("forget-voice").addEventListener("click", () => storeProfile(null));

// ---------------------------------------------------------------------------------- microphone

async function getMicrophone() {
  if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw new Error("The browser allows the microphone only on a secure page: open this page over https, " +
      "or as http://localhost on the machine running the server.");
  }
  try {
    return await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
  } catch (error) {
    throw new Error(microphoneMessage(error));
  }
}

function microphoneMessage(error) {
  switch (error.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "Microphone access was refused. Allow the microphone for this site in the browser's settings, then try again.";
    case "NotFoundError":
    case "OverconstrainedError":
      return "No microphone was found on this device.";
    case "NotReadableError":
      return "The microphone cannot be opened: another application may be using it.";
    default:
      return `The microphone cannot be used (${error.name}: ${error.message}).`;
  }
}

function stopTracks(media) { for (const track of media.getTracks()) track.stop(); }

// ---------------------------------------------------------------------------------- record

$("record-button").addEventListener("click", () => (recording ? stopRecording() : startRecording()));

async function startRecording() {
  clearMessage();
  clearResult();
  if (typeof MediaRecorder !== "function") { showError("This browser cannot record audio (no MediaRecorder)."); return; }
  let media;
  try { media = await getMicrophone(); } catch (error) { showError(error.message); return; }
  const type = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/mp4"].find((t) => MediaRecorder.isTypeSupported(t));
  const recorder = new MediaRecorder(media, type ? { mimeType: type } : {});
  const chunks = [];
  const started = Date.now();
  const session = { recorder, cancelled: false, timer: null };
  recorder.ondataavailable = (event) => { if (event.data.size) chunks.push(event.data); };
  recorder.onstop = () => {
    stopTracks(media);
    clearInterval(session.timer);
    if (recording === session) recording = null;
    $("record-button").textContent = "● Record";
    $("record-button").classList.remove("active");
    $("record-time").textContent = "";
    if (session.cancelled) return;
    const blob = new Blob(chunks, { type: recorder.mimeType || type || "application/octet-stream" });
    if (!blob.size) { showError("The recording is empty: the microphone sent no audio."); return; }
    sendAudio(blob, "the recording", { adapt: $("adapt-record").checked && !$("adapt-record").closest(".adapt-slot").hidden });
  };
  session.timer = setInterval(() => {
    const seconds = (Date.now() - started) / 1000;
    $("record-time").textContent = `recording… ${seconds.toFixed(0)} s`;
    if (seconds >= RECORD_LIMIT_S) stopRecording();
  }, 250);
  recording = session;
  recorder.start(250);
  $("record-button").textContent = "■ Stop and send";
  $("record-button").classList.add("active");
}

function stopRecording() { if (recording && recording.recorder.state !== "inactive") recording.recorder.stop(); }
function cancelRecording() { if (recording) { recording.cancelled = true; stopRecording(); } }

// ---------------------------------------------------------------------------------- live

$("live-button").addEventListener("click", () => (live ? stopLive(true) : startLive()));

async function startLive() {
  clearMessage();
  clearResult();
  let media;
  try { media = await getMicrophone(); } catch (error) { showError(error.message); return; }
  // Ask for 16 kHz so that the browser resamples; where it cannot, the server resamples the native rate.
  let context, source;
  try {
    context = new AudioContext({ sampleRate: 16000 });
    source = context.createMediaStreamSource(media);
  } catch (error) {
    if (context) context.close();
    context = new AudioContext();
    source = context.createMediaStreamSource(media);
  }
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const adapt = $("adapt-live").checked && !$("adapt-live").closest(".adapt-slot").hidden;
  const query = `sample_rate=${context.sampleRate}&format=int16&window=${LIVE_WINDOW_S}&hop=${LIVE_HOP_S}${adapt ? "&adapt=true" : ""}`;
  const socket = new WebSocket(`${scheme}://${location.host}/v1/stream?${query}`);
  socket.binaryType = "arraybuffer";
  const session = {
    media, context, source, socket, node: null, recent: [], all: [], hop: LIVE_HOP_S, ending: false,
    rate: context.sampleRate, pcm: [], kept: 0, duration: 0, summarised: false,
  };
  live = session;
  setLiveUi(true, "connecting…");
  clearLiveChart();

  socket.onmessage = async (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "ready") {
      session.hop = message.hop_s;
      try {
        await startCapture(session);
        setLiveUi(true, `listening at ${context.sampleRate} Hz…`);
      } catch (error) {
        showError(`The page cannot capture audio: ${error.message}`);
        stopLive(false);
      }
    } else if (message.type === "update") {
      onLiveUpdate(session, message);
    } else if (message.type === "end") {
      session.duration = message.duration_s;
      summariseLive(session);
    } else if (message.type === "error") {
      showError(`The server stopped the live stream: ${message.message}`);
    }
  };
  socket.onclose = (event) => {
    if (event.code !== 1000 && !session.ending && $("message").hidden) {
      showError(`The live stream was closed by the server (code ${event.code}${event.reason ? ", " + event.reason : ""}).`);
    }
    releaseAudio(session);
    if (live === session) { live = null; setLiveUi(false, session.all.length ? "stopped" : ""); }
    if (session.all.length && !session.cancelled) summariseLive(session);
  };
}

async function startCapture(session) {
  const { context, source, socket } = session;
  const send = (buffer) => {
    if (socket.readyState !== WebSocket.OPEN || session.ending) return;
    socket.send(buffer);
    if (session.kept < LIVE_KEEP_S * session.rate) {  // kept for playback after Stop
      session.pcm.push(new Int16Array(buffer));
      session.kept += buffer.byteLength / 2;
    }
  };
  if (context.audioWorklet && typeof AudioWorkletNode === "function") {
    await context.audioWorklet.addModule("/static/pcm-worklet.js");
    session.node = new AudioWorkletNode(context, "pcm-capture");
    session.node.port.onmessage = (event) => send(event.data);
  } else {
    // Older browsers: ScriptProcessorNode, converting each block to int16 here.
    session.node = context.createScriptProcessor(4096, 1, 1);
    session.node.onaudioprocess = (event) => {
      const samples = event.inputBuffer.getChannelData(0);
      const pcm = new Int16Array(samples.length);
      for (let i = 0; i < samples.length; i++) {
        const s = Math.max(-1, Math.min(1, samples[i]));
        pcm[i] = s < 0 ? s * 32768 : s * 32767;
      }
      send(pcm.buffer);
    };
  }
  // Connected to the output so the graph pulls it; it writes nothing, so nothing is heard.
  source.connect(session.node);
  session.node.connect(context.destination);
  await context.resume();
}

function liveColumns(updates, hop) {
  return updates.map((u) => ({ start: u.end_s - hop, end: u.end_s, scores: u.scores, speech: u.is_speech && u.label !== null }));
}

function clearLiveChart() {
  $("live-timeline").dataset.updates = "0";
  drawColumns($("live-timeline"), [], -LIVE_SPAN_S, 0);
  drawTicks($("live-ticks"), -LIVE_SPAN_S, 0, (t) => (t === 0 ? "now" : `${t} s`));
}

function onLiveUpdate(session, update) {
  session.all.push(update);
  if (session.ending) return;  // the last window after Stop: counted in the summary, not shown as the headline
  session.recent.push(update);
  while (session.recent.length && session.recent[0].end_s < update.end_s - LIVE_SPAN_S - session.hop) session.recent.shift();
  const canvas = $("live-timeline");
  canvas.dataset.updates = String(session.all.length);
  const t1 = Math.max(update.end_s, LIVE_SPAN_S), t0 = t1 - LIVE_SPAN_S;
  drawColumns(canvas, liveColumns(session.recent, session.hop), t0, t1);
  drawTicks($("live-ticks"), t0, t1, formatTime);
  const adapted = update.adaptation ? ` · adapted to ${update.adaptation.clips} window${update.adaptation.clips === 1 ? "" : "s"} of your voice` : "";
  showPrediction(update, `live · ${update.start_s.toFixed(0)}–${update.end_s.toFixed(0)} s${adapted}`);
  $("live-status").textContent = `${session.all.length} update${session.all.length === 1 ? "" : "s"} · ${update.end_s.toFixed(0)} s streamed`;
}

// After Stop: the session's share of each emotion (over the windows with speech), its length, and
// the whole session's waveform, playback and timeline.
function summariseLive(session) {
  if (session.summarised || !session.all.length) return;
  session.summarised = true;
  const hop = session.hop;
  const duration = session.duration || session.all[session.all.length - 1].end_s;
  const speech = session.all.filter((u) => u.is_speech && u.label !== null);
  const shares = Object.fromEntries(labels.map((label) => [label, 0]));
  for (const u of speech) shares[u.label] = (shares[u.label] || 0) + 1 / speech.length;
  const top = speech.length ? Object.entries(shares).sort((a, b) => b[1] - a[1])[0] : null;
  showVerdict({
    label: top ? top[0] : null,
    confidence: top ? top[1] : null,
    scores: shares,
    source: `live session · ${formatTime(Math.round(duration))}`,
    warning: top ? "" : "No speech was detected in this session.",
    caption: top ? "Share of the session's speech windows per emotion:" : "",
  });
  const summary = `Session: ${formatTime(Math.round(duration))} streamed; speech in ${speech.length} of its ${session.all.length} ` +
    `windows (${formatTime(LIVE_WINDOW_S)} each, every ${formatTime(hop)})` +
    (top ? `; ${Object.entries(shares).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${(100 * v).toFixed(0)}%`).join(", ")}` : "") +
    (duration > LIVE_KEEP_S ? ` (playback keeps the first ${LIVE_KEEP_S / 60} minutes)` : "");
  showMedia({
    blob: wavBlob(session.pcm, session.rate), samples: int16ToFloat(session.pcm), rate: session.rate,
    duration, columns: liveColumns(session.all, hop), summary,
  });
  $("result").dataset.session = "summary";
}

function int16ToFloat(chunks) {
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const out = new Float32Array(total);
  let offset = 0;
  for (const c of chunks) { for (let i = 0; i < c.length; i++) out[offset + i] = c[i] / 32768; offset += c.length; }
  return out;
}

// 16-bit mono WAV of the int16 `chunks` at `rate` Hz.
function wavBlob(chunks, rate) {
  const bytes = chunks.reduce((n, c) => n + c.byteLength, 0);
  const header = new DataView(new ArrayBuffer(44));
  const text = (offset, s) => { for (let i = 0; i < s.length; i++) header.setUint8(offset + i, s.charCodeAt(i)); };
  text(0, "RIFF"); header.setUint32(4, 36 + bytes, true); text(8, "WAVE"); text(12, "fmt ");
  header.setUint32(16, 16, true); header.setUint16(20, 1, true); header.setUint16(22, 1, true);
  header.setUint32(24, rate, true); header.setUint32(28, rate * 2, true); header.setUint16(32, 2, true);
  header.setUint16(34, 16, true); text(36, "data"); header.setUint32(40, bytes, true);
  return new Blob([header, ...chunks], { type: "audio/wav" });
}

function stopLive(sendEnd) {
  const session = live;
  if (!session) return;
  session.ending = true;
  session.cancelled = !sendEnd;
  releaseAudio(session);
  if (sendEnd && session.socket.readyState === WebSocket.OPEN) {
    session.socket.send(JSON.stringify({ type: "end" }));  // the server sends the last window, "end", and closes
  } else {
    session.socket.close();
  }
  live = null;
  setLiveUi(false, "stopped");
}

function releaseAudio(session) {
  if (session.released) return;
  session.released = true;
  if (session.node) session.node.disconnect();
  session.source.disconnect();
  stopTracks(session.media);
  session.context.close();
}

function setLiveUi(running, status) {
  $("live-button").textContent = running ? "■ Stop" : "▶ Start live";
  $("live-button").classList.toggle("active", running);
  $("adapt-live").disabled = running;  // the stream's mode is set when it opens
  $("live-status").textContent = status;
}

clearLiveChart();
loadModel();
