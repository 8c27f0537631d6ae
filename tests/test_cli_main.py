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
