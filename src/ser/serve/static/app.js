// The ser web page: send a file or a recording to POST /v1/predict, or stream the microphone
// over WS /v1/stream and draw the emotions live. Plain JS, nothing loaded from elsewhere.
"use strict";

const $ = (id) => document.getElementById(id);
const COLORS = {
  neutral: "#8a94a3", calm: "#3fa7a0", happy: "#eeb004", sad: "#3b6fd8", angry: "#d6453d",
  fearful: "#8e55c9", disgust: "#4c9a2a", surprised: "#f07f1d", boredom: "#9c7a54", other: "#5f7485",
};
const SPARE_COLORS = ["#17becf", "#bcbd22", "#e377c2", "#7f7f7f", "#8c564b", "#1f77b4"];
const SILENCE_COLOR = "#d9dde2";
const LIVE_SPAN_S = 30;          // seconds shown by the rolling live timeline
const LIVE_WINDOW_S = 2, LIVE_HOP_S = 1;
const RECORD_LIMIT_S = 120;

let labels = [];
let limits = null;
let live = null;                 // the running live session, if any
let recording = null;            // the running recording, if any

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
    for (const other of document.querySelectorAll('[role="tab"]')) {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      $(other.getAttribute("aria-controls")).hidden = !selected;
    }
  });
}

// ---------------------------------------------------------------------------------- model

async function loadModel() {
  try {
    const [model, health] = await Promise.all([fetchJson("/v1/model"), fetchJson("/v1/health")]);
    labels = model.labels;
    limits = health.limits;
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
}

async function fetchJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status} ${response.statusText}`);
  return response.json();
}

// ---------------------------------------------------------------------------------- results

function showPrediction(p, source, { speech = true } = {}) {
  $("result").hidden = false;
  const chip = $("result-label");
  chip.textContent = p.label;
  chip.style.background = speech ? colorOf(p.label) : SILENCE_COLOR;
  chip.style.color = speech ? "#fff" : "#4a525c";
  $("result-confidence").textContent = `${(100 * p.confidence).toFixed(0)}%`;
  $("result-source").textContent = source;
  const warning = p.warning || (speech ? "" : "no speech in this window; the label is a guess");
  $("result-warning").textContent = warning;
  $("result-warning").hidden = !warning;
  drawBars(p.scores);
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

function showSegments(p) {
  const box = $("segments-box");
  box.hidden = !p.segments;
  if (!p.segments) return;
  $("file-duration").textContent = `${p.duration_s.toFixed(1)} s`;
  drawColumns($("file-timeline"), p.segments.map((s) => ({
    start: s.start_s, end: s.end_s, scores: s.scores, speech: s.kind === "speech",
  })), 0, Math.max(p.duration_s, 0.01));
  const shares = Object.entries(p.summary.emotions).filter(([, v]) => v > 0)
    .map(([k, v]) => `${k} ${(100 * v).toFixed(0)}%`).join(", ");
  $("summary").textContent = `${shares || "no speech"} of ${p.summary.speech_s.toFixed(1)} s of speech; ` +
    `silence ${(100 * p.summary.silence_share).toFixed(0)}% of the recording`;
}

// Stacked probabilities per time span; silence (or a window without speech) drawn flat and grey.
function drawColumns(canvas, columns, t0, t1) {
  const dpr = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 600, height = canvas.clientHeight || Number(canvas.getAttribute("height"));
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  const g = canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, width, height);
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

// ---------------------------------------------------------------------------------- uploads

function setBusy(busy) {
  $("file-input").disabled = busy;
  $("record-button").disabled = busy && !recording;
}

async function sendAudio(body, contentType, sourceName, timeline) {
  setBusy(true);
  showInfo(`Sending ${sourceName}…`);
  try {
    const headers = contentType ? { "Content-Type": contentType } : {};
    const response = await fetch(`/v1/predict${timeline ? "?timeline=true" : ""}`, { method: "POST", body, headers });
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      let why = data && data.message ? data.message : `${response.status} ${response.statusText}`;
      if (why.startsWith(`${sourceName}: `)) why = why.slice(sourceName.length + 2);  // the message names the file too
      $("result").hidden = true;
      showError(`The server could not use ${sourceName}: ${why}`);
      return;
    }
    clearMessage();
    showPrediction(data, `${sourceName} · ${data.duration_s.toFixed(1)} s`);
    showSegments(data);
  } catch (error) {
    showError(`Could not reach the server: ${error.message}`);
  } finally {
    setBusy(false);
  }
}

function sendFile(file) {
  if (!file) return;
  if (limits && file.size > limits.max_upload_bytes) {
    showError(`${file.name} is ${(file.size / 2 ** 20).toFixed(1)} MB, more than the server's limit of ` +
      `${(limits.max_upload_bytes / 2 ** 20).toFixed(0)} MB.`);
    return;
  }
  const form = new FormData();
  form.append("file", file, file.name);
  sendAudio(form, null, file.name, $("want-timeline").checked);
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
  if (typeof MediaRecorder !== "function") { showError("This browser cannot record audio (no MediaRecorder)."); return; }
  let media;
  try { media = await getMicrophone(); } catch (error) { showError(error.message); return; }
  const type = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/mp4"].find((t) => MediaRecorder.isTypeSupported(t));
  const recorder = new MediaRecorder(media, type ? { mimeType: type } : {});
  const chunks = [];
  const started = Date.now();
  recorder.ondataavailable = (event) => { if (event.data.size) chunks.push(event.data); };
  recorder.onstop = () => {
    stopTracks(media);
    clearInterval(recording.timer);
    recording = null;
    $("record-button").textContent = "● Record";
    $("record-button").classList.remove("active");
    $("record-time").textContent = "";
    const blob = new Blob(chunks, { type: recorder.mimeType || type || "application/octet-stream" });
    if (!blob.size) { showError("The recording is empty: the microphone sent no audio."); return; }
    sendAudio(blob, blob.type, "the recording", false);
  };
  recording = {
    recorder,
    timer: setInterval(() => {
      const seconds = (Date.now() - started) / 1000;
      $("record-time").textContent = `recording… ${seconds.toFixed(0)} s`;
      if (seconds >= RECORD_LIMIT_S) stopRecording();
    }, 250),
  };
  recorder.start(250);
  $("record-button").textContent = "■ Stop and send";
  $("record-button").classList.add("active");
}

