"""Hub releases against the local Hub-protocol server (tests/helpers/hub_server.py): push with the trainers, then
download with a fresh cache and compare embeddings (pushes that fail: tests/hub/test_push_failures.py). Clients run
in subprocesses (huggingface_hub reads HF_ENDPOINT at import; this process is offline)."""

import json

import numpy as np
import pytest

from tests.helpers.hub import assert_clean, client

pytest.importorskip("peft")


def test_trainer_releases_merged_lora_adapters_and_a_classifier_that_load_back(hub, tmp_path, sentences):
    work = tmp_path / "work"
    pushed = client(hub, tmp_path / "home-push", f"""
        import numpy as np
        from datasets import Dataset
        from huggingface_hub import HfApi
        from peft import LoraConfig, TaskType
        from hf_contrastive import SFTContrastiveConfig, SFTContrastiveTrainer, SimCSEConfig, SimCSETrainer
        from tests.helpers.encoder import build_tiny_encoder, SENTENCES

        work = {str(work)!r}
        base = build_tiny_encoder(work + "/tiny-base")
        HfApi().create_repo("user/tiny-base")
        HfApi().upload_folder(repo_id="user/tiny-base", folder_path=base)   # the adapters' base, on the Hub
        common = dict(use_cpu=True, report_to="none", save_strategy="no", disable_tqdm=True, max_steps=2, logging_steps=1,
                      per_device_train_batch_size=8, learning_rate=1e-2)
        lora = LoraConfig(task_type=TaskType.FEATURE_EXTRACTION, r=4, lora_alpha=8, target_modules=["query", "value"])
        simcse = SimCSETrainer(model=base, args=SimCSEConfig(output_dir=work + "/simcse", pooler="avg", **common),
                               peft_config=lora, train_dataset=Dataset.from_dict({{"text": SENTENCES}}))
        simcse.train()
        from huggingface_hub import EvalResult
        stsb = EvalResult(task_type="sentence-similarity", dataset_type="mteb/stsbenchmark-sts",
                          dataset_name="STSBenchmark", dataset_split="test", metric_type="spearman_cosine",
                          metric_value=12.5)
        merged = simcse.push_to_hub(repo_id="user/simcse-merged", evaluation=[stsb])
        adapters = simcse.push_to_hub(repo_id="user/simcse-lora", merge=False, base_model_id="user/tiny-base",
                                      private=True)
        labelled = Dataset.from_dict({{"text": SENTENCES, "label": [i % 2 for i in range(len(SENTENCES))]}})
        sft = SFTContrastiveTrainer(model=base, args=SFTContrastiveConfig(output_dir=work + "/sft", **common),
                                    train_dataset=labelled)
        sft.train()
        pr = sft.push_to_hub(repo_id="user/sft", create_pr=True)
        for trainer in (simcse, sft):
            trainer.model.eval()
        np.save(work + "/simcse.npy", simcse.model.encode(SENTENCES))
        np.save(work + "/sft.npy", sft.model.encode(SENTENCES))
        print(json.dumps({{"merged": merged.commit_url, "pr": pr.pr_url}}))
    """)
    assert pushed["pr"].endswith("/discussions/1")
    assert set(hub.files("user/simcse-merged")) >= {"model.safetensors", "modules.json", "README.md"}
    merged_files = hub.files("user/simcse-merged")
    assert not any("adapter" in name for name in merged_files)
    assert {".eval_results/STSBenchmark.yaml", "training_curve.png", "card_data.json"} <= set(merged_files)
    merged_card = merged_files["README.md"].decode()
    assert "# user/simcse-merged" in merged_card and "| 12.50 |" in merged_card and "merged into the weights" in merged_card
    adapter_files = hub.files("user/simcse-lora")
    assert "model.safetensors" not in adapter_files
    assert json.loads(adapter_files["adapter_config.json"])["base_model_name_or_path"] == "user/tiny-base"
    assert "pip install peft" in adapter_files["README.md"].decode()
    assert "This release holds the adapters only" in adapter_files["README.md"].decode()
    assert "base_model: user/tiny-base" in adapter_files["README.md"].decode()
    assert "classifier/model.safetensors" in hub.files("user/sft", rev="refs/pr/1")
    assert hub.files("user/sft") .keys() == {".gitattributes"}  # the PR did not touch main

    loaded = client(hub, tmp_path / "home-load", f"""
        import numpy as np
        from sentence_transformers import SentenceTransformer
        from hf_contrastive import EmbeddingClassifier
        from tests.helpers.encoder import SENTENCES

        work = {str(work)!r}
        merged = SentenceTransformer("user/simcse-merged")
        np.save(work + "/merged.npy", merged.encode(SENTENCES))
        np.save(work + "/lora.npy", SentenceTransformer("user/simcse-lora").encode(SENTENCES))
        classifier = EmbeddingClassifier.from_pretrained("user/sft", revision="refs/pr/1")
        np.save(work + "/sft-hub.npy", classifier.model.encode(SENTENCES))
        print(json.dumps({{"merged_has_adapters": bool(getattr(merged.transformers_model,
                                                                  "_hf_peft_config_loaded", False)),
                          "labels": classifier.predict(SENTENCES[:3])}}))
    """)
    assert loaded["merged_has_adapters"] is False and len(loaded["labels"]) == 3
    expected = np.load(work / "simcse.npy")
    np.testing.assert_allclose(np.load(work / "merged.npy"), expected, atol=1e-5)
    np.testing.assert_allclose(np.load(work / "lora.npy"), expected, atol=1e-5)
    np.testing.assert_allclose(np.load(work / "sft-hub.npy"), np.load(work / "sft.npy"), atol=1e-6)
    assert_clean(hub, tmp_path / "home-push", tmp_path / "home-load", work)
    repos = {"user/tiny-base", "user/simcse-merged", "user/simcse-lora", "user/sft"}
    asked = {"/".join(r.path.split("/")[3:5]) for r in hub.requests if r.path.startswith("/api/models/")}
    assert asked <= repos, f"requests about other repos (a local path leaking?): {asked - repos}"
    assert hub.repos[("model", "user/simcse-lora")].private and not hub.repos[("model", "user/simcse-merged")].private
    assert len(hub.repos[("model", "user/simcse-merged")].commits) == 2, "the initial commit and one release commit"


def test_adapter_only_release_of_a_local_base_needs_a_hub_id(tiny_encoder_dir, tmp_path, sentences):
    from peft import LoraConfig, TaskType

    from hf_contrastive.hub import prepare_release
    from hf_contrastive.modeling import build_sentence_transformer
    from hf_contrastive.modeling.lora import add_lora

    model = build_sentence_transformer(tiny_encoder_dir, pooler="avg")
    add_lora(model, LoraConfig(task_type=TaskType.FEATURE_EXTRACTION, r=2, target_modules=["query"]))
    (tmp_path / "release").mkdir()
    (tmp_path / "release" / "old.txt").write_text("an earlier release")
    with pytest.raises(ValueError, match="must name its base model by Hub id"):
        prepare_release(model, str(tmp_path / "release"), merge=False)
    assert (tmp_path / "release" / "old.txt").read_text() == "an earlier release", "nothing lost on error"
