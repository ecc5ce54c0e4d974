"""Scripted-segment tests (docs/scripted-tests.md): every ``tests/scripts/*.tcpscript`` runs as
its own test case; below them, unit tests of the parser's error messages and of the matcher's
strictness (a script that expects the wrong thing must fail, naming the line)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tcplab.tcp.script import ScriptError, ScriptFailure, parse_file, parse_text

SCRIPTS = sorted((Path(__file__).parent / "scripts").glob("*.tcpscript"))


def _case(path: Path):
    marks = []
    try:
        script = parse_file(path)
    except ScriptError:
        script = None            # the test itself reports the parse error
    if script is not None and script.xfail:
        # Only a behavioural failure counts as the expected one: a parse error or an engine
        # crash still fails the test.
        marks.append(pytest.mark.xfail(strict=True, raises=ScriptFailure, reason=script.xfail))
    return pytest.param(path, id=path.stem, marks=marks)


def test_there_are_scripts():
    assert len(SCRIPTS) >= 10


@pytest.mark.parametrize("path", [_case(p) for p in SCRIPTS])
def test_script(path: Path):
    parse_file(path).run()


# ====================================================================== helpers
HEADER = """\
config mss=500 sack=false window_scale=false timestamps=false delayed_ack=false
iss 100
irs 500
"""

HANDSHAKE = HEADER + """\
0.000 open active
> S seq=0 win=65535 <mss 500>
+20ms < S. seq=0 ack=1 win=65535 <mss 500>
> . seq=1 ack=1 win=65535
"""


def parse_error(body: str) -> str:
    with pytest.raises(ScriptError) as info:
        parse_text(body, "t.tcpscript")
    return str(info.value)


def run_failure(body: str) -> str:
    script = parse_text(body, "t.tcpscript")
    with pytest.raises(ScriptFailure) as info:
        script.run()
    return str(info.value)


def line_of(body: str, needle: str) -> int:
    return next(i for i, text in enumerate(body.splitlines(), 1) if needle in text)


# ====================================================================== the matcher is strict
def test_the_reference_handshake_passes():
    parse_text(HANDSHAKE, "t.tcpscript").run()


def test_a_wrong_expected_segment_fails_naming_line_expectation_and_what_was_sent():
    body = HANDSHAKE.replace("> S seq=0 win=65535 <mss 500>", "> S. seq=0 ack=1 win=65535")
    n = line_of(body, "> S. seq=0 ack=1")
    msg = run_failure(body)
    assert msg.startswith(f"t.tcpscript:{n}: the segment sent does not match")
    assert f"script line {n}: > S. seq=0 ack=1 win=65535" in msg
    assert "sent:  > S seq=0 win=65535 <mss 500> reason=SYN   (at 0.000)" in msg
    assert "- flags: sent S, expected S." in msg
    assert "0.000  open active" in msg                       # the transcript tail


@pytest.mark.parametrize("wrong, complaint", [
    ("> . seq=2 ack=1 win=65535", "seq: sent 1, expected 2"),
    ("> . seq=1 ack=0 win=65535", "ack: sent 1, expected 0"),
    ("> . seq=1 ack=1 win=65534", "win: sent 65535, expected 65534"),
    ("> . seq=1 ack=1 len=1", "len: sent 0 bytes, expected 1"),
    ("> . seq=1 ack=1 data=\"x\"", "data: sent b'', expected b'x'"),
    ("> . seq=1 ack=1 reason=DUP_ACK", "reason: sent for ACK, expected DUP_ACK"),
    ("> . seq=1 ack=1 <mss 500>", "options: expected mss 500, not sent as written"),
    ("> P. seq=1 ack=1", "flags: sent ., expected P."),
    ("> . seq=@101 ack=@502", "ack: sent 1, expected 2 (absolute 501 vs 502)"),
])
def test_every_written_field_is_compared(wrong, complaint):
    body = HANDSHAKE.replace("> . seq=1 ack=1 win=65535", wrong)
    msg = run_failure(body)
    assert msg.startswith(f"t.tcpscript:{line_of(body, wrong)}:")
    assert complaint in msg


@pytest.mark.parametrize("loose", [
    "> . seq=* ack=* win=*", "> *", "> . seq=@101 ack=@501", "> . seq=1 ack=1 <>",
    "> . seq=1:1 ack=1 len=0 data=\"\" reason=ACK",
])
def test_wildcards_and_absolute_numbers_match(loose):
    parse_text(HANDSHAKE.replace("> . seq=1 ack=1 win=65535", loose), "t.tcpscript").run()


def test_options_must_be_exactly_those_written_unless_dots_allow_more():
    body = HEADER.replace("timestamps=false", "timestamps=true") + """\
