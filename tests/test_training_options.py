"""mluke-train's option defaults are the settings dataclasses' (defined once, in training/options.py)."""

from __future__ import annotations

import dataclasses

import pytest

from training.cli import main
from training.options import FinetuneOptions, PretrainOptions


@pytest.mark.parametrize(
    ("path", "settings"), [(("pretrain",), PretrainOptions), (("finetune", "qa"), FinetuneOptions)]
)
def test_every_option_default_is_the_settings_default(path, settings):
    command = main
    for name in path:
        command = command.commands[name]
    fields = {field.name: field for field in dataclasses.fields(settings)}
    checked = 0
    for parameter in command.params:
        field = fields.get(parameter.name)
        if field is None or field.default is dataclasses.MISSING or parameter.required:
            continue
        if parameter.default is None or getattr(parameter, "is_flag", False) or parameter.multiple:
            continue
        assert parameter.default == field.default, (parameter.name, parameter.default, field.default)
        checked += 1
    assert checked >= 8


def test_help_answers_to_h():
    from click.testing import CliRunner

    for args in ([], ["pretrain"], ["finetune", "qa"], ["plan"], ["export"]):
        result = CliRunner().invoke(main, [*args, "-h"])
        assert result.exit_code == 0 and "Usage:" in result.output, args
