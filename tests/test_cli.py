"""The command line as a user types it: outputs, exit codes, one-line errors."""

import json
import subprocess
import sys

import pytest

from tcplab.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_list_names_every_builtin(capsys):
    code, out, _ = run_cli(capsys, "run", "--list")
    assert code == 0
    for name in ("handshake", "transfer", "loss", "reorder", "close", "abort", "bulk"):
        assert name in out


def test_handshake_ladder_shows_article_numbers(capsys):
    code, out, _ = run_cli(capsys, "run", "handshake")
    assert code == 0
    assert "SYN seq=100" in out
    assert "SYN|ACK seq=500 ack=101" in out
    assert "ACK seq=101 ack=501" in out
    assert "three-way handshake is complete" in out


def test_loss_ladder_narrates_timer_expiry(capsys):
    code, out, _ = run_cli(capsys, "run", "loss")
    assert code == 0
    assert "retransmission timer expired after 1 s" in out
    assert "RFC 6298 5.4" in out
    assert "[retransmission]" in out


def test_summary_is_one_json_object(capsys):
    code, out, _ = run_cli(capsys, "run", "loss", "--summary")
    assert code == 0
    s = json.loads(out)
    assert {"connections", "totals", "scenario", "seed"} <= set(s)
    c = s["connections"][0]
    for key in ("bytes_written", "bytes_delivered", "data_segments_sent", "retransmissions",
                "dup_acks_received", "final_state", "completion_time"):
        assert key in c
    for key in ("events_processed", "simulated_seconds", "wall_seconds"):
        assert key in s["totals"]


def test_set_overrides_isn_and_link(capsys):
    code, out, _ = run_cli(capsys, "run", "handshake", "--set", "hosts.client.isn=4000",
                           "--set", "links.server-router.delay=0.02", "--summary")
    assert code == 0
    s = json.loads(out)
    client = [c for c in s["connections"] if c["role"] == "client"][0]
    assert client["iss"] == 4000


def test_set_apps_bytes_and_tcp_option(capsys):
    code, out, _ = run_cli(capsys, "run", "bulk", "--set", "apps.bulk.bytes=20000",
                           "--set", "tcp.cc=reno", "--set", "tcp.min_rto=0.2", "--summary")
    assert code == 0
    s = json.loads(out)
    client = [c for c in s["connections"] if c["role"] == "client"][0]
    assert client["bytes_written"] == 20000


@pytest.mark.parametrize("argv, fragment", [
    (["run", "nosuch"], "unknown scenario 'nosuch'"),
    (["run", "bulk", "--set", "links.r1-r2.loss=1.5"], "links.r1-r2.loss: 1.5 is outside [0, 1]"),
    (["run", "bulk", "--set", "links.r1-r9.loss=0.1"], "unknown link 'r1-r9'"),
    (["run", "bulk", "--set", "tcp.cc=vegas"], "unknown congestion control 'vegas'"),
    (["run", "bulk", "--set", "tcp.nosuch=1"], "tcp.nosuch: unknown TCP option"),
    (["run", "bulk", "--set", "noequals"], "expected KEY=VALUE"),
    (["run", "bulk", "--set", "hosts.nobody.isn=1"], "unknown host 'nobody'"),
    (["run", "bulk", "--set", "links.r1-r2.delay=-5ms"], "negative"),
    (["run", "handshake", "--until", "-1"], "--until must be a positive"),
    (["run", "handshake", "--pcap", "/nonexistent-dir/x.pcapng"], "does not exist"),
    (["run", "handshake", "--pcap", "x.pcapng", "--capture", "mars"], "--capture mars: unknown node"),
    (["run", "handshake", "--capture", "client"], "--capture needs --pcap"),
    (["run", "/no/such/file.toml"], "no such file"),
    (["run"], "needs a scenario"),
])
def test_errors_are_one_clear_line(capsys, argv, fragment):
    code, out, err = run_cli(capsys, *argv)
    assert code != 0
    assert fragment in err
    assert len(err.strip().splitlines()) == 1


def test_bad_toml_file_names_file(tmp_path, capsys):
    f = tmp_path / "bad.toml"
    f.write_text("[hosts.client\n")
    code, _, err = run_cli(capsys, "run", str(f))
    assert code == 1 and "bad.toml: not valid TOML" in err


def test_unknown_key_in_file_names_key(tmp_path, capsys):
    from tcplab.scenario import scenarios_dir
    text = (scenarios_dir() / "handshake.toml").read_text().replace("isn = 500", "isn = 500\ncolour = 3")
    f = tmp_path / "mine.toml"
    f.write_text(text)
    code, _, err = run_cli(capsys, "run", str(f))
    assert code == 1 and "mine.toml: hosts.server.colour: unknown key" in err


def test_version_flag():
    proc = subprocess.run([sys.executable, "-m", "tcplab.cli", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("tcplab ")


def test_pcap_written(tmp_path, capsys):
    out_file = tmp_path / "h.pcapng"
    code, out, _ = run_cli(capsys, "run", "handshake", "--pcap", str(out_file))
    assert code == 0 and out_file.stat().st_size > 100
    assert "3 packets written" in out or "packets written" in out


def test_gui_command_refuses_a_bad_file_before_opening_a_window(tmp_path, capsys):
    from tcplab.cli import main
    assert main([str(tmp_path / "missing.toml")]) == 1
    assert "missing.toml" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("[hosts.a]\n[hosts.b]\n[links.a-b]\nloss = 3\n")
    assert main([str(bad)]) == 1
    assert "loss" in capsys.readouterr().err
    assert main(["intro", "extra"]) == 2
    assert "unexpected" in capsys.readouterr().err


def test_gui_command_refuses_a_damaged_session(tmp_path, capsys):
    from tcplab.cli import main
    bad = tmp_path / "s.tcplab"
    bad.write_bytes(b"PK\x03\x04 truncated")
    assert main([str(bad)]) == 1
    err = capsys.readouterr().err
    assert "s.tcplab" in err and err.count("\n") == 1