0.000 open active
> S seq=0 win=65535 <mss 500>
"""
    msg = run_failure(body)
    assert "options: sent <ts 0 0> that the script does not list" in msg
    for ok in ("<mss 500, ...>", "<ts 0 0, mss 500>", "<mss *, ts * 0>", "<...>"):
        parse_text(body.replace("<mss 500>", ok), "t.tcpscript").run()
    assert "ts 1 0, not sent as written" in run_failure(body.replace("<mss 500>",
                                                                      "<mss 500, ts 1 0>"))


def test_a_segment_nobody_expected_fails_the_next_step():
    body = HEADER + "0.000 open active\n+20ms < S. seq=0 ack=1 win=65535 <mss 500>\n"
    msg = run_failure(body)
    assert msg.startswith(f"t.tcpscript:{line_of(body, '< S.')}: unexpected segment sent at "
                          f"0.000, before this segment arrived")
    assert "sent:  > S seq=0 win=65535 <mss 500> reason=SYN" in msg


def test_a_segment_left_over_at_the_end_fails():
    msg = run_failure(HANDSHAKE + "app send 10\n")
    assert "unexpected segment sent at 0.020, not expected by the end of the script" in msg
    assert "sent:  > P. seq=1:11 ack=1 win=65535 reason=NEW_DATA" in msg


def test_nothing_until_catches_a_timer_driven_segment():
    body = HEADER + "0.000 open active\n> S seq=0\n> nothing until 1.000\n"
    msg = run_failure(body)
    assert msg.startswith(f"t.tcpscript:{line_of(body, 'nothing until')}: unexpected segment "
                          f"sent at 1.000")
    assert "reason=SYN_RETRY" in msg and "timer SYN expires" in msg
    # One step short of the expiry it passes, and the expiry then shows at its exact time.
    parse_text(HEADER + "0.000 open active\n> S seq=0\n> nothing until 0.999\n"
               "1.000 > S seq=0 reason=SYN_RETRY\n", "t.tcpscript").run()


def test_a_segment_sent_earlier_than_expected_fails_on_its_time():
    body = HEADER + "0.000 open active\n> S seq=0\n1.500 > S seq=0 reason=SYN_RETRY\n"
    msg = run_failure(body)
    assert "time: sent at 1.000, expected at 1.500" in msg


def test_an_expected_segment_that_is_not_sent_fails():
    msg = run_failure(HANDSHAKE + "+1ms > . seq=1 ack=1\n")
    assert "expected a segment at 0.021, but nothing was sent" in msg
    assert "no timer is running" in msg


@pytest.mark.parametrize("line, complaint", [
    ("expect state FIN-WAIT-1", "state is ESTABLISHED, expected FIN-WAIT-1"),
    ("expect cwnd=2001 ssthresh=*", "cwnd = 2000, expected 2001"),
    ("expect snd_una=2", "snd_una = 1, expected 2 (absolute 101 vs 102)"),
    ("expect srtt=21ms", "srtt = 0.020 s, expected 0.021 s"),
    ("expect rto=none", "rto = 1.000 s, expected none"),
    ("expect in_recovery=true", "in_recovery = false, expected true"),
    ("expect timer RTO on", "timer RTO is off, expected running"),
    ("expect timer DELACK at +200ms", "timer DELACK is off, expected due at 0.220"),
    ("expect note reset", "no note 'reset' since the last 'expect note'; notes since: "
                          "established"),
    ("expect no note established", "the application was told 'established'"),
    ("app send 200000", "the send buffer accepted 131072 bytes, the script expects 200000"),
    ("app read len=5", "read returned 0 bytes, the script expects 5"),
])
def test_expectations_fail_with_the_actual_value(line, complaint):
    body = HANDSHAKE + line + "\n"
    msg = run_failure(body)
    assert msg.startswith(f"t.tcpscript:{line_of(body, line)}: ")
    assert complaint in msg


def test_expectations_that_hold():
    parse_text(HANDSHAKE + """\
