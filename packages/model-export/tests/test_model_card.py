from model_export import CardInputs, ModelFacts, render_model_card


def _front_matter(card: str) -> list[str]:
    lines = card.splitlines()
    assert lines[0] == "---"
    return lines[1 : lines.index("---", 1)]


def test_card_without_a_run_says_not_recorded_instead_of_inventing():
    card = render_model_card(CardInputs(facts=ModelFacts(name="Tiny", vocab_size=300)))

    front = _front_matter(card)
    assert 'license: "unknown"' in front
    assert "datasets: []  # not recorded" in front
    assert "Training data and hyper-parameters: not recorded" in card
    assert "| Parameters | unknown |" in card
    assert "| Vocabulary | 300 |" in card
    assert "Tokenizer: not recorded" in card
    assert "analysis.html" not in card  # linked only when the bundle carries the run's analysis


def test_card_from_a_run_lists_its_data_hyper_parameters_metrics_and_tables():
    run = {
        "status": "completed",
        "config": {"learning_rate": 0.0003, "batch_size": 8},
        "metrics": {"val_loss": 4.25, "val_perplexity": 70.1},
        "data": {"source": "tinyshakespeare", "num_train_tokens": 1000},
    }
    formats = {
        "onnx": {
            "exporter": "dynamo",
            "passed": True,
            "parity": {
                "atol": 1e-4,
                "passed": True,
                "shapes": [
                    {
                        "batch": 1,
                        "seq_len": 5,
                        "max_abs_diff": 1e-6,
                        "max_rel_diff": 1e-5,
                        "top1_agreement": 1.0,
                        "passed": True,
                    }
                ],
            },
        }
    }
    quant = {
        "int8": {
            "status": "rejected",
            "reason": "top-1 agreement 90.00% < 98.00%",
            "size_ratio": 3.9,
            "latency_ratio": 0.7,
            "top1_agreement": 0.9,
            "perplexity_change": 0.2,
            "eval_source": "held.txt",
        }
    }

    card = render_model_card(
        CardInputs(
            facts=ModelFacts(
                name="Tiny",
                parameters=12345,
                layers=2,
                d_model=32,
                heads=4,
                vocab_size=300,
                max_seq_len=64,
            ),
            license="apache-2.0",
            run=run,
            formats=formats,
            quantization=quant,
            files=["model.onnx", "README.md"],
        )
    )

    front = _front_matter(card)
    assert 'license: "apache-2.0"' in front and '  - "tinyshakespeare"' in front
    assert '  - "val_perplexity"' in front
    assert "| learning_rate | 0.0003 |" in card
    assert "| val_perplexity | 70.1 |" in card
    assert "| 1x5 | 1.00e-06 |" in card
    assert "| int8 | rejected (top-1 agreement 90.00% < 98.00%) | 3.90x |" in card
    assert 'ort.InferenceSession("model.onnx")' in card
    assert "torch.jit.load" not in card  # no TorchScript file, no instructions for one


def test_card_shows_booleans_as_yes_no_paths_relative_to_the_bundle_and_bits_per_byte(tmp_path):
    bundle = tmp_path / "bundle"
    run = {
        "status": "completed",
        "config": {
            "packing": True,
            "compile": False,
            "out": str(tmp_path / "runs" / "demo"),
            "seq_len": 64,
        },
        "metrics": {"val_loss": 4.25, "val_bits_per_byte": 2.5},
        "data": {"source": str(tmp_path / "corpus.txt")},
    }

    card = render_model_card(
        CardInputs(facts=ModelFacts(name="Tiny"), run=run, base_dir=str(bundle))
    )

    assert "| packing | yes |" in card and "| compile | no |" in card
    assert "| out | ../runs/demo |" in card
    assert "- Data source: ../corpus.txt" in card
    assert str(tmp_path) not in card
    assert "| val_bits_per_byte | 2.5 |" in card
    assert '  - "val_bits_per_byte"' in _front_matter(card)


def test_tokenizer_facts_count_special_tokens_once(tmp_path):
    from conftest import train_tokenizer
    from tokenizers import Tokenizer

    from model_export.bundle import tokenizer_facts

    folder = train_tokenizer(tmp_path / "tok", 300)
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))

    facts = tokenizer_facts(folder)

    # the four special tokens are in the BPE vocab and in added_tokens: counted once
    assert facts["vocabulary size (tokenizer.json)"] == tokenizer.get_vocab_size(
        with_added_tokens=True
    )