function stopRecording() { if (recording && recording.recorder.state !== "inactive") recording.recorder.stop(); }

// ---------------------------------------------------------------------------------- live

$("live-button").addEventListener("click", () => (live ? stopLive(true) : startLive()));

async function startLive() {
  clearMessage();
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
  const query = `sample_rate=${context.sampleRate}&format=int16&window=${LIVE_WINDOW_S}&hop=${LIVE_HOP_S}`;
  const socket = new WebSocket(`${scheme}://${location.host}/v1/stream?${query}`);
  socket.binaryType = "arraybuffer";
  const session = { media, context, source, socket, node: null, updates: [], hop: LIVE_HOP_S, ending: false };
  live = session;
  setLiveUi(true, "connecting…");

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
    } else if (message.type === "error") {
      showError(`The server stopped the live stream: ${message.message}`);
    }
  };
  socket.onclose = (event) => {
    if (event.code !== 1000 && !session.ending && $("message").hidden) {
      showError(`The live stream was closed by the server (code ${event.code}${event.reason ? ", " + event.reason : ""}).`);
    }
    releaseAudio(session);
    if (live === session) { live = null; setLiveUi(false, session.updates.length ? "stopped" : ""); }
  };
}

async function startCapture(session) {
  const { context, source, socket } = session;
  const send = (buffer) => { if (socket.readyState === WebSocket.OPEN) socket.send(buffer); };
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

function onLiveUpdate(session, update) {
  session.updates.push(update);
  while (session.updates.length && session.updates[0].end_s < update.end_s - LIVE_SPAN_S - session.hop) session.updates.shift();
  session.count = (session.count || 0) + 1;
  const canvas = $("live-timeline");
  canvas.dataset.updates = String(session.count);
  drawColumns(canvas, session.updates.map((u) => ({
    start: u.end_s - session.hop, end: u.end_s, scores: u.scores, speech: u.is_speech,
  })), update.end_s - LIVE_SPAN_S, update.end_s);
  showPrediction(update, `live · ${update.start_s.toFixed(0)}–${update.end_s.toFixed(0)} s`, { speech: update.is_speech });
  $("segments-box").hidden = true;
  $("live-status").textContent = `${session.count} update${session.count === 1 ? "" : "s"} · ${update.end_s.toFixed(0)} s streamed`;
}

function stopLive(sendEnd) {
  const session = live;
  if (!session) return;
  session.ending = true;
  releaseAudio(session);
  if (sendEnd && session.socket.readyState === WebSocket.OPEN) {
    session.socket.send(JSON.stringify({ type: "end" }));  // the server sends the last window and closes
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
  $("live-status").textContent = status;
}

loadModel();
