"""The load tester's command line refuses a comparison whose halves ask for different work."""

import pytest

from backend.loadtest import cli


def test_compare_with_the_chats_own_settings_is_refused_with_the_reason(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.parse_args(["--compare", "--app-keep-settings", "--concurrency", "16"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "greedy direct half" in err and "bench.relay_bench" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["--compare", "--concurrency", "16"],
        ["--target", "app", "--app-keep-settings", "--concurrency", "16"],
    ],
)
def test_each_option_alone_is_accepted(argv):
    args = cli.parse_args(argv)
    assert args.concurrency == [16]
