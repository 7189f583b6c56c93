import pytest
import torch
from conftest import MAX_LEN, VOCAB
from hand_written_models import LengthBakedLM

from model_export import ParityError, export_pt2, export_torchscript


@pytest.mark.parametrize("kind", ["builder_gpt_broken", "builder_bert", "sdpa", "gru"])
def test_torchscript_export_matches_pytorch_over_every_shape(kind, model_of, tmp_path):
    max_len = None if kind == "gru" else MAX_LEN

    result = export_torchscript(
        model_of(kind), tmp_path / "m.pt", vocab_size=VOCAB, max_seq_len=max_len
    )

    assert result.exporter == "trace"
    assert result.parity.passed, result.parity.summary()
    loaded = torch.jit.load(str(result.path))
    assert loaded(torch.zeros(3, 7, dtype=torch.long)).shape == (3, 7, VOCAB)


@pytest.mark.parametrize("kind", ["builder_gpt_broken", "sdpa"])
def test_pt2_export_matches_pytorch_over_every_shape(kind, model_of, tmp_path):
    result = export_pt2(model_of(kind), tmp_path / "m.pt2", vocab_size=VOCAB, max_seq_len=MAX_LEN)

    assert result.exporter == "torch.export"
    assert result.parity.passed, result.parity.summary()
    program = torch.export.load(str(result.path)).module()
    assert program(torch.zeros(1, MAX_LEN, dtype=torch.long)).shape == (1, MAX_LEN, VOCAB)


def test_pt2_program_specialised_to_the_example_length_fails_parity(tmp_path):
    torch.manual_seed(0)
    with pytest.raises(
        ParityError,
        match=r"pt2 \(torch.export \(Dim.AUTO\)\) parity FAILED .* worst shape batch=\d+ seq=\d+",
    ):
        export_pt2(LengthBakedLM(VOCAB, MAX_LEN), tmp_path / "m.pt2")
    assert not (tmp_path / "m.pt2").exists()


def test_torchscript_trace_of_a_length_baked_model_falls_back_to_script(tmp_path):
    torch.manual_seed(0)
    result = export_torchscript(LengthBakedLM(VOCAB, MAX_LEN), tmp_path / "m.pt")

    assert result.exporter == "script"
    assert result.fallback_reason.startswith("torch.jit.trace parity failed")
    assert result.parity.passed
