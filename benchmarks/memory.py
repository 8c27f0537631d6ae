"""Peak memory and time of `ser predict` against the length of one recording.

    python benchmarks/memory.py                      # 1, 10, 60 and 180 minutes; writes its section of speed.md
    python benchmarks/memory.py --minutes 1,10       # a quick look

Each recording is real speech (RAVDESS clips of random actors, 1-3 s of faint noise between them,
as a long call or interview would have), written once under runs/memory/ in three containers:
16 kHz mono FLAC, 44.1 kHz stereo WAV and AAC in M4A (the last two for 60 minutes and up only,
where their size matters). Every measurement is a fresh process, `/usr/bin/time -v` reading its
peak resident set size, for a whole-file prediction and for ``--timeline``. The goal (issue 16):
at most 500 MB for a 3-hour file, whatever the container.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from _machine import cpu_name  # benchmarks/ is on sys.path when run as a script

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
OUT = REPO / "runs" / "memory"
SPEED_MD = REPO / "benchmarks" / "speed.md"
BEGIN, END = "<!-- memory.py begin -->", "<!-- memory.py end -->"
SR = 16000


def clips(datasets: Path) -> list[Path]:
    return sorted((datasets / "RAVDESS").rglob("*.flac"))


def write_recording(path: Path, minutes: float, sources: list[Path], rate: int, channels: int, seed: int = 0) -> None:
    """Write `minutes` of clips and faint-noise gaps to `path` block by block (never all in memory)."""
    import soundfile as sf
    import soxr

    from ser.audio import load

    rng = np.random.default_rng(seed)
    total = int(minutes * 60 * SR)
    tmp = path.with_suffix(".part" + path.suffix)
    if path.suffix == ".m4a":
        writer = _AacWriter(tmp, rate, channels)
    else:
        writer = sf.SoundFile(tmp, "w", samplerate=rate, channels=channels, format=path.suffix[1:].upper())
    resampler = soxr.ResampleStream(SR, rate, 1, dtype="float32") if rate != SR else None
    done = 0
    with writer:
        while done < total:
            gap = (10 ** (-55 / 20) * rng.standard_normal(int(rng.uniform(1, 3) * SR))).astype(np.float32)
            clip = load(sources[int(rng.integers(len(sources)))])
            block = np.concatenate([gap, clip])[: total - done]
            done += block.shape[0]
            if resampler is not None:
                block = resampler.resample_chunk(block, last=done >= total)
            writer.write(np.repeat(block[:, None], channels, axis=1) if channels > 1 else block)
    tmp.rename(path)


class _AacWriter:
    """A minimal block writer of AAC in M4A through PyAV."""

    def __init__(self, path: Path, rate: int, channels: int):
        import av

        self.container = av.open(str(path), "w", format="mp4")
        self.stream = self.container.add_stream("aac", rate=rate, layout="stereo" if channels == 2 else "mono")
        self.rate, self.channels = rate, channels

    def write(self, block: np.ndarray) -> None:
        import av

        data = np.ascontiguousarray(block.reshape(block.shape[0], -1).T.astype(np.float32))
        frame = av.AudioFrame.from_ndarray(data, format="fltp", layout=self.stream.layout.name)
        frame.sample_rate = self.rate
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        for packet in self.stream.encode(None):
            self.container.mux(packet)
        self.container.close()


def measure(path: Path, *options: str) -> dict:
    """Peak RSS (MB) and wall time (s) of one `ser predict` process on `path`."""
    # --max-duration above 3 hours: AAC's priming makes a 3-hour M4A decode a few ms longer.
    command = ["/usr/bin/time", "-v", str(REPO / ".venv" / "bin" / "ser"), "predict", str(path), "--format", "json",
               "-o", str(OUT / "out.jsonl"), "--max-duration", "11000", *options]
    started = time.time()
    result = subprocess.run(command, capture_output=True, text=True)
    wall = time.time() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1))
    return {"peak_mb": peak_kb / 1024, "wall_s": wall}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", default="1,10,60,180")
    parser.add_argument("--datasets", default=str(REPO.parent / "shared" / "datasets"))
    parser.add_argument("--no-write", action="store_true", help="print only; leave speed.md as it is")
    parser.add_argument("--redo", action="store_true", help="measure again the rows already in runs/memory/results.json")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    sources = clips(Path(args.datasets))
    results_file = OUT / "results.json"
    done = {} if args.redo or not results_file.exists() else json.loads(results_file.read_text())
    rows = []
    for minutes in [float(m) for m in args.minutes.split(",")]:
        kinds = [("FLAC 16 kHz mono", ".flac", SR, 1)]
        if minutes >= 60:
            kinds += [("WAV 44.1 kHz stereo", ".wav", 44100, 2), ("M4A (AAC) 44.1 kHz stereo", ".m4a", 44100, 2)]
        for name, suffix, rate, channels in kinds:
            path = OUT / f"recording-{minutes:g}min-{rate}-{channels}ch{suffix}"
            if not path.exists():
                print(f"writing {path.name}", flush=True)
                write_recording(path, minutes, sources, rate, channels)
            for mode, options in (("whole file", ()), ("--timeline", ("--timeline",))):
                key = f"{minutes:g}|{name}|{mode}"
                if key not in done:  # a finished row is kept, so an interrupted run resumes
                    done[key] = measure(path, *options)
                    results_file.write_text(json.dumps(done, indent=1))
                m = done[key]
                speed = minutes * 60 / m["wall_s"]
                rows.append((minutes, name, mode, m["peak_mb"], m["wall_s"], speed))
                print(f"{minutes:g} min {name} {mode}: peak {m['peak_mb']:.0f} MB, {m['wall_s']:.1f} s ({speed:.0f}x real time)", flush=True)
    table = ["| length | container | mode | peak RSS | time | real time |", "|---|---|---|---|---|---|"]
    table += [f"| {m:g} min | {n} | {mode} | {mb:.0f} MB | {w:.1f} s | {s:.0f}x |" for m, n, mode, mb, w, s in rows]
    section = (
        f"{BEGIN}\n## Memory against file length\n\n"
        f"`python benchmarks/memory.py` on {cpu_name()}, {time.strftime('%Y-%m-%d')}: one `ser predict` process per row "
        "(the shipped model, 2 cores), peak resident memory from `/usr/bin/time -v`. The recordings are real speech "
        "with 1-3 s of faint noise (-55 dBFS) between utterances. Files are decoded in blocks, speech is found "
        "in one pass and judged in a second, so memory does not grow with length (goal: <= 500 MB for 3 hours). "
        f"Load average when written: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; on a shared machine the "
        "times are not speed figures (those are above).\n\n"
        + "\n".join(table) + f"\n{END}"
    )
    print(section)
    if not args.no_write:
        text = SPEED_MD.read_text()
        if BEGIN in text:
            text = text[: text.index(BEGIN)] + section + text[text.index(END) + len(END):]
        else:
            text = text.rstrip("\n") + "\n\n" + section + "\n"
        SPEED_MD.write_text(text)
        print(f"wrote {SPEED_MD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
