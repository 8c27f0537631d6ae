"""Speaker grouping and speaker turns (`ser.speakers`) on the corpora in ../shared: writes benchmarks/speakers.md.

    nice -n 10 python benchmarks/speakers.py [--parts grouping,nuisance,conversations,cost,emotions] [--seed 0]

1. **Grouping clips by voice** (`group_by_voice`, what ``--adapt auto`` uses). The 71 speakers of
   RAVDESS, EmoDB, TESS, URDU and TurEV-DB are split in two halves (every other speaker of each
   corpus, sorted by id): the threshold is chosen on collections drawn from the first half and
   reported on collections drawn from the second. A collection holds 1, 2, 4 or 8 speakers with
   up to 10 clips each in mixed emotions; each clip is embedded from its speech only.
2. **Speaker turns in conversations** (`speaker_turns`): two voices alternating for 24 turns
   (one clip per turn, gaps 0.3-0.7 s), pairs of different gender, of the same gender, and of
   different languages, built from the held-out half of the speakers. Scored with
   pyannote.metrics' diarisation error rate (no collar, overlaps none) and the share of speech
   attributed to the right voice (after the best one-to-one mapping of found to true speakers).
   2a. **Settings, on the tuning speakers** (part ``nuisance``): the nuisance projection
   (`ser.speakers.nuisance`) is learned on windows of 96 conversations built from the tuning
   half of the speakers, and the number of its directions and the automatic count's merge
   distance are chosen on 96 other conversations of the tuning speakers; the chosen projection
   is written to src/ser/pretrained/speaker/nuisance.npz (the file the library ships).
3. **Cost**: seconds of CPU per hour of audio for the speaker step (embedding + clustering),
   on 1 and 2 cores.

Real clips come from $SER_SHARED/datasets (default ../shared). Embeddings are cached under
cache/speakers/ (ignored by git).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
SHARED = Path(os.environ.get("SER_SHARED", REPO.parent / "shared"))
DATASETS = SHARED / "datasets"
CACHE = REPO / "cache" / "speakers"
OUT = REPO / "benchmarks" / "speakers.md"
CORPORA = {"ravdess": "RAVDESS", "emodb": "EmoDB", "tess": "TESS", "urdu": "URDU", "turevdb": "TurEV-DB"}
SR = 16000


# ---------------------------------------------------------------------------------------------
# Data


@dataclass(frozen=True)
class Clip:
    path: str
    corpus: str
    speaker: str
    emotion: str
    gender: str
    language: str


def load_clips() -> list[Clip]:
    """Every labelled clip of the five corpora."""
    from ser.corpora import prepare

    clips = []
    for name, folder in CORPORA.items():
        for u in prepare(name, DATASETS / folder).utterances:
            clips.append(Clip(u.path, u.corpus, u.speaker, u.emotion, u.gender, u.language))
    return clips


def split_speakers(clips: list[Clip]) -> tuple[set[str], set[str]]:
    """(tuning, held-out) speakers: every other speaker of each corpus, in sorted order."""
    tune, held = set(), set()
    for corpus in CORPORA:
        speakers = sorted({c.speaker for c in clips if c.corpus == corpus})
        tune |= set(speakers[0::2])
        held |= set(speakers[1::2])
    return tune, held


_DETECTOR = None


def speech_of(signal: np.ndarray) -> list[tuple[float, float]]:
    """Speech regions (seconds) of a signal: the Silero detector if this checkout has it, else the energy one."""
    global _DETECTOR
    try:
        from ser.inference.vad import SpeechDetector

        _DETECTOR = _DETECTOR or SpeechDetector.from_pretrained()
        return list(_DETECTOR.regions(signal))
    except ImportError:
        from ser.inference.timeline import speech_regions

        return [(a / SR, b / SR) for a, b in speech_regions(signal)]


def detector_name() -> str:
    try:
        from ser.inference.vad import SpeechDetector  # noqa: F401

        return "Silero VAD (`ser.inference.vad`)"
    except ImportError:
        return "the energy detector (`ser.inference.timeline.speech_regions`)"


def load_signal(path: str) -> np.ndarray:
    from ser.audio import load

    return load(path)


def clip_speech(signal: np.ndarray) -> np.ndarray:
    """The clip's speech regions joined (the whole clip when none is found)."""
    regions = speech_of(signal)
    if not regions:
        return signal
    return np.concatenate([signal[int(a * SR) : int(b * SR)] for a, b in regions])


