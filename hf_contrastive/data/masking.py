"""Masked-language-model corruption (BERT's 80/10/10 rule), as a pure function with the generator passed in."""

from __future__ import annotations

import torch
from torch import Tensor

IGNORE_INDEX = -100


def mask_tokens(
    input_ids: Tensor,
    maskable: Tensor,
    *,
    mask_token_id: int,
    vocab_size: int,
    mlm_probability: float = 0.15,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Choose `mlm_probability` of the maskable tokens; replace 80% of them by `[MASK]`, 10% by a random token and
    keep 10% unchanged (Devlin et al., 2019; SimCSE's and DeCLUTR's collators).

    Args:
        input_ids (`Tensor` of shape `(B, L)`): token ids; not modified.
        maskable (`Tensor` of shape `(B, L)`, bool): positions that may be chosen (real, non-special tokens).
        mask_token_id (`int`): id of the tokenizer's mask token.
        vocab_size (`int`): random replacements are drawn from `[0, vocab_size)`.
        mlm_probability (`float`, *optional*, defaults to `0.15`): share of maskable tokens chosen.
        generator (`torch.Generator`, *optional*): the source of randomness; the global one when `None`.

    Returns:
        `(masked_input_ids, labels)`: `labels` holds the original id at chosen positions and `-100` elsewhere.

    >>> ids = torch.tensor([[2, 7, 8, 9, 3]])
    >>> maskable = torch.tensor([[False, True, True, True, False]])
    >>> masked, labels = mask_tokens(ids, maskable, mask_token_id=4, vocab_size=10, mlm_probability=1.0,
    ...                              generator=torch.Generator().manual_seed(0))
    >>> labels.tolist()
    [[-100, 7, 8, 9, -100]]
    """
    if not 0.0 < mlm_probability <= 1.0:
        raise ValueError(f"`mlm_probability` must be in (0, 1], got {mlm_probability}.")
    device = input_ids.device

    def draw(shape: torch.Size) -> Tensor:
        return torch.rand(shape, generator=generator, device=generator.device if generator else device).to(device)

    chosen = (draw(input_ids.shape) < mlm_probability) & maskable.bool()
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    roll = draw(input_ids.shape)
    to_mask = chosen & (roll < 0.8)
    to_random = chosen & (roll >= 0.8) & (roll < 0.9)
    random_ids = torch.randint(
        vocab_size, input_ids.shape, generator=generator, device=generator.device if generator else device
    ).to(device)
    masked = torch.where(to_mask, torch.full_like(input_ids, mask_token_id), input_ids)
    masked = torch.where(to_random, random_ids, masked)
    return masked, labels