expect state ESTABLISHED
expect state established
expect cwnd=2000 ssthresh=2147483647 snd_una=1 snd_nxt=@101 rcv_nxt=1 srtt=20ms rttvar=0.01
expect timer SYN off
expect note established
expect no note reset
app send 200000 accepted=131072
""".replace("app send 200000 accepted=131072\n", "app send 200000 accepted=*\n"
            "> . seq=1:501\n> . seq=501:1001\n> . seq=1001:1501\n> . seq=1501:2001\n"
            "expect timer RTO at 1.020\n"), "t.tcpscript").run()


def test_relative_numbers_wrap_around_and_may_be_negative():
    body = HANDSHAKE.replace("iss 100", "iss 4294967295")
    script = parse_text(body, "t.tcpscript")
    assert script.iss == 0xFFFFFFFF
    script.run()
    # The SYN's absolute number, and a sequence number below ISS written as negative.
    parse_text(body.replace("> S seq=0", "> S seq=@4294967295"), "t.tcpscript").run()
    msg = run_failure(body.replace("> . seq=1 ack=1 win=65535", "> . seq=-1 ack=1"))
    assert "seq: sent 1, expected -1 (absolute 0 vs 4294967294)" in msg


def test_xfail_header_and_the_collected_cases():
    script = parse_text(HEADER + "xfail RFC 9293 3.10.7.4: the engine does X\n"
                        "0.000 open passive\n", "t.tcpscript")
    assert script.xfail == "RFC 9293 3.10.7.4: the engine does X"
    case = _case(SCRIPTS[0])
    assert case.id == SCRIPTS[0].stem


# ====================================================================== parse errors
@pytest.mark.parametrize("line, complaint", [
    ("0.100 hello", "unknown command 'hello'"),
    ("<S seq=0", "write a space after the direction: '< S'"),
    ("< Q seq=0", "bad flags 'Q': use tcpdump's letters"),
    ("< SS seq=0", "flag 'S' written twice in 'SS'"),
    ("< * seq=0", "an arriving segment needs real flags, not '*'"),
    ("< S", "an arriving segment needs seq="),
    ("< . seq=0", "an arriving segment with the ACK flag ('.') needs ack="),
    ("< S seq=0 wnd=5", "unknown segment field 'wnd'"),
    ("< S seq=0 reason=SYN", "unknown segment field 'reason' (reason= only on expected '>' lines)"),
    ("< S seq=* ", "seq=* is a wildcard, only for expected ('>') lines"),
    ("< S seq=0 seq=1", "seq= written twice"),
    ("< S seq=0 win=70000", "win=70000 does not fit the 16-bit window field"),
    ("< . seq=0 ack=1 len=3 data=\"ab\"", "len=3 but data= holds 2 bytes"),
    ("< . seq=1:5 ack=1 len=3", "seq range says 4 bytes but len=3"),
    ("< . seq=5:1 ack=1", "seq=5:1: the end lies before the start"),
    ("< . seq=0 ack=1 data=abc", "data takes a quoted string"),
    ("< . seq=0 ack=1 data=\"abc", "unterminated string"),
    ("< S seq=0 <mss 500", "option list '<' without its closing '>'"),
    ("< S seq=0 <mss>", "option 'mss' takes one value"),
    ("< S seq=0 <mss 500, foo 3>", "unknown option 'foo'"),
    ("< S seq=0 <ts 1>", "option ts takes TSval and TSecr"),
    ("< S seq=0 <sack 5>", "sack block '5' is not LEFT:RIGHT"),
    ("< S seq=0 <mss 500, ...>", "'...' (other options allowed) only in expected ('>') lines"),
    ("> S seq=0 <mss 500, nop>", "'nop' is padding, which expected lines do not compare"),
    ("> S seq=0 reason=SOMETHING", "unknown reason 'SOMETHING'; reasons: NEW_DATA"),
    ("> S seq=0 <mss 500> <ws 1>", "two option lists on one segment"),
    ("> nothing until", "write '> nothing' or '> nothing until TIME'"),
    ("> nothing until soon", "not a time: 'soon'"),
    ("> ", "'>' needs flags"),
    ("app", "app needs a call"),
    ("app write 5", "unknown app call 'write'"),
    ("app send", "app send needs a byte count or a string"),
    ("app send 5 accept=5", "app send takes only accepted=N"),
    ("app close now", "app close takes no arguments"),
    ("open sesame", "open takes 'active' (send SYN) or 'passive' (LISTEN)"),
    ("expect", "expect what?"),
    ("expect state OPEN", "unknown state 'OPEN'; states: CLOSED, LISTEN"),
    ("expect timer RTX at +1s", "unknown timer 'RTX'"),
    ("expect timer RTO soon", "expect timer KIND takes 'at TIME'"),
    ("expect note happy", "expect note takes one of:"),
    ("expect no state CLOSED", "write 'expect no note NAME'"),
    ("expect cwnd", "expect takes state, timer, note or NAME=VALUE, not 'cwnd'"),
    ("expect cwnd=5 wnd=4", "unknown variable 'wnd'; variables: cwnd"),
    ("expect cwnd=lots", "cwnd: not a number: 'lots'"),
    ("expect in_recovery=yes", "in_recovery is true or false, not 'yes'"),
    ("expect srtt=+5ms", "srtt: not a duration: '+5ms'"),
    ("expect snd_una=@5000000000", "snd_una=@5000000000 is not a 32-bit sequence number"),
    ("0.5", "a time with nothing to do at it"),
])
def test_parse_errors_name_the_line_and_the_problem(line, complaint):
    body = HEADER + "0.000 open active\n" + line + "\n"
    msg = parse_error(body)
    assert msg.startswith(f"t.tcpscript:{HEADER.count(chr(10)) + 2}: "), msg
    assert complaint in msg, msg


@pytest.mark.parametrize("body, lineno, complaint", [
    ("config mss=500 wobble=1\n", 1, "unknown TCP option 'wobble'; options: cc, "),
    ("config mss=500\nconfig mss=600\n", 2, "config option 'mss' set twice"),
    ("config nagle=yes\n", 1, "config nagle: expected true or false, got 'yes'"),
    ("config min_rto=fast\n", 1, "config min_rto: expected a duration"),
    ("config mss\n", 1, "config takes NAME=VALUE, not 'mss'"),
    ("config\n", 1, "config needs NAME=VALUE pairs"),
    ("config mss=10\nopen active\n", 2, "config: tcp.mss: 10 is outside 64..65495 bytes"),
    ("iss\n", 1, "iss takes one sequence number"),
    ("irs 4294967296\n", 1, "irs 4294967296 is not a 32-bit sequence number"),
    ("xfail\n", 1, "xfail needs a reason"),
    ("numbering sideways\n", 1, "numbering is 'relative' (the default) or 'absolute'"),
    ("open active\niss 5\n", 2, "'iss' belongs to the header, before the first step"),
    ("1.000 open active\n0.500 > S\n", 2, "time 0.500 is before the previous line's 1.000"),
    ("# only a comment\n\n", 0, "the script has no steps"),
])
def test_header_and_structure_errors(body, lineno, complaint):
    msg = parse_error(body)
    prefix = f"t.tcpscript:{lineno}: " if lineno else "t.tcpscript: "
    assert msg.startswith(prefix), msg
    assert complaint in msg, msg


def test_config_values_use_the_scenario_syntax():
    script = parse_text("config min_rto=0.2 delack_time=100ms nagle=false iw=10 cc=Reno "
                        "isn=7\nopen passive\n", "t.tcpscript")
    cfg = script.config
    assert (cfg.min_rto, cfg.delack_time, cfg.nagle, cfg.iw, cfg.cc) == \
        (200_000_000, 100_000_000, False, 10, "reno")
    assert script.iss == 7                   # isn stands in for a missing iss line


def test_comments_strings_and_description():
    script = parse_text('# What this shows.\n# Second line.\n\n' + HEADER +
                        '0.000 open active  # the SYN\n> S seq=0 # hash in a comment\n'
                        '+20ms < S. seq=0 ack=1 <mss 500>\n> .\n'
                        'app send "a#b\\x00"\n> P. seq=1:5 data="a#b\\x00"\n', "t.tcpscript")
    assert script.description == "What this shows.\nSecond line."
    script.run()


def test_the_command_line_runner(tmp_path, capsys):
    from tcplab.tcp.script import main
    good = tmp_path / "good.tcpscript"
    good.write_text(HANDSHAKE)
    bad = tmp_path / "bad.tcpscript"
    bad.write_text(HANDSHAKE.replace("ack=1 win=65535\n", "ack=2 win=65535\n"))
    assert main(["-v", str(good)]) == 0
    out = capsys.readouterr().out
    assert "ok      " in out and "> S seq=0 win=65535 <mss 500> reason=SYN" in out
    assert main([str(good), str(bad)]) == 1
    assert f"FAILED  {bad}" in capsys.readouterr().out
