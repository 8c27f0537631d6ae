"""``ser serve``: options reach the app and uvicorn; a bad model stops it with a clear message."""

from __future__ import annotations

import pytest

from ser.cli.main import build_parser, main


def test_help_lists_serve(capsys):
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    out = capsys.readouterr().out
    assert "--host" in out and "--port" in out and "--model" in out


def test_options_reach_uvicorn_and_the_limits(monkeypatch, serve_model_dir):
    import uvicorn

    from uvicorn.protocols.http.h11_impl import H11Protocol

    calls = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda server, sockets=None: calls.append(server.config))
    status = main(
        [
            "serve", "--host", "0.0.0.0", "--port", "8123", "--model", str(serve_model_dir), "--workers", "3",
            "--max-upload-mb", "2", "--max-duration", "30", "--max-pending", "5", "--max-streams", "2", "--threads", "1",
            "--max-per-client", "4", "--max-receiving-mb", "8",
        ]
    )
    assert status == 0
    (options,) = calls
    app = options.app
    assert options.host == "0.0.0.0" and options.port == 8123
    config = app.state.config
    assert (config.workers, config.max_pending, config.max_streams, config.max_connections_per_client) == (3, 5, 2, 4)
    assert config.max_upload_bytes == 2 * 2**20 and config.max_duration_s == 30.0
    assert config.max_receiving_bytes == 8 * 2**20
    assert options.ws_max_size > config.max_message_bytes
    assert issubclass(options.http, H11Protocol) and options.http is not H11Protocol  # the guarded protocol
    assert app.state.recognizer.backend.session.get_session_options().intra_op_num_threads == 1


def test_environment_limits(monkeypatch, serve_model_dir):
    from ser.cli.serve import build_app

    monkeypatch.setenv("SER_MAX_UPLOAD_MB", "0.5")
    monkeypatch.setenv("SER_MAX_DURATION", "12")
    args = build_parser().parse_args(["serve", "--model", str(serve_model_dir)])
    config = build_app(args).state.config
    assert config.max_upload_bytes == 2**19 and config.max_duration_s == 12.0


def test_bad_model_exits_2(tmp_path, capsys):
    assert main(["serve", "--model", str(tmp_path / "nothing")]) == 2
    assert "no such model folder" in capsys.readouterr().err


@pytest.mark.parametrize("argument", [["--port", "70000"], ["--workers", "0"], ["--max-upload-mb", "-1"]])
def test_bad_options(argument, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["serve", *argument])
    assert exited.value.code == 2
