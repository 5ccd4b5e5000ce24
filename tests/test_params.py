import dataclasses
import re

import pytest
import yaml
from conftest import ROOT

from srcnn.params import Params, ParamsError, load_params, params_with


def test_the_committed_params_are_valid():
    params = load_params("params.yaml")
    assert params.jpeg_quality == (10, 90) and params.tile == 128 and params.conditioned is True
    assert params.eval_qualities == (10, 20, 30, 40, 60, 80, 90, 95)
    assert params.degradation == "single" and params.eval_doubles == ((10, 30), (30, 50), (30, 10), (10, 10))


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("jpeg_quality", 0, "jpeg_quality=0"),
        ("jpeg_quality", [95, 10], "low <= high"),
        ("jpeg_quality", [10, 101], "jpeg_quality=[10, 101]"),
        ("jpeg_quality", [10], "a range [low, high]"),
        ("jpeg_quality", "high", "jpeg_quality='high'"),
        ("jpeg_quality", True, "jpeg_quality=True"),
        ("eval_qualities", [], "a non-empty list"),
        ("eval_qualities", [10, 0], "eval_qualities=[10, 0]"),
        ("eval_qualities", 20, "a non-empty list of whole numbers from 1 to 100"),
        ("conditioned", "yes", "true or false"),
        ("tile", -1, "tile=-1"),
        ("val_fraction", 1.5, "val_fraction=1.5"),
        ("lr", "fast", "lr='fast'"),
        ("residual", "yes", "true or false"),
        ("kernel1", 4, "odd"),
        ("precision", "fp8", "one of auto, fp32, bf16, fp16"),
        ("degradation", "double", "degradation='double' is not allowed: degradation must be one of single, travelled"),
        ("eval_doubles", [[10]], "a list of [first, second] JPEG qualities"),
        ("eval_doubles", [[10, 101]], "eval_doubles=[[10, 101]]"),
    ],
)
def test_bad_values_name_the_key_the_value_and_what_is_allowed(key, value, message):
    with pytest.raises(ParamsError, match=re.escape(message)) as error:
        params_with(**{key: value})
    assert key in str(error.value)


def test_jpeg_quality_is_one_quality_a_range_or_none():
    assert params_with(jpeg_quality=20).jpeg_quality == 20
    assert params_with(jpeg_quality=[30, 30]).jpeg_quality == (30, 30)
    assert params_with(jpeg_quality=None).jpeg_quality is None
    assert params_with(eval_qualities=[90]).eval_qualities == (90,)


def test_travelled_takes_a_quality_range_without_super_resolution():
    params = params_with(degradation="travelled", eval_doubles=[[10, 30]])
    assert params.degradation == "travelled" and params.eval_doubles == ((10, 30),)
    assert params_with().degradation == "single" and params_with(eval_doubles=[]).eval_doubles == ()
    for overrides in ({"jpeg_quality": 20}, {"jpeg_quality": None}, {"scale": 2}):
        with pytest.raises(
            ParamsError, match=r"degradation='travelled'.*single unless jpeg_quality is a \[low, high\]"
        ):
            params_with(degradation="travelled", **overrides)


def test_unknown_keys_are_refused():
    with pytest.raises(ParamsError, match="unknown key.*learning_rate"):
        params_with(learning_rate=0.1)


def test_exponent_written_without_a_dot_is_read_as_a_number():
    assert params_with(lr="1e-4").lr == pytest.approx(1e-4)


def test_bad_file_names_the_file(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("tile: -1\n")
    with pytest.raises(ParamsError, match=str(path)):
        load_params(path)


def frozen(value):
    """A YAML value as Params holds it: lists (of lists) as tuples."""
    return tuple(frozen(item) for item in value) if isinstance(value, list) else value


def test_params_yaml_is_the_one_source_of_defaults(tmp_path):
    complete = (ROOT / "params.yaml").read_text()
    written = yaml.safe_load(complete)  # read here, not by srcnn.params
    assert set(written) == {field.name for field in dataclasses.fields(Params)}
    defaults = params_with()
    for key, value in written.items():  # what tests and benchmarks start from is what params.yaml says
        assert getattr(defaults, key) == frozen(value), key
    path = tmp_path / "params.yaml"
    for key in written:  # and no key has a value anywhere else: a file without it is refused
        path.write_text("\n".join(line for line in complete.splitlines() if not line.startswith(f"{key}:")))
        with pytest.raises(ParamsError, match=re.escape(f"missing key(s) {key};")):
            load_params(path)