def clip_embeddings(clips: list[Clip], encoder) -> np.ndarray:
    """Embedding [256] of each clip's speech, [n, 256]; cached by path list."""
    CACHE.mkdir(parents=True, exist_ok=True)
    cache = CACHE / "clips.npz"
    paths = np.asarray([c.path for c in clips])
    if cache.is_file():
        stored = np.load(cache)
        if stored["paths"].shape == paths.shape and (stored["paths"] == paths).all():
            return stored["embeddings"]
    out = np.zeros((len(clips), 256), np.float32)
    for i in range(0, len(clips), 64):
        batch = [clip_speech(load_signal(c.path)) for c in clips[i : i + 64]]
        out[i : i + 64] = encoder.embed_batch(batch)
        print(f"  embedded {min(i + 64, len(clips))}/{len(clips)} clips", file=sys.stderr, end="\r")
    tmp = CACHE / "clips.tmp.npz"
    np.savez(tmp, paths=paths, embeddings=out)
    os.replace(tmp, cache)
    return out


# ---------------------------------------------------------------------------------------------
# 1. Grouping clips by voice

THRESHOLDS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6)
GROUP_SIZES = (1, 2, 4, 8)
CLIPS_PER_SPEAKER = 10
TRIALS = 60


def draw_collections(clips: list[Clip], speakers: set[str], rng: np.random.Generator) -> list[tuple[int, np.ndarray]]:
    """(number of speakers, clip indices) of random collections from `speakers`, TRIALS per size."""
    by_speaker: dict[str, list[int]] = {}
    for i, c in enumerate(clips):
        if c.speaker in speakers:
            by_speaker.setdefault(c.speaker, []).append(i)
    names = sorted(by_speaker)
    out = []
    for k in GROUP_SIZES:
        for _ in range(TRIALS):
            chosen = rng.choice(len(names), size=k, replace=False)
            index = []
            for s in chosen:
                pool = by_speaker[names[s]]
                index += rng.choice(pool, size=min(CLIPS_PER_SPEAKER, len(pool)), replace=False).tolist()
            out.append((k, np.asarray(index)))
    return out


def grouping_scores(truth: np.ndarray, found: np.ndarray) -> dict[str, float]:
    """split: share of clips outside their speaker's largest group; mixed: share of clips in a
    group whose largest speaker is another; exact: 1 if the groups are exactly the speakers."""
    split = mixed = 0
    for s in np.unique(truth):
        split += (truth == s).sum() - np.bincount(found[truth == s]).max()
    for g in np.unique(found):
        members = truth[found == g]
        mixed += members.shape[0] - np.unique(members, return_counts=True)[1].max()
    exact = len(set(zip(truth.tolist(), found.tolist()))) == len(np.unique(truth)) == len(np.unique(found))
    return {"split": split / truth.shape[0], "mixed": mixed / truth.shape[0], "exact": float(exact)}


def run_grouping(clips, embeddings, tune, held, seed) -> dict:
    from ser.speakers import group_by_voice

    results = {}
    for name, speakers in (("tune", tune), ("held-out", held)):
        rng = np.random.default_rng(seed)
        collections = draw_collections(clips, speakers, rng)
        truth_all = np.asarray([c.speaker for c in clips])
        for t in THRESHOLDS:
            for k, index in collections:
                _, truth = np.unique(truth_all[index], return_inverse=True)
                grouping = group_by_voice(embeddings[index], threshold=t)
                scores = grouping_scores(truth, grouping.labels)
                scores["found"] = grouping.n_groups
                results.setdefault((name, t, k), []).append(scores)
    return results


def choose_threshold(results) -> float:
    """The threshold with the fewest misplaced clips (split + mixed) over the tuning collections;
    on a tie, the larger (merging is preferred to splitting)."""
    def cost(t):
        rows = [r for k in GROUP_SIZES for r in results[("tune", t, k)]]
        return np.mean([r["split"] + r["mixed"] for r in rows])

    best = min(cost(t) for t in THRESHOLDS)
    return max(t for t in THRESHOLDS if cost(t) <= best + 1e-9)


def grouping_table(results, name: str) -> list[str]:
    lines = ["| threshold | " + " | ".join(f"{k} spk: split / mixed / exact / found" for k in GROUP_SIZES) + " |"]
    lines.append("|---" * (len(GROUP_SIZES) + 1) + "|")
    for t in THRESHOLDS:
        cells = []
        for k in GROUP_SIZES:
            rows = results[(name, t, k)]
            m = {key: np.mean([r[key] for r in rows]) for key in ("split", "mixed", "exact", "found")}
            cells.append(f"{m['split']:.3f} / {m['mixed']:.3f} / {m['exact']:.2f} / {m['found']:.1f}")
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    return lines


