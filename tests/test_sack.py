"""The sender's SACK scoreboard (RFC 6675 section 4): IsLost, SetPipe and NextSeg on hand-made
scoreboards, in stream offsets with SMSS = 100."""

from tcplab.tcp.sack import Scoreboard

SMSS = 100


def board(*ranges):
    sb = Scoreboard()
    for s, e in ranges:
        sb.add(s, e)
    return sb


def test_add_merges_and_counts_only_new_bytes():
    sb = Scoreboard()
    assert sb.add(200, 300) == 100
    assert sb.add(250, 350) == 50
    assert sb.add(400, 500) == 100
    assert sb.add(300, 400) == 50          # bridges the two ranges
    assert sb.ranges() == [(200, 500)] and sb.sacked == 300
    assert sb.add(200, 500) == 0


def test_advance_forgets_what_the_cumulative_ack_covers():
    sb = board((200, 300), (400, 500))
    assert sb.advance(250)
    assert sb.ranges() == [(250, 300), (400, 500)] and sb.sacked == 150
    assert sb.advance(450) and sb.ranges() == [(450, 500)]
    assert not sb.advance(100)


def test_is_lost_needs_three_sacked_segments_or_more_than_two_smss_above():
    # One SACKed segment above: nothing is lost yet.
    assert board((100, 200)).lost_below(SMSS) == 0
    # Three discontiguous SACKed segments: everything un-SACKed below the lowest is lost.
    assert board((100, 200), (300, 400), (500, 600)).lost_below(SMSS) == 100
    # Or more than (DupThresh - 1) * SMSS = 200 bytes SACKed above.
    assert board((300, 501)).lost_below(SMSS) == 300
    assert board((300, 500)).lost_below(SMSS) == 0


def test_pipe_counts_unsacked_not_lost_bytes_and_retransmissions():
    sb = board((100, 400))                 # 0..100 is lost (300 bytes SACKed above)
    assert sb.pipe(0, 600, SMSS) == 200   # 400..600 may still be in flight
    sb.high_rxt = 100                      # the hole was retransmitted
    assert sb.pipe(0, 600, SMSS) == 300


def test_next_seg_finds_lost_holes_above_high_rxt_and_stops_at_sacked_data():
    sb = board((100, 200), (300, 400), (500, 600), (700, 800))
    assert sb.next_seg(0, 900, SMSS) == (0, 100, True)
    sb.high_rxt = 100
    assert sb.next_seg(0, 900, SMSS) == (200, 100, True)
    sb.high_rxt = 500
    # 600..700 has only one SACKed segment above it: not lost, offered under rule 3.
    assert sb.next_seg(0, 900, SMSS) == (600, 100, False)
    sb.high_rxt = 800
    assert sb.next_seg(0, 900, SMSS) is None
