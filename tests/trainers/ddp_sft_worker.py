"""One rank of a 2-process SFT+contrastive run (launched by tests/trainers/test_distributed.py through torchrun,
gloo, CPU), with unlabelled rows mixed in (`labelled_per_batch=1`) and the frozen reference copy, then an alternating
run. Saves what this rank ended with and the batches it trained on."""

import os
import sys

from datasets import Dataset

from hf_contrastive import SFTContrastiveConfig, SFTContrastiveTrainer
from tests.helpers.processes import save_rank

model_dir, output_dir = sys.argv[1], sys.argv[2]
sentences = [line for line in open(os.path.join(output_dir, "sentences.txt")).read().splitlines() if line]


def train(strategy, **composition):
    args = SFTContrastiveConfig(output_dir=os.path.join(output_dir, strategy), max_steps=3,
                                per_device_train_batch_size=4, learning_rate=1e-2, use_cpu=True, ddp_backend="gloo",
                                report_to="none", save_strategy="no", disable_tqdm=True, seed=0, strategy=strategy,
                                **composition)
    labelled = Dataset.from_dict({"text": sentences[:16], "label": [i % 3 for i in range(16)]})
    trainer = SFTContrastiveTrainer(model=model_dir, args=args, train_dataset=labelled,
                                    unlabelled_dataset=Dataset.from_dict({"text": sentences[16:]}))
    batches, compute_loss = [], trainer.compute_loss

    def recording(model, inputs, *args, **kwargs):  # (labels or None, token ids) of each training batch
        batches.append((inputs["label"].tolist() if "label" in inputs else None, inputs["text_input_ids"].tolist()))
        return compute_loss(model, inputs, *args, **kwargs)

    trainer.compute_loss = recording
    start = trainer.loss.head.linear.weight.detach().clone()
    trainer.train()
    return trainer, batches, start


trainer, batches, start = train("mixing", labelled_per_batch=1)
_, alternating_batches, _ = train("alternating")
save_rank(trainer, output_dir, trained=("head.linear.weight", start),
          batches={"mixing": batches, "alternating": alternating_batches})
