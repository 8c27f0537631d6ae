import subprocess
import sys

from ser.cli.main import main


def test_help_lists_commands(capsys):
    assert main([]) == 2
    out = capsys.readouterr().out
    assert "data" in out


def test_version():
    result = subprocess.run([sys.executable, "-m", "ser.cli.main", "--version"], capture_output=True, text=True)
    assert result.returncode == 0
    assert result.stdout.startswith("ser ")


def test_a_speaker_pattern_starting_with_a_dash_is_a_value_not_an_option():
    from ser.cli.main import _attach_pattern_values

    argv = ["predict", "d", "--adapt", "speaker", "--speaker-pattern", r"-(\d\d)$", "--format", "json"]
    assert _attach_pattern_values(argv) == ["predict", "d", "--adapt", "speaker", r"--speaker-pattern=-(\d\d)$",
                                            "--format", "json"]
    # A forgotten value stays an error of argparse's, not a pattern called "--format".
    assert _attach_pattern_values(["--speaker-pattern", "--format"]) == ["--speaker-pattern", "--format"]
