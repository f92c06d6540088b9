"""One rank of a 2-process SimCSE run with everything for scale at once: negatives gathered across the processes,
gradient caching, LoRA and bf16 mixed precision (launched by tests/trainers/test_distributed.py through torchrun,
gloo, CPU). Saves what this rank ended with, so the test can compare the ranks."""

import os
import sys

import torch
from datasets import Dataset

from hf_contrastive import SimCSEConfig, SimCSETrainer
from tests.helpers.processes import save_rank

model_dir, output_dir = sys.argv[1], sys.argv[2]
sentences = [line for line in open(os.path.join(output_dir, "sentences.txt")).read().splitlines() if line]
args = SimCSEConfig(output_dir=output_dir, max_steps=3, per_device_train_batch_size=8, mini_batch_size=3,
                    gather_across_devices=True, use_peft=True, lora_r=4, lora_target_modules=["query", "value"],
                    bf16=True, learning_rate=1e-2, logging_steps=1, pooler="cls", mlp_only_train=True, use_cpu=True,
                    ddp_backend="gloo", report_to="none", save_strategy="no", disable_tqdm=True, seed=0)
trainer = SimCSETrainer(model=model_dir, args=args, train_dataset=Dataset.from_dict({"text": sentences}))
start = {k: v.detach().clone() for k, v in trainer.model.state_dict().items() if "lora_B" in k}
mlp = trainer.loss.mlp[0].weight.detach().clone()
trainer.train()
model = trainer.model.state_dict()
save_rank(trainer, output_dir, trained=("mlp.0.weight", mlp), bf16=trainer.args.bf16,
          lora_trained=all(not torch.equal(model[k], v) for k, v in start.items()),
          losses=[h["loss"] for h in trainer.state.log_history if "loss" in h])
