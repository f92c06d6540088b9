"""The bad-input tests' frame: a case is a call that must end early, before training, in an error of exactly the
expected type whose message names the field and the value, with nothing written to `output_dir`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers.encoder import SENTENCES

S = SENTENCES[:8]
DOCUMENTS = [" . ".join(SENTENCES[i:] + SENTENCES[:i]) for i in range(4)]  # ~230 tokens; DeCLUTR needs 16 here
TSV = "sentence1\tsentence2\tscore\n"


@dataclass
class Env:
    """What a case may use: the tiny encoder's folder, a temporary folder, TrainingArguments for fast runs."""

    model: str
    tmp: Path
    quiet: dict

    @property
    def out(self) -> Path:
        return self.tmp / "out"

    def args(self, config_class, **kwargs):
        return config_class(output_dir=str(self.out), max_steps=1, **(self.quiet | kwargs))

    def write(self, name: str, text: str) -> str:
        (self.tmp / name).write_text(text)
        return str(self.tmp / name)


def files_in(folder: Path) -> list[str]:
    return [str(p.relative_to(folder)) for p in folder.rglob("*")] if folder.exists() else []


def assert_named_before_training(call, env: Env, error: type, message: str) -> None:
    """`call(env)` raises exactly `error` with a message matching the regex `message`, and wrote nothing to
    `env.out`."""
    with pytest.raises(ValueError, match=message) as raised:
        call(env)
    assert type(raised.value) is error, f"{type(raised.value).__name__}: {raised.value}"
    assert files_in(env.out) == [], "the failing call wrote to output_dir"
