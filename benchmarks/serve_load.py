"""Load check of `ser serve`: concurrent clients on loopback, throughput, latency, errors and memory.

Starts ``ser serve`` as its own process on a free loopback port, then for each client count runs
that many clients for a fixed time, each posting the example clips (examples/*.flac, about 3.5 s
each) one after another as fast as the answers come. It records every request's latency and
status, and samples the server's resident memory (VmRSS from /proc) twice a second throughout,
and writes benchmarks/serve_load.md.

    python benchmarks/serve_load.py                      # the shipped model, 1/2/8/32 clients, 20 s each
    python benchmarks/serve_load.py --model DIR --clients 1,4 --seconds 10

Then mixed traffic (``--mixed-uploads 2 --mixed-streams 8``): long uploads (the example clips
joined to ``--long-minutes`` of FLAC, posted back to back with ``?timeline=true`` as the page
does) while live streams send at real-time pace; the streams' update lag, every status, and the
server's memory over the run. The load average of the machine is recorded before and after,
since other work on it disturbs the figures.

Traffic goes to 127.0.0.1 only; every loop is bounded by --seconds, and the server is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

from _machine import cpu_name  # benchmarks/ is on sys.path when run as a script

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = REPO / "src" / "ser" / "pretrained" / "default"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="model folder (default: the shipped model)")
    parser.add_argument("--clients", default="1,2,8,32", help="comma-separated concurrent client counts")
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of each level")
    parser.add_argument("--streams", default="1,4,8", help="comma-separated counts of live WebSocket streams (real-time pace); empty for none")
    parser.add_argument("--workers", type=int, default=2, help="ser serve --workers")
    parser.add_argument("--mixed-uploads", type=int, default=2, help="long uploads running at once in the mixed run (0: no mixed run)")
    parser.add_argument("--mixed-streams", type=int, default=8, help="live streams during the mixed run")
    parser.add_argument("--mixed-seconds", type=float, default=90.0, help="duration of the mixed run")
    parser.add_argument("--long-minutes", type=float, default=9.5, help="length of each long upload")
    parser.add_argument(
        "--server-nice", type=int, default=0,
        help="niceness of the server process (default 0, as deployed, even when this script runs niced; its upload "
        "threads lower themselves to 19); needs the right to lower it, else it keeps this script's",
    )
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "serve_load.md")
    args = parser.parse_args()
    if not (args.model / "ser_model.json").is_file():
        sys.exit(f"no model at {args.model} (ser_model.json missing); pass --model DIR")
    args.load_start = os.getloadavg()
    clips = [p.read_bytes() for p in sorted((REPO / "examples").glob("*.flac"))]
    levels = [int(n) for n in args.clients.split(",")]
    stream_levels = [int(n) for n in args.streams.split(",") if n.strip()]
    from ser.audio import load

    # The live streams send the example clips one after another, as 16-bit PCM at 16 kHz.
    pcm = (np.concatenate([load(c) for c in clips]) * 32767).astype("<i2")

    port = free_port()
    command = [
        sys.executable, "-m", "ser.cli.main", "serve", "--host", "127.0.0.1", "--port", str(port),
        "--model", str(args.model), "--workers", str(args.workers), "--log-level", "warning",
        # Every simulated client comes from 127.0.0.1: allow them all (the default is 16 per address).
        "--max-per-client", str(max(levels + [0]) + max(stream_levels + [args.mixed_streams]) + args.mixed_uploads + 8),
    ]
    server = subprocess.Popen(command, cwd=REPO, preexec_fn=lambda: _renice(args.server_nice))
    args.server_nice_actual = os.getpriority(os.PRIO_PROCESS, server.pid)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` stops the server
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, server)
        rows, stream_rows, rss = asyncio.run(run_levels(url, server.pid, clips, levels, stream_levels, pcm, args.seconds))
        mixed = None
        if args.mixed_uploads or args.mixed_streams:
            long_clip = long_flac(pcm, args.long_minutes)
            mixed = asyncio.run(run_mixed(url, server.pid, long_clip, pcm, args))
    finally:
        server.terminate()
        server.wait(timeout=30)
    write_report(args, rows, stream_rows, rss, clips, mixed)
    return 0


def _renice(nice: int) -> None:
    try:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    except OSError:  # lowering niceness needs privileges: keep the inherited one (reported)
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, server: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"ser serve exited with status {server.returncode}")
        try:
            if httpx.get(url + "/v1/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    sys.exit("ser serve did not become healthy in time")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def sample_memory(pid: int, start: float, stop: asyncio.Event, samples: list[tuple[float, float]]) -> None:
    """Append (seconds since `start`, RSS MiB of `pid`) to `samples` twice a second until `stop`."""
    while not stop.is_set():
        samples.append((time.monotonic() - start, rss_mib(pid)))
        try:
            await asyncio.wait_for(stop.wait(), 0.5)
        except asyncio.TimeoutError:
            pass


async def run_levels(url, pid, clips, levels, stream_levels, pcm, seconds):
    samples: list[tuple[float, float]] = []  # (seconds since start, RSS MiB)
    start = time.monotonic()
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_memory(pid, start, stop, samples))
    rows = []
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=httpx.Limits(max_connections=max(levels) + 4)) as http:
        for i in range(3):  # warm-up: first calls allocate the session's buffers
            (await http.post("/v1/predict", content=clips[i % len(clips)])).raise_for_status()
        for clients in levels:
            rss_before = rss_mib(pid)
            t0 = time.monotonic()
            results = await asyncio.gather(*(client(http, clips, k, t0 + seconds) for k in range(clients)))
            elapsed = time.monotonic() - t0
            latencies = np.array([lat for r in results for lat, ok in r if ok])
            errors = sum(1 for r in results for _, ok in r if not ok)
            level_rss = [m for t, m in samples if t0 - start <= t]
            rows.append(
                {
                    "clients": clients,
                    "requests": len(latencies) + errors,
                    "rps": len(latencies) / elapsed,
                    "p50": float(np.percentile(latencies, 50)) * 1000 if len(latencies) else float("nan"),
                    "p95": float(np.percentile(latencies, 95)) * 1000 if len(latencies) else float("nan"),
                    "errors": errors,
                    "rss_before": rss_before,
                    "rss_max": max(level_rss) if level_rss else rss_before,
                    "rss_after": rss_mib(pid),
                }
            )
            print(
                f"{clients:3d} clients: {rows[-1]['requests']} requests, {rows[-1]['rps']:.2f} req/s, "
                f"p50 {rows[-1]['p50']:.0f} ms, p95 {rows[-1]['p95']:.0f} ms, {errors} errors, "
                f"RSS {rss_before:.0f} -> {rows[-1]['rss_after']:.0f} MiB (max {rows[-1]['rss_max']:.0f})",
                flush=True,
            )
        stream_rows = []
        for streams in stream_levels:
            rss_before = rss_mib(pid)
            t0 = time.monotonic()
            results = await asyncio.gather(*(live_stream(url, pcm, k, t0 + seconds) for k in range(streams)))
            elapsed = time.monotonic() - t0
            lags = np.array([lag for lag_list, _ in results for lag in lag_list])
            stream_rows.append(
                {
                    "streams": streams,
                    "updates": len(lags),
                    "ups": len(lags) / elapsed,
                    "p50": float(np.percentile(lags, 50)) * 1000 if len(lags) else float("nan"),
                    "p95": float(np.percentile(lags, 95)) * 1000 if len(lags) else float("nan"),
                    "p99": float(np.percentile(lags, 99)) * 1000 if len(lags) else float("nan"),
                    "errors": sum(e for _, e in results),
                    "rss_before": rss_before,
                    "rss_after": rss_mib(pid),
                }
            )
            r = stream_rows[-1]
            print(
                f"{streams:3d} streams: {r['updates']} updates, {r['ups']:.2f}/s, lag p50 {r['p50']:.0f} ms, "
                f"p95 {r['p95']:.0f} ms, p99 {r['p99']:.0f} ms, {r['errors']} errors, RSS {rss_before:.0f} -> {r['rss_after']:.0f} MiB",
                flush=True,
            )
    stop.set()
    await sampler
    return rows, stream_rows, samples


def long_flac(pcm: np.ndarray, minutes: float) -> bytes:
    """The example clips (16-bit PCM at 16 kHz) repeated to `minutes`, as FLAC bytes."""
    import io

    import soundfile as sf

    samples = np.take(pcm, np.arange(int(minutes * 60 * 16000)), mode="wrap")
    buffer = io.BytesIO()
    sf.write(buffer, samples, 16000, format="FLAC", subtype="PCM_16")
    return buffer.getvalue()


async def run_mixed(url: str, pid: int, long_clip: bytes, pcm: np.ndarray, args) -> dict:
    """Long uploads back to back and live streams at once, for ``args.mixed_seconds``."""
    samples: list[tuple[float, float]] = []
    stop = asyncio.Event()
    start = time.monotonic()
    load_before = os.getloadavg()

    async def uploader(http: httpx.AsyncClient, deadline: float) -> list[tuple[float, int]]:
        results = []
        while time.monotonic() < deadline:
            t = time.monotonic()
            try:
                response = await http.post("/v1/predict?timeline=true", content=long_clip, headers={"content-type": "audio/flac"})
                status = response.status_code
            except httpx.HTTPError:
                status = 0
            results.append((time.monotonic() - t, status))
        return results

    sampler = asyncio.create_task(sample_memory(pid, start, stop, samples))
    rss_before = rss_mib(pid)
    deadline = start + args.mixed_seconds
    async with httpx.AsyncClient(base_url=url, timeout=600) as http:
        uploads = [asyncio.create_task(uploader(http, deadline)) for _ in range(args.mixed_uploads)]
        await asyncio.sleep(2.0)  # the uploads are decoding and predicting when the streams start
        streams = await asyncio.gather(*(live_stream(url, pcm, k, deadline) for k in range(args.mixed_streams)))
        upload_results = await asyncio.gather(*uploads)
    end = time.monotonic() - start
    await asyncio.sleep(3.0)  # memory once the work is over
    stop.set()
    await sampler
    lags = np.array([lag for lag_list, _ in streams for lag in lag_list])
    statuses = [status for r in upload_results for _, status in r]
    result = {
        "seconds": end,
        "updates": len(lags),
        "lag": {q: float(np.percentile(lags, q)) * 1000 if len(lags) else float("nan") for q in (50, 95, 99, 100)},
        "stream_errors": sum(e for _, e in streams),
        "uploads": len(statuses),
        "upload_ok": statuses.count(200),
        "server_errors": sum(1 for s in statuses if s >= 500 or s == 0),
        "upload_latency": [lat for r in upload_results for lat, _ in r],
        "rss_before": rss_before,
        "rss": samples,
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }
    print(
        f"mixed: {args.mixed_uploads} long uploads + {args.mixed_streams} streams for {end:.0f} s: "
        f"{result['updates']} updates, lag p50 {result['lag'][50]:.0f} ms, p95 {result['lag'][95]:.0f} ms, "
        f"p99 {result['lag'][99]:.0f} ms, max {result['lag'][100]:.0f} ms; uploads {result['upload_ok']}/{result['uploads']} ok, "
        f"{result['server_errors']} 5xx; RSS max {max(m for _, m in samples):.0f} MiB, end {samples[-1][1]:.0f} MiB; "
        f"load {load_before[0]:.1f} -> {result['load_after'][0]:.1f}",
        flush=True,
    )
    return result


async def live_stream(url: str, pcm: np.ndarray, k: int, deadline: float) -> tuple[list[float], int]:
    """Send 100 ms chunks at real-time pace until `deadline`; the lag of each update, and the errors.

    An update's lag runs from sending the chunk that completed its window to receiving it.
    """
    import json

    import websockets

    chunk = 1600
    sent_at: dict[int, float] = {}  # samples sent so far -> when
    lags: list[float] = []
    errors = 0
    offset = (k * 16000 * 5) % pcm.shape[0]  # streams start at different places of the audio
    async with websockets.connect(url.replace("http", "ws") + "/v1/stream?sample_rate=16000&format=int16") as ws:
        assert json.loads(await ws.recv())["type"] == "ready"

        async def receive():
            nonlocal errors
            async for message in ws:
                update = json.loads(message)
                if update["type"] == "update":
                    lags.append(time.monotonic() - sent_at[round(update["end_s"] * 16000)])
                elif update["type"] == "error":
                    errors += 1
                else:
                    return

        receiver = asyncio.create_task(receive())
        total, start = 0, time.monotonic()
        while time.monotonic() < deadline:
            piece = np.take(pcm, np.arange(offset + total, offset + total + chunk), mode="wrap")
            await ws.send(piece.tobytes())
            total += chunk
            sent_at[total] = time.monotonic()
            await asyncio.sleep(max(0.0, start + total / 16000 - time.monotonic()))
        await ws.send(json.dumps({"type": "end"}))
        await receiver
    return lags, errors


async def client(http: httpx.AsyncClient, clips: list[bytes], k: int, deadline: float) -> list[tuple[float, bool]]:
    """Post clips back to back until `deadline`; (latency s, ok) per request."""
    results = []
    i = k
    while time.monotonic() < deadline:
        t = time.monotonic()
        try:
            response = await http.post("/v1/predict", content=clips[i % len(clips)], headers={"content-type": "audio/flac"})
            ok = response.status_code == 200
        except httpx.HTTPError:
            ok = False
        results.append((time.monotonic() - t, ok))
        i += 1
    return results


def write_report(args, rows, stream_rows, rss, clips, mixed=None) -> None:
    import onnxruntime

    durations = []
    from ser.audio import info

    for clip in clips:
        durations.append(info(clip).duration)
    command = (
        f"python benchmarks/serve_load.py --clients {args.clients} --streams {args.streams} "
        f"--seconds {args.seconds:g} --workers {args.workers} --mixed-uploads {args.mixed_uploads} "
        f"--server-nice {args.server_nice} "
        f"--mixed-streams {args.mixed_streams} --mixed-seconds {args.mixed_seconds:g} --long-minutes {args.long_minutes:g}"
    )
    if args.model != DEFAULT_MODEL:
        command += f" --model {args.model}"
    lines = [
        "# `ser serve` under load",
        "",
        f"N concurrent clients on loopback, each posting the {len(clips)} example clips (FLAC, "
        f"{min(durations):.1f}-{max(durations):.1f} s) back to back as raw bodies to `POST /v1/predict`, "
        f"for {args.seconds:g} s per row, one server process (`ser serve --workers {args.workers}`, the default "
        "limits: 32 requests admitted at once, so every row up to 32 clients must queue, never refuse; "
        "`--max-per-client` raised since every simulated client comes from 127.0.0.1). "
        "Latency is from sending the request to the full answer, as the client sees it (queueing included). "
        "Errors are any answer other than 200, or a failed connection. RSS is the server process's resident "
        "memory (VmRSS), sampled every 0.5 s.",
        "",
        "| clients | requests | req/s | p50 latency (ms) | p95 latency (ms) | errors | RSS before → after (max), MiB |",
        "|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['clients']} | {r['requests']} | {r['rps']:.2f} | {r['p50']:.0f} | {r['p95']:.0f} | {r['errors']} | "
            f"{r['rss_before']:.0f} → {r['rss_after']:.0f} ({r['rss_max']:.0f}) |"
        )
    best = max(rows, key=lambda r: r["rps"])
    mean_s = float(np.mean(durations))
    last = rows[-1]
    lines += [
        "",
        f"Throughput peaks at {best['rps']:.2f} req/s with {best['clients']} clients, {best['rps'] * mean_s:.1f} s of audio "
        f"per second; with {last['clients']} clients it is {last['rps']:.2f} req/s ({100 * last['rps'] / best['rps']:.0f}% of "
        f"the peak) with {last['errors']} errors, the extra clients waiting in the queue (p50 {last['p50'] / 1000:.1f} s), "
        f"and the server's RSS changed by {last['rss_after'] - last['rss_before']:+.0f} MiB over that row.",
    ]
    if stream_rows:
        lines += [
            "",
            f"Live streams, after the rows above: each `WS /v1/stream` client sends 16-bit PCM at 16 kHz in 100 ms "
            f"chunks at real-time pace for {args.seconds:g} s (window 2 s, hop 1 s: one update per second per stream). "
            "Lag runs from sending the chunk that completes a window to receiving its update.",
            "",
            "| streams | updates | updates/s | p50 lag (ms) | p95 lag (ms) | p99 lag (ms) | errors | RSS before → after, MiB |",
            "|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for r in stream_rows:
            lines.append(
                f"| {r['streams']} | {r['updates']} | {r['ups']:.2f} | {r['p50']:.0f} | {r['p95']:.0f} | {r['p99']:.0f} | {r['errors']} | "
                f"{r['rss_before']:.0f} → {r['rss_after']:.0f} |"
            )
    if mixed:
        lines += mixed_report(args, mixed)
    times = [t for t, _ in rss]
    mem = [m for _, m in rss]
    marks = np.unique(np.linspace(0, len(rss) - 1, min(12, len(rss))).round().astype(int))
    after_warmup = rows[0]["rss_before"]
    lines += [
        "",
        "RSS over the whole run (s → MiB): " + ", ".join(f"{times[i]:.1f} → {mem[i]:.0f}" for i in marks) + ".",
        f"After the 3 warm-up requests {after_warmup:.0f} MiB; at the end {mem[-1]:.0f} MiB "
        f"({mem[-1] - after_warmup:+.0f} MiB); highest {max(mem):.0f} MiB.",
        "",
        f"- CPU: {cpu_name()}, {len(os.sched_getaffinity(0))} logical cores visible, shared by the server and the "
        "load generator (and by whatever else ran on the machine: its 1-minute load average was "
        f"{args.load_start[0]:.1f} at the start of the run and {os.getloadavg()[0]:.1f} at the end; on a busy machine "
        "the upload rows fall first, since uploads run at the lowest priority); the server ran at niceness "
        f"{args.server_nice_actual} (its upload threads at 19), the load generator at {os.getpriority(os.PRIO_PROCESS, 0)}",
        f"- model: {args.model.name} ({'the shipped default' if args.model == DEFAULT_MODEL else 'given by --model'}); "
        f"onnxruntime {onnxruntime.__version__}, default threads; Python {platform.python_version()}",
        "",
        f"Reproduce: `{command}`",
        "",
    ]
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {args.out}")


def mixed_report(args, mixed: dict) -> list[str]:
    """The mixed-traffic section of the report."""
    lag = mixed["lag"]
    mem = [m for _, m in mixed["rss"]]
    marks = np.unique(np.linspace(0, len(mem) - 1, min(14, len(mem))).round().astype(int))
    latency = np.array(mixed["upload_latency"]) if mixed["upload_latency"] else np.array([np.nan])
    return [
        "",
        f"## Mixed traffic: {args.mixed_uploads} long uploads and {args.mixed_streams} live streams at once",
        "",
        f"{args.mixed_uploads} clients each post a {args.long_minutes:g}-minute FLAC (the example clips joined) with "
        f"`?timeline=true`, back to back; 2 s later {args.mixed_streams} live streams start and send at real-time pace "
        f"(as above) until {mixed['seconds']:.0f} s. The uploads run on their own copy of the model at nice 19; the "
        "streams on threads of their own at normal priority (`ser.serve.work`).",
        "",
        "| stream updates | lag p50 (ms) | p95 (ms) | p99 (ms) | max (ms) | stream errors | uploads done (200) | 5xx or failed | upload latency p50 (s) | RSS before → max → end, MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        f"| {mixed['updates']} | {lag[50]:.0f} | {lag[95]:.0f} | {lag[99]:.0f} | {lag[100]:.0f} | {mixed['stream_errors']} | "
        f"{mixed['upload_ok']} of {mixed['uploads']} | {mixed['server_errors']} | {np.nanmedian(latency):.1f} | "
        f"{mixed['rss_before']:.0f} → {max(mem):.0f} → {mem[-1]:.0f} |",
        "",
        "Compare with the live-stream rows above (the same streams without uploads, minutes earlier on the same machine).",
        f"Goal (issue 18): lag p99 <= 1500 ms, 0 5xx, RSS flat and <= 1024 MiB: p99 {lag[99]:.0f} ms, "
        f"{mixed['server_errors']} 5xx, highest RSS {max(mem):.0f} MiB.",
        "RSS over the mixed run (s → MiB): "
        + ", ".join(f"{mixed['rss'][i][0]:.0f} → {mixed['rss'][i][1]:.0f}" for i in marks)
        + ".",
        f"Load average (1 min) of the machine: {mixed['load_before'][0]:.2f} before, {mixed['load_after'][0]:.2f} after "
        "(the load generator and the server count in it; more than ~3 means other work shared the 2 cores).",
    ]


if __name__ == "__main__":
    sys.exit(main())
