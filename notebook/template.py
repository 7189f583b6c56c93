# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---
# ruff: noqa: E402  (each notebook cell imports what it uses, where it uses it)

# %% [markdown]
# # Train your Transformer Builder model
#
# Open this notebook in Colab, pick a GPU (**Runtime → Change runtime type → T4 GPU** or better),
# fill the **Settings** form below and choose **Runtime → Run all**. You get a trained model, a
# text sample and a downloadable bundle (ONNX + tokenizer + model card).
#
# Everything the run produces lives in one run folder on your Google Drive
# (`MyDrive/transformer-builder/<RUN_NAME>`). If Colab disconnects, open the notebook again and
# **Run all**: training resumes from the last checkpoint in that folder.
#
# This file is generated from `notebook/template.py` by `nox -s notebook`; edit that file, not
# the notebook.

# %%
# @title 1. Install the training stack (leaves Colab's torch and numpy alone) { display-mode: "form" }
import importlib.metadata as metadata
import re
import subprocess
import sys
import tempfile
from json import loads as read_json

# Leave the optional field empty: the released packages come from PyPI at the versions below.
# Only to test unreleased work: a git URL and branch of this repository,
# like https://github.com/<owner>/<repo>@<branch> (the four packages are then built from it).
optional_install_from_git_url_and_branch = ""  # @param {type:"string"}

# The lines of requirements-colab.txt, copied by notebook_tests/notebook_build.py --write.
REQUIREMENTS = """
model-adapter==0.3.0
adaptive-tokenizer==0.2.0
lightning-pipeline[notebook]==0.3.1
model-export==0.3.0
pytorch-lightning==2.6.6
lightning-utilities==0.15.3
torchmetrics==1.9.0
onnx==1.22.0
onnxruntime==1.32.0
onnxscript==0.7.2
onnx-ir==1.1.0
jedi==0.20.1
overrides==7.7.0
"""
STACK = ("model-adapter", "adaptive-tokenizer", "lightning-pipeline", "model-export")
KEEP = ("torch", "numpy")  # never reinstalled: pinned to what the runtime has
SHOW = (
    "torch",
    "numpy",
    "transformers",
    "tokenizers",
    "datasets",
    "pytorch-lightning",
    "onnx",
    "onnxruntime",
    *STACK,
)


def _installed(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _installed_from_git(name):
    """`git+URL@REF` an installed package was built from, or None (installed from an index, or absent)."""
    try:
        info = read_json(metadata.distribution(name).read_text("direct_url.json") or "{}")
    except metadata.PackageNotFoundError:
        return None
    vcs = info.get("vcs_info")
    return f"git+{info['url']}@{vcs.get('requested_revision')}" if vcs else None


git_source = optional_install_from_git_url_and_branch.strip()
if git_source and not git_source.startswith("git+"):
    git_source = f"git+{git_source}"
if git_source and not re.match(r"git\+(https?|ssh)://[^@\s]+(\.git)?@[^@\s]+$", git_source):
    raise ValueError(
        f"optional_install_from_git_url_and_branch: {optional_install_from_git_url_and_branch!r} is "
        "not URL@branch; write it like https://github.com/<owner>/<repo>@<branch>, or leave it empty"
    )
lines = [line.strip() for line in REQUIREMENTS.splitlines() if line.strip()]
wanted = {}  # requirement line -> is it installed as asked?
for line in lines:
    name, version = re.match(r"([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==(\S+)", line).groups()
    if git_source and name in STACK:
        line = f"{line.split('==')[0]} @ {git_source}#subdirectory=packages/{name}"
        wanted[line] = _installed_from_git(name) == git_source
    else:
        wanted[line] = _installed(name) == version and (
            name not in STACK or _installed_from_git(name) is None
        )
missing = [line for line, ok in wanted.items() if not ok]
imported = {
    dist
    for module, dists in metadata.packages_distributions().items()
    if module in sys.modules
    for dist in dists
}
before = {dist: _installed(dist) for dist in imported}
if missing:
    # One of the four installed from elsewhere at the same version would be left in place by pip.
    stale = [
        name
        for name in STACK
        if _installed(name) and any(line.startswith(name) for line in missing)
    ]
    if stale:
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "-q", "-y", *stale], check=True)
    print(f"Installing {len(missing)} packages (torch and numpy stay as they are)...")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as keep:
        keep.write("\n".join(f"{name}=={_installed(name)}" for name in KEEP if _installed(name)))
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "-c", keep.name, *missing],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        print(result.stdout[-3000:], result.stderr[-3000:])
        raise RuntimeError(
            "The install failed (pip's message is above). What to do: Runtime → Disconnect and delete "
            "runtime, then Run all again; if it fails the same way, report pip's message."
        )
