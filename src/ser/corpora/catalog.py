"""The corpus catalogue: everything ser knows about a corpus, in one entry per corpus.

An entry (`CorpusInfo`) says what the corpus is (title, language, licence, homepage), how its
files are laid out, which function reads it, and how to get it: either a `Download` that
``ser data download`` fetches, or ``apply``, the text that says where to apply for a corpus
released only on request. ``ser data corpora``, ``ser data index`` and ``ser data download``
all read this table; nothing about a corpus is written anywhere else.

    >>> from ser.corpora.catalog import CORPORA
    >>> CORPORA["ravdess"].homepage
    'https://zenodo.org/records/1188976'

Readers are imported only when an entry's ``prepare`` is first used, so listing the catalogue
stays cheap.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Archive:
    """One file to fetch and unpack into ``DIR/<into>``."""

    url: str
    filename: str
    into: str  # folder under DIR that receives the archive's content
    md5: str = ""
    sha256: str = ""
    size: int | None = None  # exact bytes, where the publisher states them
    size_note: str = ""  # what the publisher says about the size, for the user


@dataclass(frozen=True)
class FileSet:
    """Many files fetched one by one into ``DIR/<into>`` (a Git LFS repository has no archive).

    The file list comes from a GitHub tree listing (JSON); each path matching `select` is
    fetched from ``raw_base + path``, as are `extra_paths`.
    """

    listing_url: str
    listing_filename: str  # the listing's name under a mirror
    raw_base: str
    select: str  # regular expression over repository paths
    into: str
    extra_paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class Download:
    """What ``ser data download`` fetches for a corpus, and which folder to index afterwards."""

    index_root: str  # folder under DIR to pass to ``ser data index``
    archives: tuple[Archive, ...] = ()
    files: FileSet | None = None  # for corpora published file by file
    expected_audio: int | None = None  # audio files the full corpus holds
    note: str = ""


@dataclass(frozen=True)
class CorpusInfo:
    """One corpus: what it is, how it is laid out, who reads it, and how to get it.

    reader : ``"module:function"`` under ``ser.corpora``, e.g. ``"ravdess:prepare_ravdess"``.
    download : how ser fetches it, or None.
    apply : where and how to get a corpus ser cannot fetch (registration, licence form).
    """

    name: str  # the CLI name, e.g. "ravdess"
    title: str
    language: str  # ISO 639-1, "multi", or "" (any)
    layout: str  # the folder layout and file naming the reader expects
    licence: str
    reader: str
    homepage: str = ""
    download: Download | None = None
    apply: str = ""

    @property
    def prepare(self) -> Callable:
        """The reader function, ``prepare(root, **options) -> CorpusIndex``."""
        module, function = self.reader.split(":")
        return getattr(importlib.import_module(f"ser.corpora.{module}"), function)

    @property
    def non_commercial(self) -> bool:
        return is_non_commercial(self.licence)


def is_non_commercial(licence: str) -> bool:
    """Whether a licence text forbids commercial use (NC licences, research-only terms)."""
    return bool(re.search(r"\bNC\b|non-?commercial|research(?: use)? only|for research", licence, re.IGNORECASE))


def _emovdb_archives() -> tuple[Archive, ...]:
    parts = {
        "bea": ("Amused", "Angry", "Disgusted", "Neutral", "Sleepy"),
        "jenie": ("Amused", "Angry", "Disgusted", "Neutral", "Sleepy"),
        "josh": ("Amused", "Neutral", "Sleepy"),
        "sam": ("Amused", "Angry", "Disgusted", "Neutral", "Sleepy"),
    }
    # The tarballs hold bare files (amused_1-15_0001.wav); the folder name keeps who speaks.
    return tuple(
        Archive(
            url=f"https://www.openslr.org/resources/115/{speaker}_{style}.tar.gz",
            filename=f"{speaker}_{style}.tar.gz",
            into=f"EmoV-DB/{speaker}_{style}",
        )
        for speaker, styles in parts.items()
        for style in styles
    )


_ENTRIES = (
    CorpusInfo(
        name="ravdess",
        title="RAVDESS (Ryerson Audio-Visual Database of Emotional Speech and Song), speech",
        language="en",
        layout="Actor_NN/03-01-EE-II-SS-RR-AA.wav (any depth); song files with include_song=True",
        licence="CC BY-NC-SA 4.0 (non-commercial)",
        reader="ravdess:prepare_ravdess",
        homepage="https://zenodo.org/records/1188976",
        download=Download(
            index_root="RAVDESS",
            archives=(
                Archive(
                    url="https://zenodo.org/records/1188976/files/Audio_Speech_Actors_01-24.zip?download=1",
                    filename="Audio_Speech_Actors_01-24.zip",
                    into="RAVDESS",
                    md5="bc696df654c87fed845eb13823edef8a",
                    size_note="208.5 MB (Zenodo lists the MD5)",
                ),
            ),
            expected_audio=1440,
        ),
    ),
    CorpusInfo(
        name="cremad",
        title="CREMA-D (Crowd-sourced Emotional Multimodal Actors Dataset), audio",
        language="en",
        layout="AudioWAV/1001_DFA_ANG_XX.wav, optional VideoDemographics.csv beside AudioWAV/ for gender",
        licence="Open Database License (ODbL) 1.0; contents under the Database Contents License",
        reader="cremad:prepare_cremad",
        homepage="https://github.com/CheyneyComputerScience/CREMA-D",
        download=Download(
            index_root="CREMA-D",
            files=FileSet(
                listing_url="https://api.github.com/repos/CheyneyComputerScience/CREMA-D/git/trees/master?recursive=1",
                listing_filename="CREMA-D-tree.json",
                # github.com/<repo>/raw/ resolves Git LFS pointers to the audio itself
                raw_base="https://github.com/CheyneyComputerScience/CREMA-D/raw/master/",
                select=r"AudioWAV/[^/]+\.wav",
                into="CREMA-D",
                extra_paths=("VideoDemographics.csv",),
            ),
            expected_audio=7442,
            note="7442 WAV files fetched one by one from Git LFS (about 600 MB); no checksums published",
        ),
    ),
    CorpusInfo(
        name="tess",
        title="TESS (Toronto Emotional Speech Set; Dupuis & Pichora-Fuller 2010)",
        language="en",
        layout="<OAF|YAF>_<emotion>/<SPK>_<word>_<emotion>.wav (folder names may differ in case)",
        licence="CC BY-NC-ND 4.0 (non-commercial)",
        reader="tess:prepare_tess",
        homepage="https://doi.org/10.5683/SP2/E8H2MF",
        download=Download(
            index_root="TESS",
            archives=(
                Archive(
                    url="https://borealisdata.ca/api/access/dataset/:persistentId/?persistentId=doi:10.5683/SP2/E8H2MF",
                    filename="TESS.zip",
                    into="TESS",
                    size_note="about 430 MB; zipped on request by Dataverse, so no checksum and no resume",
                ),
            ),
            expected_audio=2800,
        ),
    ),
    CorpusInfo(
        name="savee",
        title="SAVEE (Surrey Audio-Visual Expressed Emotion)",
        language="en",
        layout="AudioData/<DC|JE|JK|KL>/<a|d|f|h|n|sa|su><NN>.wav, or flattened ALL/DC_a01.wav",
        licence="free for research (registration with the University of Surrey)",
        reader="savee:prepare_savee",
        homepage="http://kahlan.eps.surrey.ac.uk/savee/",
        apply=(
            "SAVEE needs a (free, research-only) registration at http://kahlan.eps.surrey.ac.uk/savee/ ;\n"
            "download AudioData.zip with the password you are sent, unzip it, then:\n"
            "  ser data index savee AudioData -o manifest.csv"
        ),
    ),
    CorpusInfo(
        name="emodb",
        title="EmoDB (Berlin Database of Emotional Speech; Burkhardt et al. 2005)",
        language="de",
        layout="wav/03a01Fa.wav (speaker, text, emotion letter, version)",
        licence="free for research use (non-commercial); cite Burkhardt et al. 2005",
        reader="emodb:prepare_emodb",
        homepage="http://emodb.bilderbar.info/",
        download=Download(
            index_root="EmoDB",
            archives=(
                Archive(
                    url="http://emodb.bilderbar.info/download/download.zip",
                    filename="emodb-download.zip",
                    into="EmoDB",
                    size_note="about 40 MB; no checksum published",
                ),
            ),
            expected_audio=535,
        ),
    ),
    CorpusInfo(
        name="urdu",
        title="URDU (spontaneous Urdu emotional speech from TV talk shows)",
        language="ur",
        layout="<Angry|Happy|Neutral|Sad>/SM4_F18_A070.wav (gender and speaker in the name)",
        licence="research use only",
        reader="urdu:prepare_urdu",
        homepage="https://github.com/siddiquelatif/URDU-Dataset",
        apply="URDU: https://github.com/siddiquelatif/URDU-Dataset ; then: ser data index urdu URDU -o manifest.csv",
    ),
    CorpusInfo(
        name="turevdb",
        title="TurEV-DB (Turkish Emotion-Voice Database)",
        language="tr",
        layout="Sound Source/<Angry|Calm|Happy|Sad>/1234_sk_pamuk.wav (speaker, emotion code, word)",
        licence="CC BY-NC-ND 4.0",
        reader="turevdb:prepare_turevdb",
        homepage="https://github.com/Xeonen/TurEV-DB",
        apply="TurEV-DB: https://github.com/Xeonen/TurEV-DB ; then: ser data index turevdb TurEV-DB -o manifest.csv",
    ),
    CorpusInfo(
        name="nemo",
        title="nEMO, emotional speech in Polish (Christop 2024)",
        language="pl",
        layout="samples/<SPK>_<emotion>_<N>.wav and data.tsv (speaker, gender, text) beside samples/",
        licence="CC BY-NC-SA 4.0 (non-commercial)",
        reader="nemo:prepare_nemo",
        homepage="https://github.com/amu-cai/nEMO",
        download=Download(
            index_root="nEMO",
            archives=(
                Archive(
                    url="https://github.com/amu-cai/nEMO/archive/HEAD.zip",
                    filename="nEMO-HEAD.zip",
                    into="nEMO",
                    size_note="a snapshot of the GitHub repository; no checksum published",
                ),
            ),
            expected_audio=4481,
        ),
    ),
    CorpusInfo(
        name="baved",
        title="BAVED (Basic Arabic Vocal Emotions Dataset), arousal levels",
        language="ar",
        layout="<0..6>/<speaker>-<m|f>-<age>-<word>-<level>-<record>.wav; emotion 'other', arousal in extra",
        licence="as stated in its GitHub repository; cite the authors",
        reader="baved:prepare_baved",
        homepage="https://github.com/40uf411/Basic-Arabic-Vocal-Emotions-Dataset",
        download=Download(
            index_root="BAVED",
            archives=(
                Archive(
                    url="https://github.com/40uf411/Basic-Arabic-Vocal-Emotions-Dataset/archive/HEAD.zip",
                    filename="BAVED-HEAD.zip",
                    into="BAVED",
                    size_note="about 100 MB; a snapshot of the GitHub repository; no checksum published",
                ),
            ),
            expected_audio=1935,
        ),
    ),
    CorpusInfo(
        name="esd",
        title="ESD (Emotional Speech Dataset; Zhou et al. 2021), Mandarin and English",
        language="multi",
        layout="<0001..0020>/<Angry|Happy|Neutral|Sad|Surprise>/[train|test|evaluation/]<spk>_<NNNNNN>.wav",
        licence="research use only (see the dataset's README)",
        reader="esd:prepare_esd",
        homepage="https://github.com/HLTSingapore/Emotional-Speech-Data",
        apply=(
            "ESD (Zhou et al. 2021) is released on signing its licence agreement:\n"
            "see https://github.com/HLTSingapore/Emotional-Speech-Data ; then:\n"
            "  ser data index esd 'Emotional Speech Dataset (ESD)' -o manifest.csv"
        ),
    ),
    CorpusInfo(
        name="jl",
        title="JL-Corpus (New Zealand English, primary and secondary emotions)",
        language="en",
        layout="<speaker>_<emotion>_<sentence><session>_<take>.wav (+ .txt prompt), e.g. female1_angry_1a_1.wav",
        licence="CC0 1.0 (as published on Kaggle by the authors)",
        reader="jl:prepare_jl",
        homepage="https://www.kaggle.com/datasets/tli725/jl-corpus",
        apply=(
            "JL-Corpus is on Kaggle (a free account is needed): https://www.kaggle.com/datasets/tli725/jl-corpus\n"
            "  kaggle datasets download -d tli725/jl-corpus && unzip jl-corpus.zip -d JL\n"
            "  ser data index jl JL -o manifest.csv   (the archive's duplicate lower-case tree is skipped)"
        ),
    ),
    CorpusInfo(
        name="emovdb",
        title="EmoV-DB, the Emotional Voices Database (Adigwe et al. 2018), OpenSLR 115",
        language="en",
        layout="<speaker>_<Style>/<style>_<range>_<NNNN>.wav (OpenSLR 115), or <speaker>/<Style>/...",
        licence="research use only (no licence stated upstream; cite Adigwe et al. 2018)",
        reader="emovdb:prepare_emovdb",
        homepage="https://www.openslr.org/115/",
        download=Download(
            index_root="EmoV-DB",
            archives=_emovdb_archives(),
            note="18 archives, one per speaker and style; OpenSLR publishes no checksums",
        ),
    ),
    CorpusInfo(
        name="asvp",
        title="ASVP-ESD, speech and non-speech emotional sound (multilingual, in the wild)",
        language="multi",
        layout="actor_NN/MM-VV-EE-II-SS-AA-GG-RR-LL[-CC][-77|-66].wav (RAVDESS-like, more fields)",
        licence="as stated on its Zenodo record (cite Landry et al.); check before commercial use",
        reader="asvp:prepare_asvp",
        homepage="https://zenodo.org/records/5573185",
        apply=(
            "ASVP-ESD is on Zenodo: https://zenodo.org/records/5573185 (see there for the newest version);\n"
            "download and unzip it, then: ser data index asvp ASVP-ESD-Update -o manifest.csv"
        ),
    ),
    CorpusInfo(
        name="iemocap",
        title="IEMOCAP (Interactive Emotional Dyadic Motion Capture; Busso et al. 2008), 5 sessions",
        language="en",
        layout="Session1-5/sentences/wav/<dialog>/<utterance>.wav and Session1-5/dialog/EmoEvaluation/<dialog>.txt; "
        "4 classes (excited folded into happy), arousal/valence/dominance",
        licence="IEMOCAP release agreement (research use only, on request from USC SAIL)",
        reader="iemocap:prepare_iemocap",
        homepage="https://sail.usc.edu/iemocap/",
        apply=(
            "IEMOCAP is released by USC SAIL on request: fill in the release form at\n"
            "https://sail.usc.edu/iemocap/iemocap_release.htm ; unpack IEMOCAP_full_release, then:\n"
            "  ser data index iemocap IEMOCAP_full_release -o iemocap.csv\n"
            "  ser data split iemocap.csv --protocol leave-one-session-out -o iemocap-folds.csv"
        ),
    ),
    CorpusInfo(
        name="msppodcast",
        title="MSP-Podcast (Lotfian & Busso 2019): podcast speech, categorical and dimensional labels",
        language="en",
        layout="Audios/<FileName>.wav and Labels/labels_consensus.csv (EmoClass, EmoAct, EmoVal, EmoDom, Split_Set)",
        licence="MSP-Podcast academic licence (research use only; a commercial licence is sold separately)",
        reader="msppodcast:prepare_msppodcast",
        homepage="https://ecs.utdallas.edu/research/researchlabs/msp-lab/MSP-Podcast.html",
        apply=(
            "MSP-Podcast is released by the MSP lab (UT Dallas) after signing its academic licence:\n"
            "https://ecs.utdallas.edu/research/researchlabs/msp-lab/MSP-Podcast.html ; unpack it, then:\n"
            "  ser data index msppodcast MSP-PODCAST-Publish-1.12 -o msp.csv\n"
            "  ser data split msp.csv --protocol official -o msp-split.csv"
        ),
    ),
    CorpusInfo(
        name="folder",
        title="Any corpus laid out as a folder per label",
        language="multi",
        layout="<label>/[<speaker>/]<file>; label names mapped with label_map",
        licence="the corpus' own",
        reader="generic:prepare_folder",
    ),
    CorpusInfo(
        name="csv",
        title="Any corpus listed in a CSV or TSV table",
        language="multi",
        layout="a table with path and label columns, optional speaker, gender, language, text",
        licence="the corpus' own",
        reader="generic:prepare_csv",
    ),
    CorpusInfo(
        name="pattern",
        title="Any corpus named by a pattern (regular expression over file stems)",
        language="",
        layout="any files whose stems match --regex with named groups label, speaker, gender, intensity, text",
        licence="that of the corpus you import",
        reader="pattern:prepare_pattern",
    ),
)

CORPORA: dict[str, CorpusInfo] = {entry.name: entry for entry in _ENTRIES}
