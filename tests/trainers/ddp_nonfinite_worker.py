"""One rank of a 2-process SimCSE run (launched by tests/trainers/test_nonfinite_loss.py through torchrun, gloo, CPU)
whose loss is NaN on rank 1 only, at step 3. Every rank must stop with `NonFiniteLossError` at that step (one rank
stopping alone would leave the other waiting in its next collective); each writes how it ended to rank{N}.txt."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from hf_contrastive.errors import NonFiniteLossError  # noqa: E402
from tests.helpers.runs import make_trainer, poison  # noqa: E402

model_dir, output_dir = sys.argv[1], sys.argv[2]
rank = int(os.environ["RANK"])
trainer = make_trainer("simcse", model_dir, output_dir, max_steps=4, save_strategy="no", ddp_backend="gloo",
                       ddp_timeout=60, per_device_train_batch_size=4)
if rank == 1:
    poison(trainer.loss, at_call=3, value=float("nan"))
try:
    trainer.train()
    ended = f"finished at step {trainer.state.global_step}"
except NonFiniteLossError as error:
    ended = (f"NonFiniteLossError at global_step {trainer.state.global_step} (world size "
             f"{trainer.args.world_size}): {error}")
with open(os.path.join(output_dir, f"rank{rank}.txt"), "w") as file:
    file.write(ended)