else:
    print("Everything is installed already.")
for name in SHOW:
    print(
        f"  {name:<20} {_installed(name) or '-'}"
        + (f"  from {_installed_from_git(name)}" if _installed_from_git(name) else "")
    )
changed = sorted(dist for dist, version in before.items() if _installed(dist) != version)
if changed:
    raise RuntimeError(
        f"Already imported packages changed ({', '.join(changed)}). What to do: Runtime → Restart session, "
        "then Run all again (the install is then skipped)."
    )

# %% [markdown]
# ## 2. Settings
# Colab shows these as a form. `MODEL_SOURCE`: the bundled example, a GitHub Gist ID (what
# Transformer Builder's "Export to Colab" gives you) or files you upload (model.py + config.json).
# `DATA_SOURCE`: the built-in example text, a Hugging Face Hub dataset, a file you upload, or a
# file on your Drive.

# %% tags=["parameters"]
# @title 2. Settings { display-mode: "form" }
RUN_NAME = "my-first-model"  # @param {type:"string"}
MODEL_SOURCE = "example"  # @param ["example", "gist", "upload"]
GIST_ID = ""  # @param {type:"string"}
DATA_SOURCE = "example"  # @param ["example", "hub", "upload", "drive"]
HUB_DATASET = "karpathy/tiny_shakespeare"  # @param {type:"string"}
DRIVE_DATA_PATH = ""  # @param {type:"string"}
TEXT_COLUMN = ""  # @param {type:"string"}
TOKENIZER = "auto"  # @param ["auto", "pretrained", "bpe", "character"]
PRESET = "small"  # @param ["quick-check", "small", "full"]
MAX_STEPS = 0  # @param {type:"integer"}
SAMPLE_PROMPT = "The"  # @param {type:"string"}
TEMPERATURE = 0.8  # @param {type:"number"}
TOP_P = 0.95  # @param {type:"number"}
REPETITION_PENALTY = 1.1  # @param {type:"number"}
NUM_SAMPLES = 2  # @param {type:"integer"}
USE_DRIVE = True  # @param {type:"boolean"}
# Not in the form: where things go, and the sizes CI overrides for its tiny CPU run.
DRIVE_MOUNTPOINT = "/content/drive"
LOCAL_ROOT = "/content"
SEQ_LEN = 0  # 0: the preset's (capped at the model's max_seq_len)
BATCH_SIZE = 0  # 0: the preset's
SAMPLE_TOKENS = 60
EXPORT_FORMATS = "onnx"
QUANTIZE = "int8"

# %%
# @title 3. Run folder (on Google Drive when available) { display-mode: "form" }
import json
from pathlib import Path

from lightning_pipeline import mount_drive
from lightning_pipeline.colab import colab_available

if USE_DRIVE and colab_available():
    root = mount_drive(DRIVE_MOUNTPOINT) / "transformer-builder"
else:
    root = Path(LOCAL_ROOT) / "transformer-builder"
    print(
        "Drive is not used: the run lives on this runtime's disk and is lost when it is recycled."
    )
WORK = root / RUN_NAME
WORK.mkdir(parents=True, exist_ok=True)
SETUP = WORK / "setup.json"  # every choice the later cells need, so any cell can be re-run alone
print(f"Run folder: {WORK}")

# %%
# @title 4. Model: load and validate (Tier 1) { display-mode: "form" }
from IPython.display import display

from lightning_pipeline import upload_files
from lightning_pipeline.model_check import quick_check
from model_adapter import ModelAdapterError, example_export_path, load_model

