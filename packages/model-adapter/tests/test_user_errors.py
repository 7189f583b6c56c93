"""Environment errors become one line: a full disk (torch's own zip-writer form included), a
read-only folder, undecodable text, and token ids outside the vocabulary."""

from __future__ import annotations

import errno
import subprocess
from pathlib import Path

import pytest
import torch

from model_adapter import ModelConfig, ModelValidationError, UniversalModelAdapter
from model_adapter.user_errors import user_error_message


@pytest.fixture
def small_tmpfs(tmp_path: Path):
    """A real 64 KB file system (needs root and mount); unmounted afterwards."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(
            f"cannot mount a tmpfs here ({made.stderr.decode(errors='replace').strip()[:100]})"
        )
    yield mount_point
    subprocess.run(
        ["umount", "--lazy", str(mount_point)], check=True
    )  # a failed writer may still hold a file


def test_torch_save_onto_a_full_disk_reads_as_disk_full(small_tmpfs: Path) -> None:
    with pytest.raises((RuntimeError, OSError)) as caught:
        torch.save({"w": torch.zeros(256 * 1024)}, small_tmpfs / "weights.pt")  # 1 MB onto 64 KB

    message = user_error_message(caught.value)

    assert message is not None and "disk is full" in message and "\n" not in message


def test_writing_a_file_onto_a_full_disk_names_it(small_tmpfs: Path) -> None:
    target = small_tmpfs / "big.bin"
    with pytest.raises(OSError) as caught, open(target, "wb") as handle:
        handle.write(b"x" * 1024 * 1024)
        handle.flush()

    assert caught.value.errno == errno.ENOSPC
    assert "disk is full" in user_error_message(caught.value)


def test_a_read_only_folder_is_named(small_tmpfs: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(small_tmpfs)], check=True)
    with pytest.raises(OSError) as caught:
        (small_tmpfs / "run").mkdir()

    message = user_error_message(caught.value)

    assert (
        message is not None
        and str(small_tmpfs / "run") in message
        and "choose an output folder" in message
    )


def test_undecodable_text_and_own_errors_are_user_errors_and_bugs_are_not() -> None:
    with pytest.raises(UnicodeDecodeError) as caught:
        b"\xff\xfe\x00".decode("utf-8")
    assert "not UTF-8" in user_error_message(caught.value)
    assert (
        user_error_message(ModelValidationError("bad thing; fix it"), (ModelValidationError,))
        == "bad thing; fix it"
    )
    assert user_error_message(KeyError("a bug")) is None
    assert user_error_message(RuntimeError("shape mismatch")) is None


class _Embedding(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(50, 8)
        self.head = torch.nn.Linear(8, 50)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(input_ids))


def test_token_ids_outside_the_vocabulary_name_vocab_size() -> None:
    adapter = UniversalModelAdapter(_Embedding(), ModelConfig(vocab_size=50, max_seq_len=8))

    with pytest.raises(ModelValidationError, match=r"token id 57 is outside .*vocab_size 50"):
        adapter(torch.tensor([[1, 2, 57]]))
    assert adapter(torch.tensor([[1, 2, 49]])).shape == (1, 3, 50)
