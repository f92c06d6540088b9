"""One rank of a 2-process SimCSE run (launched by tests/trainers/test_distributed.py through torchrun, gloo, CPU).
Saves what this rank ended with, so the test can compare the ranks."""

import os
import sys

from datasets import Dataset

from hf_contrastive import SimCSEConfig, SimCSETrainer
from tests.helpers.processes import save_rank

model_dir, output_dir = sys.argv[1], sys.argv[2]
sentences = [line for line in open(os.path.join(output_dir, "sentences.txt")).read().splitlines() if line]
args = SimCSEConfig(output_dir=output_dir, max_steps=3, per_device_train_batch_size=4, learning_rate=1e-2,
                    pooler="cls", mlp_only_train=True, do_mlm=True, use_cpu=True, ddp_backend="gloo",
                    report_to="none", save_strategy="no", disable_tqdm=True, seed=0)
trainer = SimCSETrainer(model=model_dir, args=args, train_dataset=Dataset.from_dict({"text": sentences}))
start = trainer.loss.mlp[0].weight.detach().clone()
trainer.train()
save_rank(trainer, output_dir, trained=("mlp.0.weight", start))