# ---------------------------------------------------------------------------------------------
# 2. Speaker turns in conversations

TURNS = 24
PAIR_TYPES = ("different gender", "same gender", "different language")
CONVERSATIONS_PER_TYPE = 12
NOISE_DBFS = -65.0  # a faint steady floor in the gaps, so the detector meets no digital silence


@dataclass
class Conversation:
    kind: str
    speakers: tuple[str, str]
    signal: np.ndarray
    truth: list[tuple[float, float, str]]  # (start_s, end_s, speaker) of each turn
    emotions: list[str]


def trimmed(signal: np.ndarray) -> np.ndarray:
    """A clip from the start of its first speech region to the end of its last."""
    regions = speech_of(signal)
    if not regions:
        return signal
    return signal[int(regions[0][0] * SR) : int(regions[-1][1] * SR)]


def draw_pairs(clips: list[Clip], speakers: set[str], kind: str, n: int, rng) -> list[tuple[str, str]]:
    """`n` pairs of held-out speakers of the given kind (repeats allowed when there are few)."""
    info = {c.speaker: c for c in clips if c.speaker in speakers}
    names = sorted(info)
    candidates = []
    for a, b in itertools.combinations(names, 2):
        x, y = info[a], info[b]
        if kind == "different language":
            ok = x.language != y.language
        elif not (x.gender and y.gender) or x.corpus != y.corpus:
            ok = False
        else:
            ok = (x.gender != y.gender) == (kind == "different gender")
        if ok:
            candidates.append((a, b))
    chosen = rng.choice(len(candidates), size=n, replace=len(candidates) < n)
    return [candidates[i] for i in chosen]


