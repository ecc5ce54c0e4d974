"""``expect detect NAME`` in scripted-segment tests (docs/scripted-tests.md): the runner reads
the DETECT events the connection writes to its trace (Eifel's verdicts, loss recovery start
and end, a dead peer), shows them in the transcript and lets a script check them like
notifications."""

from __future__ import annotations

import pytest

from tcplab.tcp.script import ScriptError, ScriptFailure, parse_text

# Fast retransmit and NewReno recovery: segment 1:501 lost, three duplicate ACKs, a full ACK.
RECOVERY = """\
config mss=500 iw=4 cc=newreno sack=false window_scale=false timestamps=false
config delayed_ack=false limited_transmit=false
iss 100
irs 500
0.000 open active
> S seq=0 win=65535 <mss 500>
0.020 < S. seq=0 ack=1 win=65535 <mss 500>
> . seq=1 ack=1 win=65535
app send 2000
> . seq=1:501 ack=1
> . seq=501:1001 ack=1
> . seq=1001:1501 ack=1
> P. seq=1501:2001 ack=1
0.040 < . seq=1 ack=1 win=65535
0.040 < . seq=1 ack=1 win=65535
0.040 < . seq=1 ack=1 win=65535
> . seq=1:501 ack=1 reason=FAST_RETX
"""
FULL_ACK = "0.060 < . seq=1 ack=2001 win=65535\n"


def run(body: str):
    return parse_text(body, "t.tcpscript").run()


def failure(body: str) -> str:
    with pytest.raises(ScriptFailure) as info:
        run(body)
    return str(info.value)


def test_detections_are_checked_in_order_and_consumed():
    run(RECOVERY + "expect detect RECOVERY_START\nexpect no detect RECOVERY_END\n"
        + FULL_ACK + "expect detect recovery-end\nexpect no detect SPURIOUS_RETX\n")


def test_a_missing_detection_fails_naming_what_was_reported():
    body = RECOVERY + "expect detect SPURIOUS_RETX\n"
    msg = failure(body)
    assert msg.startswith(f"t.tcpscript:{body.count(chr(10))}: ")
    assert ("no detection SPURIOUS_RETX since the last 'expect detect'; detections since: "
            "RECOVERY_START") in msg


def test_a_detection_is_consumed_once():
    msg = failure(RECOVERY + "expect detect RECOVERY_START\nexpect detect RECOVERY_START\n")
    assert "detections since: none" in msg
    # Consumed in order: RECOVERY_END is found, and RECOVERY_START lies before it.
    msg = failure(RECOVERY + FULL_ACK + "expect detect RECOVERY_END\n"
                  "expect detect RECOVERY_START\n")
    assert "no detection RECOVERY_START" in msg


def test_expect_no_detect_fails_when_it_was_reported():
    msg = failure(RECOVERY + "expect no detect RECOVERY_START\n")
    assert "the connection reported RECOVERY_START; detections so far: RECOVERY_START" in msg


def test_detections_appear_in_the_transcript():
    runner = run(RECOVERY + FULL_ACK)
    assert any("detect RECOVERY_START (recover 2000, NewReno, FlightSize 2000)" in line
               for line in runner.transcript)
    assert any("detect RECOVERY_END (ack 2001)" in line for line in runner.transcript)
    assert runner.detects == ["RECOVERY_START", "RECOVERY_END"]


@pytest.mark.parametrize("line", ["expect detect", "expect detect HAPPINESS",
                                  "expect no detect", "expect detect RECOVERY_START x"])
def test_bad_detect_lines_are_parse_errors(line):
    with pytest.raises(ScriptError) as info:
        parse_text(RECOVERY + line + "\n", "t.tcpscript")
    msg = str(info.value)
    assert msg.startswith(f"t.tcpscript:{RECOVERY.count(chr(10)) + 1}: ")
    assert "detect takes one of: SPURIOUS_RETX, GENUINE_RETX, RECOVERY_START" in msg