if MODEL_SOURCE == "example":
    model_source = str(example_export_path())
elif MODEL_SOURCE == "gist":
    if not GIST_ID.strip():
        raise ValueError(
            "MODEL_SOURCE is 'gist' but GIST_ID is empty. What to do: paste the Gist ID from "
            "Transformer Builder's Export to Colab into the Settings form, then Run all."
        )
    model_source = GIST_ID.strip()
else:
    model_folder = WORK / "inputs" / "model"
    if not (model_folder / "model.py").exists():
        print("Choose model.py and config.json:")
        upload_files(model_folder)
    model_source = str(model_folder)
try:
    loaded = load_model(model_source)
except ModelAdapterError as error:
    raise RuntimeError(
        f"{error}\nWhat to do: fix the source in the Settings form (or re-export the model), "
        "then run this cell again."
    ) from None
report, problem = quick_check(loaded.model, loaded.config)  # the check training runs first
display(report)
SETUP.write_text(
    json.dumps({"model": model_source, "model_config": loaded.config.to_dict()}, indent=2)
)
if problem is not None:
    raise RuntimeError(
        f"{problem} (report above)\nWhat to do: apply the hint of the failed check "
        "(docs/TROUBLESHOOTING.md lists each), then run this cell again."
    )
del loaded  # the training cell loads it again from the same source; nothing is kept in the notebook

# %%
# @title 5. Tokenizer: one that fits the model's vocab size exactly { display-mode: "form" }
from adaptive_tokenizer import AdaptiveTokenizer

setup = json.loads(SETUP.read_text())
vocab_size = setup["model_config"]["vocab_size"]
choice = AdaptiveTokenizer.detect_strategy(vocab_size)
strategy = TOKENIZER if TOKENIZER != "auto" else choice.strategy.value
print(
    f"Model vocab size {vocab_size}: tokenizer strategy '{strategy}'"
    + (f" ({choice.reason})" if TOKENIZER == "auto" else " (chosen in Settings)")
)
SETUP.write_text(json.dumps({**setup, "tokenizer_strategy": TOKENIZER}, indent=2))
print(
    "The tokenizer is built (or reused from the run folder) when training starts, from the data below."
)

# %%
# @title 6. Dataset { display-mode: "form" }
from lightning_pipeline import LightningPipelineError, load_text_dataset

if DATA_SOURCE == "example":
    data_source = "example"
elif DATA_SOURCE == "hub":
    data_source = HUB_DATASET.strip()
elif DATA_SOURCE == "drive":
    data_source = DRIVE_DATA_PATH.strip()
else:
    data_folder = WORK / "inputs" / "data"
    if not data_folder.exists() or not any(data_folder.iterdir()):
        print("Choose your text files (.txt, .csv, .jsonl or .parquet):")
        upload_files(data_folder)
    data_source = str(data_folder)
try:
    dataset = load_text_dataset(data_source, text_column=TEXT_COLUMN or None)
except LightningPipelineError as error:
    raise RuntimeError(
        f"{error}\nWhat to do: fix DATA_SOURCE / the path in the Settings form, then run this "
        "cell again."
    ) from None
SETUP.write_text(json.dumps({**json.loads(SETUP.read_text()), "data": data_source}, indent=2))
print(f"{len(dataset):,} texts; the first one starts: {dataset[0]['text'][:200]!r}")
del dataset

# %%
# @title 7. Train (resumes automatically from the run folder's last checkpoint) { display-mode: "form" }
from lightning_pipeline import RunFolder, TrainingConfig, train
from lightning_pipeline.model_check import fit_seq_len
from lightning_pipeline.wizard import PRESETS

setup = json.loads(SETUP.read_text())
settings = dict(PRESETS[PRESET])
for name, value in {"max_steps": MAX_STEPS, "seq_len": SEQ_LEN, "batch_size": BATCH_SIZE}.items():
    if value:
        settings[name] = value
