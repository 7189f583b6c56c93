"""Behaviour seen from outside: plain AutoTokenizer loading, import hygiene, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from adaptive_tokenizer import AdaptiveTokenizer, KnownTokenizer

PYTHON = sys.executable


def _run(code: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run(
        [PYTHON, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )


def _cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run(
        [PYTHON, "-m", "adaptive_tokenizer", *args],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=cwd,
    )


def test_import_loads_neither_torch_nor_transformers():
    result = _run("""
        import sys, adaptive_tokenizer
        print(sorted(m for m in ("torch", "transformers", "tokenizers", "huggingface_hub") if m in sys.modules))
    """)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_building_and_using_a_tokenizer_never_imports_torch():
    result = _run("""
        import sys
        from adaptive_tokenizer import AdaptiveTokenizer
        tok = AdaptiveTokenizer.load_or_create(300, ["the king and the queen"] * 200, show_progress=False)
        tok(["a", "bb"], padding=True, return_tensors="np")
        tok = AdaptiveTokenizer.load_or_create(40, ["abc"])
        print(len(tok), "torch" in sys.modules)
    """)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["40", "False"]


def test_every_tier_loads_in_plain_autotokenizer(tmp_path, corpus, gpt2_like, unicode_lines):
    folder, size = gpt2_like
    built = {
        "bpe": AdaptiveTokenizer.load_or_create(700, corpus, show_progress=False),
        "character": AdaptiveTokenizer.load_or_create(150, corpus, strategy="character"),
        "pretrained": AdaptiveTokenizer.load_or_create(
            size + 3, known_tokenizers={size + 3: KnownTokenizer(size + 3, str(folder), size, "t")}
        ),
        "upload": AdaptiveTokenizer.load_or_create(
            size + 5, tokenizer_path=folder / "tokenizer.json"
        ),
        "bytes": AdaptiveTokenizer.load_or_create(300),
    }
    expected = {}
    text = "the king rides\n" + unicode_lines[2]
    for name, tok in built.items():
        tok.save_pretrained(str(tmp_path / name))
        expected[name] = {
            "len": len(tok),
            "ids": tok(text)["input_ids"],
            "pad": tok.pad_token_id,
            "eos": tok.eos_token_id,
        }

    result = _run(
        """
        import json, sys
        from transformers import AutoTokenizer
        root, text = sys.argv[1], sys.argv[2]
        out = {}
        for name in ("bpe", "character", "pretrained", "upload", "bytes"):
            tok = AutoTokenizer.from_pretrained(f"{root}/{name}")
            out[name] = {"len": len(tok), "ids": tok(text)["input_ids"], "pad": tok.pad_token_id,
                         "eos": tok.eos_token_id}
        assert "adaptive_tokenizer" not in sys.modules
        print(json.dumps(out))
    """,
        str(tmp_path),
        text,
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == expected


@pytest.fixture()
def text_file(tmp_path, corpus):
    path = tmp_path / "data.txt"
    path.write_text("".join(corpus), encoding="utf-8")
    return path


def test_cli_create_then_validate(tmp_path, text_file):
    out = tmp_path / "tok"

    created = _cli("create", "--vocab-size", "1234", "--data", str(text_file), "--out", str(out))
    valid = _cli("validate", str(out), "--vocab-size", "1234")
    invalid = _cli("validate", str(out), "--vocab-size", "1000")

    assert created.returncode == 0, created.stderr
    assert "1234 tokens" in created.stdout
    assert (out / "tokenizer.json").is_file()
    assert valid.returncode == 0 and "PASSED" in valid.stdout
    assert (
        invalid.returncode == 1
        and "has 1234 tokens but the model's vocab is 1000" in invalid.stdout
    )


def test_cli_bad_inputs_fail_in_one_line_with_exit_2(tmp_path, text_file):
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "latin1.txt").write_bytes("café crème\n".encode("latin-1"))
    (tmp_path / "blob.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("user file")
    cases = {
        "is empty": ["--data", str(tmp_path / "empty.txt")],
        "is not UTF-8": ["--data", str(tmp_path / "latin1.txt")],
        "looks binary": ["--data", str(tmp_path / "blob.bin")],
        "does not exist": ["--data", str(tmp_path / "missing.txt")],
        "must be positive": ["--data", str(text_file), "--vocab-size", "0"],
        "invalid choice: 'magic'": ["--data", str(text_file), "--strategy", "magic"],
        "not an empty folder": ["--data", str(text_file), "--out", str(taken)],
    }
    for expected, extra in cases.items():
        args = ["create", "--vocab-size", "500", "--out", str(tmp_path / "new"), *extra]
        if "--vocab-size" in extra:
            args[1:3] = []
        if "--out" in extra:
            args[args.index("--out") : args.index("--out") + 2] = []

        result = _cli(*args)

        assert result.returncode == 2, (expected, result.stderr)
        assert expected in result.stderr, (expected, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "new").exists()
    assert [p.name for p in taken.iterdir()] == ["keep.txt"]
    assert (taken / "keep.txt").read_text() == "user file"


def test_cli_validate_missing_folder_exits_2(tmp_path):
    result = _cli("validate", str(tmp_path / "nope"), "--vocab-size", "10")

    assert result.returncode == 2
    assert "is not a folder" in result.stderr


def test_cli_create_from_an_uploaded_tokenizer(tmp_path, gpt2_like):
    folder, size = gpt2_like
    out = tmp_path / "uploaded"

    result = _cli(
        "create",
        "--vocab-size",
        str(size + 5),
        "--tokenizer",
        str(folder / "tokenizer.json"),
        "--out",
        str(out),
    )

    assert result.returncode == 0, result.stderr
    added = [t["content"] for t in json.loads((out / "tokenizer.json").read_text())["added_tokens"]]
    # the GPT-2 style upload lacks pad and unk: they take two free slots, reserved tokens the rest
    assert added[-5:] == ["<pad>", "<unk>", "<|reserved_0|>", "<|reserved_1|>", "<|reserved_2|>"]


def test_cli_create_into_a_read_only_folder_is_one_line(tmp_path, text_file):
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", str(read_only)], capture_output=True
    )
    if made.returncode != 0:  # root ignores chmod, so only a real read-only mount tests this
        pytest.skip(
            f"cannot mount a read-only tmpfs here ({made.stderr.decode(errors='replace').strip()[:100]})"
        )
    try:
        result = _cli(
            "create",
            "--vocab-size",
            "300",
            "--data",
            str(text_file),
            "--out",
            str(read_only / "tok"),
        )
    finally:
        subprocess.run(["umount", "--lazy", str(read_only)], check=False)

    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("adaptive-tokenizer: error: cannot write ")
    assert "Read-only file system" in result.stderr and "--out" in result.stderr


def test_cli_create_under_a_file_is_one_line_and_prints_no_transformers_advice(tmp_path, text_file):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder", encoding="utf-8")

    result = _cli(
        "create", "--vocab-size", "300", "--data", str(text_file), "--out", str(blocker / "tok")
    )

    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert str(blocker) in result.stderr and "--out" in result.stderr
    assert blocker.read_text(encoding="utf-8") == "a file, not a folder"  # nothing lost