def build_conversation(clips: list[Clip], pair: tuple[str, str], kind: str, rng) -> Conversation:
    """TURNS turns alternating between the pair, one clip each (no clip twice), gaps 0.3-0.7 s."""
    pools = {s: rng.permutation([i for i, c in enumerate(clips) if c.speaker == s]).tolist() for s in pair}
    pieces, truth, emotions, cursor = [], [], [], 0.0
    for turn in range(TURNS):
        speaker = pair[turn % 2]
        clip = clips[pools[speaker][(turn // 2) % len(pools[speaker])]]
        speech = trimmed(load_signal(clip.path))
        if turn:
            gap = rng.uniform(0.3, 0.7)
            pieces.append(np.zeros(int(gap * SR), np.float32))
            cursor += pieces[-1].shape[0] / SR
        pieces.append(speech)
        truth.append((cursor, cursor + speech.shape[0] / SR, speaker))
        emotions.append(clip.emotion)
        cursor += speech.shape[0] / SR
    signal = np.concatenate(pieces)
    signal = signal + rng.standard_normal(signal.shape[0]).astype(np.float32) * np.float32(10 ** (NOISE_DBFS / 20))
    return Conversation(kind, pair, signal.astype(np.float32), truth, emotions)


def merged_truth(truth, max_gap: float) -> list[tuple[float, float]]:
    """The true speech, turns closer than `max_gap` seconds joined (as a detector with a long
    closing time would): regions that hide some changes of speaker."""
    regions: list[list[float]] = []
    for a, b, _ in truth:
        if regions and a - regions[-1][1] < max_gap:
            regions[-1][1] = b
        else:
            regions.append([a, b])
    return [(a, b) for a, b in regions]


def attribution(truth, turns, duration: float) -> float:
    """Share of the true speech whose found voice is the true one, after the best one-to-one
    mapping of found voices to true ones (speech found as silence counts as wrong)."""
    n = int(np.ceil(duration / 0.01)) + 1
    ref_names = sorted({s for _, _, s in truth})
    hyp_names = sorted({t.speaker for t in turns})
    ref = np.full(n, -1)
    hyp = np.full(n, -1)
    for a, b, s in truth:
        ref[int(round(a / 0.01)) : int(round(b / 0.01))] = ref_names.index(s)
    for t in turns:
        hyp[int(round(t.start_s / 0.01)) : int(round(t.end_s / 0.01))] = hyp_names.index(t.speaker)
    speech = ref >= 0
    overlap = np.zeros((len(ref_names), max(1, len(hyp_names))))
    both = speech & (hyp >= 0)
    np.add.at(overlap, (ref[both], hyp[both]), 1)
    best = 0.0
    for perm in itertools.permutations(range(overlap.shape[1]), min(overlap.shape)):
        best = max(best, sum(overlap[r, h] for r, h in enumerate(perm)))
    return best / max(1, speech.sum())


def coverage(truth, regions) -> float:
    """Share of the true speech inside the speech regions: the most any voice attribution can reach."""
    inside = sum(max(0.0, min(b, y) - max(a, x)) for a, b, _ in truth for x, y in regions)
    return inside / sum(b - a for a, b, _ in truth)


def der(truth, turns, duration: float) -> float:
    """pyannote.metrics' diarisation error rate over the whole recording (no collar; missed
    speech, false alarm and confusion, over the true speech time)."""
    from pyannote.core import Annotation, Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    reference, hypothesis = Annotation(), Annotation()
    for i, (a, b, s) in enumerate(truth):
        reference[Segment(a, b), i] = s
    for i, t in enumerate(turns):
        hypothesis[Segment(t.start_s, t.end_s), i] = t.speaker
    metric = DiarizationErrorRate(collar=0.0, skip_overlap=False)
    return float(metric(reference, hypothesis, uem=Timeline([Segment(0, duration)])))


def emotion_of_splits(clips, embeddings, speakers, threshold, seed) -> dict[str, float]:
    """In one-speaker collections, the share of each emotion's clips put outside the speaker's
    main group at `threshold`: a split that follows emotion shows as uneven shares."""
    from ser.speakers import group_by_voice

    rng = np.random.default_rng(seed)
    moved: dict[str, list[float]] = {}
    for k, index in draw_collections(clips, speakers, rng):
        if k != 1:
            continue
        labels = group_by_voice(embeddings[index], threshold=threshold).labels
        main = np.bincount(labels).argmax()
        for i, label in zip(index, labels):
            moved.setdefault(clips[i].emotion, []).append(float(label != main))
    return {e: float(np.mean(v)) for e, v in sorted(moved.items())}


def build_conversations(clips, speakers, seed) -> list[Conversation]:
    rng = np.random.default_rng(seed)
    out = []
    for kind in PAIR_TYPES:
        for pair in draw_pairs(clips, speakers, kind, CONVERSATIONS_PER_TYPE, rng):
            out.append(build_conversation(clips, pair, kind, rng))
    names = sorted(s for s in speakers if sum(c.speaker == s for c in clips) >= TURNS)
    for s in rng.choice(names, CONVERSATIONS_PER_TYPE, replace=False):
        out.append(build_conversation(clips, (s, s), "one voice", rng))
    return out


REGION_SOURCES = ("detector", "true turns, gaps < 0.5 s joined")


def regions_of(conversation: Conversation, source: str) -> list[tuple[float, float]]:
    if source == "detector":
        return speech_of(conversation.signal)
    return merged_truth(conversation.truth, 0.5)


def embed_conversations(conversations, encoder, sources=REGION_SOURCES) -> list[dict]:
    """For each conversation, {region source: `SpeakerWindows`}: each recording embedded once,
    whatever settings are then tried on it."""
    from ser.speakers.turns import speaker_windows

    out = []
    for i, c in enumerate(conversations):
        out.append({source: speaker_windows(c.signal, regions_of(c, source), encoder=encoder) for source in sources})
        print(f"  embedded conversation {i + 1}/{len(conversations)}", file=sys.stderr, end="\r")
    return out


def run_conversations(conversations, windows, counts=("auto", "true"), with_der=True, **settings) -> list[dict]:
    """One row per conversation, region source and count (``"auto"`` or the true one), scored."""
    from ser.speakers.turns import turns_from_windows

    rows = []
    for i, (c, embedded) in enumerate(zip(conversations, windows)):
        duration = c.signal.shape[0] / SR
        true_count = len(set(c.speakers))
        for source, w in embedded.items():
            for count in counts:
                result = turns_from_windows(w, true_count if count == "true" else "auto", **settings)
                rows.append({
                    "kind": c.kind, "source": source, "count": count,
                    "covered": coverage(c.truth, w.regions),
                    "found": result.n_speakers, "right_count": float(result.n_speakers == true_count),
                    "attributed": attribution(c.truth, result.turns, duration),
                    "der": der(c.truth, result.turns, duration) if with_der else float("nan"),
                    "turns": result.turns, "conversation": i,
                })
    return rows


# ---------------------------------------------------------------------------------------------
# 2a. The nuisance projection and the automatic count, chosen on the tuning speakers

NUISANCE_KS = (0, 5, 10, 20, 30)  # directions projected out (0: raw embeddings)
MERGE_DISTANCES = (0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7)
MIN_GAPS = (0.0, 1.0, 1.2)  # a new voice's distance over the next split's (0: not asked)
RAW_MERGE_DISTANCE = 0.25  # the best merge distance without the projection in part 2a (tuning speakers; no gap)
NUISANCE_FILE = REPO / "src" / "ser" / "pretrained" / "speaker" / "nuisance.npz"


def labelled_windows(conversations, windows) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings [n, 256] of the detector-region windows lying inside one true turn, and the
    speaker [n] of each."""
    embeddings, speakers = [], []
    for c, embedded in zip(conversations, windows):
        w = embedded["detector"]
        for a, b, speaker in c.truth:
            inside = (w.times[:, 0] >= a - 0.05) & (w.times[:, 1] <= b + 0.05)
            embeddings.append(w.embeddings[inside])
            speakers += [speaker] * int(inside.sum())
    return np.concatenate(embeddings), np.asarray(speakers)


def tune_turns(conversations, windows, nuisance) -> dict:
    """Right voice of every tuning conversation (detector regions) for each number of nuisance
    directions and, with "auto", each merge distance and minimum gap:
    {(k, "true") or (k, merge distance, gap): rows}."""
    from ser.speakers.nuisance import Nuisance

    results = {}
    for k in NUISANCE_KS:
        projection = Nuisance(nuisance.mean, nuisance.directions[:, :k], nuisance.about) if k else False
        results[(k, "true")] = run_conversations(conversations, windows, ("true",), with_der=False, nuisance=projection)
        for distance, gap in itertools.product(MERGE_DISTANCES, MIN_GAPS):
            results[(k, distance, gap)] = run_conversations(conversations, windows, ("auto",), with_der=False,
                                                            nuisance=projection, merge_distance=distance, min_gap=gap)
        print(f"  tuned k={k}", file=sys.stderr)
    return results


def choose_turn_settings(results) -> tuple[int, float, float]:
    """The (k, merge distance, gap) with the most speech given to the right voice over all tuning
    conversations, with the count given and with "auto" together; ties go to fewer directions,
    the larger distance and the larger gap (merging preferred to splitting)."""
    def score(k, distance, gap):
        rows = results[(k, "true")] + results[(k, distance, gap)]
        return np.mean([r["attributed"] for r in rows])

    grid = list(itertools.product(NUISANCE_KS, MERGE_DISTANCES, MIN_GAPS))
    scores = {key: score(*key) for key in grid}
    best = max(scores.values())
    return min((key for key in grid if scores[key] >= best - 1e-9), key=lambda key: (key[0], -key[1], -key[2]))


def tuning_table(results) -> list[str]:
    def right(rows, kind=None):
        return np.mean([x["attributed"] for x in rows if kind is None or x["kind"] == kind])

    lines = ["| directions removed | count given: right voice (all / same gender) | auto: minimum gap | " + " | ".join(
        f"auto, merge {d}: right voice / right count" for d in MERGE_DISTANCES) + " |"]
    lines.append("|---" * (len(MERGE_DISTANCES) + 3) + "|")
    for k in NUISANCE_KS:
        given = results[(k, "true")]
        for gap in MIN_GAPS:
            cells = [f"{right(results[(k, d, gap)]):.3f} / {np.mean([x['right_count'] for x in results[(k, d, gap)]]):.2f}"
                     for d in MERGE_DISTANCES]
            lines.append(f"| {k} | {right(given):.3f} / {right(given, 'same gender'):.3f} | {gap} | " + " | ".join(cells) + " |")
    return lines


def conversation_table(rows) -> list[str]:
    lines = [
        "| pair | speech regions | speakers | right voice (mean / worst) | speech in regions | DER (mean) | voices found (mean) | right count |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind in PAIR_TYPES + ("one voice",):
        for source in REGION_SOURCES:
            for count in ("auto", "true"):
                r = [x for x in rows if x["kind"] == kind and x["source"] == source and x["count"] == count]
                if not r:
                    continue
                att = [x["attributed"] for x in r]
                told = "auto" if count == "auto" else ("1 (given)" if kind == "one voice" else "2 (given)")
                lines.append(
                    f"| {kind} | {source} | {told} | {np.mean(att):.3f} / {min(att):.3f} | {np.mean([x['covered'] for x in r]):.3f} "
                    f"| {np.mean([x['der'] for x in r]):.3f} "
                    f"| {np.mean([x['found'] for x in r]):.2f} | {np.mean([x['right_count'] for x in r]):.2f} |"
                )
    return lines


# ---------------------------------------------------------------------------------------------
# 3. Cost


def measure_cost(conversations, threads: int) -> dict[str, float]:
    """CPU and wall seconds of speaker_turns (embedding and clustering) on the detector's regions."""
    from ser.speakers import VoiceEncoder, speaker_turns

    encoder = VoiceEncoder.from_pretrained(threads=threads)
    speaker_turns(conversations[0].signal[: SR * 5], [(0.0, 5.0)], encoder=encoder)  # warm
    cpu = wall = audio = 0.0
    for c in conversations:
        regions = speech_of(c.signal)  # outside the timed region: the detector is not the speaker step
        t0, c0 = time.perf_counter(), time.process_time()
        speaker_turns(c.signal, regions, encoder=encoder)
        cpu += time.process_time() - c0
        wall += time.perf_counter() - t0
        audio += c.signal.shape[0] / SR
    return {"cpu": cpu, "wall": wall, "audio": audio}


# ---------------------------------------------------------------------------------------------
# 4. Emotion per turn: found turns against true turns (a segmentation comparison)


def turn_emotions(conversations, rows) -> dict[str, float]:
    """Accuracy of the shipped model's label for each true turn, predicted on the true turn's
    audio and on the found turn (auto and given count, detector regions) that overlaps it most."""
    from ser import Recognizer

    recognizer = Recognizer.from_pretrained()
    labels = set(recognizer.labels)
    hits: dict[str, list[float]] = {}
    for i, c in enumerate(conversations):
        if c.kind == "one voice":
            continue
        found = {x["count"]: x["turns"] for x in rows if x["conversation"] == i and x["source"] == "detector"}
        for (a, b, _), emotion in zip(c.truth, c.emotions):
            if emotion not in labels:
                continue
            spans = {"true turns": (a, b)}
            for count, turns in found.items():
                best = max(turns, key=lambda t: min(b, t.end_s) - max(a, t.start_s), default=None)
                if best is not None and min(b, best.end_s) > max(a, best.start_s):
                    spans[f"found turns ({'auto' if count == 'auto' else '2 given'})"] = (best.start_s, best.end_s)
            for name, (x, y) in spans.items():
                prediction = recognizer(c.signal[int(x * SR) : int(y * SR)], sr=SR)
                hits.setdefault(name, []).append(float(prediction.label == emotion))
    return {name: float(np.mean(v)) for name, v in hits.items()}


# ---------------------------------------------------------------------------------------------


def nuisance_part(clips, tune, encoder, args) -> list[str]:
    """Learn the nuisance projection on training conversations of the tuning speakers, choose
    its size and the automatic count's merge distance on other tuning conversations, and write
    the chosen projection to `NUISANCE_FILE`; the markdown section saying so."""
    from ser.speakers.nuisance import Nuisance
    from ser.speakers.turns import MERGE_DISTANCE, MIN_GAP

    training = [c for seed in (args.seed + 4, args.seed + 5) for c in build_conversations(clips, tune, seed)]
    embeddings, speakers = labelled_windows(training, embed_conversations(training, encoder, ("detector",)))
    about = {"learned_by": f"benchmarks/speakers.py --parts nuisance --seed {args.seed}",
             "data": f"{len(training)} conversations of the {len(tune)} tuning speakers of RAVDESS, EmoDB, TESS, URDU and "
                     "TurEV-DB (benchmarks/speakers.md), detector regions, windows inside one true turn"}
    full = Nuisance.learn(embeddings, speakers, max(NUISANCE_KS), about)
    tuning = [c for seed in (args.seed + 2, args.seed + 3) for c in build_conversations(clips, tune, seed)]
    results = tune_turns(tuning, embed_conversations(tuning, encoder, ("detector",)), full)
    k, distance, gap = choose_turn_settings(results)
    if k:
        Nuisance.learn(embeddings, speakers, k, about).save(NUISANCE_FILE)
    lines = [
        "## 2a. Settings of speaker turns, chosen on the tuning speakers",
        "",
        f"**Nuisance projection** (`ser.speakers.nuisance`): the leading directions of the within-speaker scatter of "
        f"{embeddings.shape[0]} windows of {len(training)} conversations built from the tuning speakers (as in part 2, "
        "other draws; detector regions; windows inside one true turn) are projected out of every window embedding "
        "before clustering, so that one speaker's moods weigh less than the differences between speakers. "
        f"**Chosen on {len(tuning)} other conversations of the tuning speakers** (detector regions): the number of "
        "directions and the automatic count's merge distance and minimum gap (`turns_from_windows`) with the most "
        "speech given to the right voice, count given and auto together: "
        f"**{k} directions, merge distance {distance}, minimum gap {gap}**; the projection with {k} directions is "
        f"written to `src/ser/pretrained/speaker/{NUISANCE_FILE.name}`, which the library ships and uses (the "
        f"library's defaults: merge distance {MERGE_DISTANCE}, minimum gap {MIN_GAP}).",
        "",
        *tuning_table(results),
        "",
    ]
    print("\n".join(lines))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default="grouping,nuisance,conversations,cost,emotions")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    sys.path.insert(0, str(REPO / "benchmarks"))
    from _machine import cpu_name
    from ser.files import atomic_write
    from ser.speakers import DEFAULT_THRESHOLD, VoiceEncoder

    clips = load_clips()
    tune, held = split_speakers(clips)
    encoder = VoiceEncoder.from_pretrained()
    out = [
        "# Speaker grouping and speaker turns (`ser.speakers`)",
        "",
        f"Written by `python benchmarks/speakers.py --parts {args.parts} --seed {args.seed}` on {cpu_name()}, "
        f"{len(os.sched_getaffinity(0))} cores. Speech regions of clips and conversations: {detector_name()}.",
        f"Speakers: {len(tune)} for choosing settings, {len(held)} held out for every number below "
        "(every other speaker of each corpus; no speaker on both sides).",
        "",
    ]
    if "grouping" in parts:
        embeddings = clip_embeddings(clips, encoder)
        results = run_grouping(clips, embeddings, tune, held, args.seed)
        chosen = choose_threshold(results)
        moved = emotion_of_splits(clips, embeddings, held, DEFAULT_THRESHOLD, args.seed)
        out += [
            "## 1. Grouping clips by voice (`group_by_voice`, for `--adapt auto`)",
            "",
            f"Collections of 1, 2, 4 or 8 speakers with up to {CLIPS_PER_SPEAKER} clips each (mixed emotions; "
            f"{TRIALS} collections per size), every clip embedded from its speech. Per cell: **split** = share of clips "
            "outside their speaker's largest group; **mixed** = share of clips in a group whose largest speaker is "
            "another; **exact** = share of collections grouped exactly by speaker; **found** = mean number of groups.",
            "",
            f"Threshold chosen on the tuning speakers (fewest split + mixed clips, the larger threshold on a tie): "
            f"**{chosen}**; the library's default is {DEFAULT_THRESHOLD}.",
            "",
            "Held-out speakers:",
            "",
            *grouping_table(results, "held-out"),
            "",
            "Tuning speakers (where the threshold was chosen):",
            "",
            *grouping_table(results, "tune"),
            "",
            f"One speaker's clips moved out of the speaker's main group at {DEFAULT_THRESHOLD} (held-out, one-speaker "
            "collections), by emotion: " + ", ".join(f"{e} {v:.3f}" for e, v in moved.items()) + ".",
            "",
        ]
        print("\n".join(out[-30:]))
    if "nuisance" in parts:
        out += nuisance_part(clips, tune, encoder, args)
    if parts & {"conversations", "cost", "emotions"}:
        conversations = build_conversations(clips, held, args.seed + 1)
        hours = sum(c.signal.shape[0] for c in conversations) / SR / 3600
    if "conversations" in parts or "emotions" in parts:
        windows = embed_conversations(conversations, encoder)
        rows = run_conversations(conversations, windows)
    if "conversations" in parts:
        out += [
            "## 2. Speaker turns in conversations (`speaker_turns`)",
            "",
            f"{CONVERSATIONS_PER_TYPE} conversations of each kind ({hours * 60:.0f} minutes in all), held-out speakers: "
            f"{TURNS} turns alternating between two voices (one clip per turn, cut to its speech, gaps 0.3-0.7 s "
            f"with a {NOISE_DBFS:.0f} dBFS noise floor); \"one voice\" is {TURNS} clips of one speaker. "
            "**different gender** and **same gender** pairs come from one corpus (RAVDESS, EmoDB, TESS or URDU); "
            "**different language** pairs from two corpora. **right voice**: share of the true speech given to the "
            "right voice after the best one-to-one mapping (speech left out counts as wrong); **speech in regions**: "
            "the share of the true speech inside the speech regions, the most that right voice can reach; **DER**: "
            "pyannote.metrics' diarisation error rate, no collar. Speech regions: the detector's, or the true turns "
            "with gaps under 0.5 s joined (so that about half the changes of speaker fall inside a region).",
            "",
            *conversation_table(rows),
            "",
            f"Without the nuisance projection (raw embeddings; merge distance {RAW_MERGE_DISTANCE} and no minimum gap, "
            "the best for raw embeddings in part 2a), detector regions:",
            "",
            *conversation_table([r for r in run_conversations(conversations, windows, nuisance=False, min_gap=0.0,
                                                              merge_distance=RAW_MERGE_DISTANCE) if r["source"] == "detector"]),
            "",
        ]
        print("\n".join(out[-30:]))
    if "cost" in parts:
        subset = [c for c in conversations if c.kind != "one voice"][:6]
        costs = {threads: measure_cost(subset, threads) for threads in (1, 2)}
        out += [
            "## 3. Cost of the speaker step",
            "",
            "`speaker_turns` on the detector's regions (mel frames, voice encoder on 1.6 s windows every 0.4 s, "
            f"grouping, labelling), {costs[1]['audio'] / 60:.1f} minutes of conversation; the detector itself is not "
            "counted. The machine was shared with other jobs while this ran, so CPU time is the figure to trust; wall "
            "time is an upper bound.",
            "",
            "| onnxruntime threads | CPU s per audio hour | audio s per CPU s | wall s per audio hour | x real time (wall) |",
            "|---|---|---|---|---|",
        ]
        for threads, c in costs.items():
            out.append(
                f"| {threads} | {c['cpu'] / c['audio'] * 3600:.0f} | {c['audio'] / c['cpu']:.0f} | "
                f"{c['wall'] / c['audio'] * 3600:.0f} | {c['audio'] / c['wall']:.0f} |"
            )
        out.append("")
        print("\n".join(out[-6:]))
    if "emotions" in parts:
        accuracy = turn_emotions(conversations, rows)
        out += [
            "## 4. Emotion per turn on found turns against true turns",
            "",
            "The shipped model (`Recognizer.from_pretrained()`) labels each true turn of the two-voice conversations "
            "(detector regions) from the true turn's audio, and from the found turn that overlaps it most. **The "
            "shipped model was trained on all speakers of these corpora**, so the accuracies are not a claim about "
            "unseen speakers; only the difference between the rows says something: what cutting turns by voice "
            "costs the emotion model.",
            "",
            "| turns | accuracy |",
            "|---|---|",
            *[f"| {name} | {value:.3f} |" for name, value in accuracy.items()],
            "",
        ]
        print("\n".join(out[-len(accuracy) - 2:]))
    if "conversations" in parts:
        out += ["## Goals of issue 17 (held-out speakers, detector regions)", ""]
        for kind, goal in (("different gender", 0.95), ("same gender", 0.85)):
            for count in ("true", "auto"):
                att = np.mean([x["attributed"] for x in rows if x["kind"] == kind and x["source"] == "detector" and x["count"] == count])
                told = "2 speakers given" if count == "true" else "auto"
                out.append(f"- {kind}, {told}: right voice {att:.3f} (goal >= {goal}): {'met' if att >= goal else 'not met'}")
        one = [x["right_count"] for x in rows if x["kind"] == "one voice" and x["source"] == "detector" and x["count"] == "auto"]
        out.append(f"- one voice, auto: found as one speaker in {np.mean(one):.2f} of the recordings (no numeric goal; "
                   "the issue asks for one speaker)")
        if "emotions" in parts:
            for name, value in accuracy.items():
                if name != "true turns":
                    gap = accuracy["true turns"] - value
                    out.append(f"- emotion per turn, {name}: {value:.3f} against {accuracy['true turns']:.3f} on true turns "
                               f"(goal: within 0.05): {'met' if gap <= 0.05 else 'not met'}")
        out.append("")
        print("\n".join(out[-7:]))
    with atomic_write(OUT) as handle:
        handle.write("\n".join(out).rstrip() + "\n")
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