settings["seq_len"] = fit_seq_len(settings["seq_len"], setup["model_config"].get("max_seq_len"))
config = TrainingConfig(
    model=setup["model"],
    data=setup["data"],
    out=str(WORK / "run"),
    text_column=TEXT_COLUMN or None,
    tokenizer_strategy=setup["tokenizer_strategy"],
    **settings,
)
checkpoint = (
    RunFolder(config.out).latest_valid_checkpoint() if RunFolder(config.out).exists() else None
)
print(f"Resuming from {checkpoint.name}" if checkpoint else "Starting a new run")
try:
    result = train(config)
except LightningPipelineError as error:
    raise RuntimeError(
        f"{error}\nWhat to do: follow the message, then run this cell again; finished steps are "
        "kept in the run folder and training resumes from them."
    ) from None
if result.status == "completed":
    print(
        f"Done: step {result.global_step:,}, validation loss {result.val_loss:.3f} "
        f"(perplexity {result.val_perplexity:.1f}). Run folder: {result.run_dir}"
    )
else:
    print(f"Stopped at step {result.global_step:,}: run this cell again to continue from there.")

# %%
# @title 8. A text sample from the trained model { display-mode: "form" }
# The same sampling (and, for the same seed, the same tokens) as `lightning-pipeline generate` and
# the bundle's inference.py.
from lightning_pipeline import generate_samples

for number, sample in enumerate(
    generate_samples(
        WORK / "run",
        SAMPLE_PROMPT,
        max_new_tokens=SAMPLE_TOKENS,
        temperature=TEMPERATURE,
        top_k=50,
        top_p=TOP_P,
        repetition_penalty=REPETITION_PENALTY,
        num_samples=NUM_SAMPLES,
        seed=0,
    ),
    1,
):
    print(
        f"--- sample {number} ({len(sample.token_ids)} new tokens, stopped at {sample.stop_reason}) ---"
    )
    print(SAMPLE_PROMPT + sample.text)

# %%
# @title 8b. Look inside the trained model (Tier 2 analysis) { display-mode: "form" }
from IPython.display import display
from transformers import AutoTokenizer

from lightning_pipeline import load_text_dataset
from model_adapter import analyze_model

setup = json.loads(SETUP.read_text())
probe_texts, probe_chars = [], 0
for row in load_text_dataset(setup["data"], text_column=TEXT_COLUMN or None):
    probe_texts.append(row["text"])
    probe_chars += len(row["text"])
    if probe_chars > 20_000:
        break
analysis = analyze_model(
    WORK / "run",
    texts=probe_texts,
    tokenizer=AutoTokenizer.from_pretrained(WORK / "run" / "tokenizer"),
    batch_size=8,
)
analysis.to_html(WORK / "run" / "analysis.html")
print(analysis.to_text())
display(analysis)  # the same page, in a frame
print(f"The page is saved as {WORK / 'run' / 'analysis.html'}")

# %%
# @title 9. Export: ONNX (+ int8) with measured parity, tokenizer and model card { display-mode: "form" }
from model_export import ModelExportError, build_bundle, load_source

bundle_dir = WORK / "bundle"
if bundle_dir.exists() and any(bundle_dir.iterdir()):
    print(f"{bundle_dir} exists already; delete it to export again.")
else:
    formats = tuple(f for f in EXPORT_FORMATS.split(",") if f)
    quantize = tuple(q for q in QUANTIZE.split(",") if q)
    try:
        bundle = build_bundle(
            load_source(WORK / "run", tokenizer=WORK / "run" / "tokenizer"),
            bundle_dir,
            formats=formats,
            quantize=quantize,
        )
    except ModelExportError as error:
        raise RuntimeError(
            f"{error}\nWhat to do: follow the message (EXPORT_FORMATS='onnx' alone is the most "
            "robust choice), then run this cell again."
        ) from None
    print("\n".join(f"  {name}" for name in bundle.files))

# %%
# @title 10. Download the bundle { display-mode: "form" }
import shutil

archive = shutil.make_archive(str(WORK / "bundle"), "zip", WORK / "bundle")
try:
    from google.colab import files
except ImportError:
    print(f"Bundle archive: {archive}")
else:
    files.download(archive)
    print(f"Downloading {Path(archive).name}; a copy stays at {archive}")
