import pytest

from keras_sportsnet import PAPER_SPEC
from keras_sportsnet import format_spec
from keras_sportsnet import parse_spec
from keras_sportsnet.spec import Conv
from keras_sportsnet.spec import FullyConnected
from keras_sportsnet.spec import Norm
from keras_sportsnet.spec import Pool

pytestmark = pytest.mark.tensorflow_free  # also runs in the venv without TensorFlow (tests/backends)


def test_paper_spec_parses_to_the_papers_layers():
    layers = parse_spec(PAPER_SPEC)
    assert layers == (
        Conv(96, 11, 3), Norm(), Pool(),
        Conv(256, 5, 1), Norm(), Pool(),
        Conv(384, 3, 1), Conv(384, 3, 1), Conv(256, 3, 1), Pool(),
        FullyConnected(4096), FullyConnected(4096),
    )


@pytest.mark.parametrize(
    "spec",
    [PAPER_SPEC, "C(16,5,2)-N-P-C(32,3,1)-P-FC(64)", "C(1,1,1)", "C(8,3,1)-C(8,3,1)-N-N-P-P"],
)
def test_format_is_the_exact_inverse_of_parse(spec):
    assert format_spec(parse_spec(spec)) == spec
    assert parse_spec(format_spec(parse_spec(spec))) == parse_spec(spec)


def test_whitespace_is_ignored_and_format_is_canonical():
    assert format_spec("C(96, 11, 3) - N - P - FC( 10 )") == "C(96,11,3)-N-P-FC(10)"


@pytest.mark.parametrize(
    "spec, fragments",
    [
        ("C(96,11,3)-X-P", ["token 1", "'X'", "character 11", "C(d,f,s)"]),
        ("C(96,11)-N", ["token 0", "3 argument(s)", "received 2"]),
        ("C(96,11,3)-N(2)", ["token 1", "takes no arguments"]),
        ("C(96,0,3)", ["kernel_size must be a positive integer", "'0'"]),
        ("C(96,a,3)", ["kernel_size", "'a'"]),
        ("FC(10)-C(8,3,1)", ["token 1", "before the first FC"]),
        ("C(8,3,1)--P", ["token 1", "''"]),
        ("N-P-FC(3)", ["no convolution"]),
        ("", ["empty"]),
    ],
)
def test_malformed_specs_name_the_token_position_and_expectation(spec, fragments):
    with pytest.raises(ValueError) as error:
        parse_spec(spec)
    for fragment in fragments:
        assert fragment in str(error.value)


def test_non_string_spec_is_a_type_error():
    with pytest.raises(TypeError, match="`spec` must be a string"):
        parse_spec(["C(1,1,1)"])
