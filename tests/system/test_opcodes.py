# SPDX-License-Identifier: BSD-3-Clause
# test_opcodes.py: what srvd answers to an opcode it does not implement, over UDP and TCP.
"""srvd implements QUERY only. Any other opcode (IQUERY, STATUS, NOTIFY, UPDATE,
DSO and the unassigned ones) gets NOTIMP as a bare header: the query's ID and
opcode, QR set, every other flag clear and no section at all, not even the
question or an OPT. RD, CD and AD are QUERY's flags and the body's layout is
the opcode's, so a server that does not know the opcode echoes none of them
(RFC 8906 3.1.4); this is what ISC's genreport checks in its full mode
(`opcode`, `opcodeflg`), and how BIND and Knot answer.
"""

import struct

import dns.flags
import dns.message
import dns.opcode
import pytest

from conftest import tcp_raw, udp_raw

TRANSPORTS = ["udp", "tcp"]
NOT_QUERY = list(range(1, 16))  # 4 (NOTIFY) and 5 (UPDATE) included: srvd does neither
Z = 0x0040  # the last reserved header bit (dnspython has no name for it)
ALL_FLAGS = (dns.flags.AA | dns.flags.TC | dns.flags.RD | dns.flags.RA | Z | dns.flags.AD
             | dns.flags.CD)


def send(srv, transport, wire):
    resp = (udp_raw if transport == "udp" else tcp_raw)(srv.port, wire)
    assert resp is not None, "no reply"
    return resp


def bare_notimp(qid, opcode):
    """The one reply allowed: ID, QR, the opcode, NOTIMP; all counts 0."""
    return struct.pack("!HHHHHH", qid, 0x8000 | opcode << 11 | 4, 0, 0, 0, 0)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("opcode", NOT_QUERY)
def test_unknown_opcode_with_question_rd_cd_ad(answers_srvd, transport, opcode):
    # a query dnspython builds, with an OPT (EDNS), then given the opcode and RD+CD+AD
    q = dns.message.make_query("web.svc.test.", "A", use_edns=0)
    q.id = 0x4100 + opcode
    q.set_opcode(opcode)
    q.flags |= dns.flags.RD | dns.flags.CD | dns.flags.AD
    resp = send(answers_srvd, transport, q.to_wire())
    assert resp == bare_notimp(q.id, opcode), resp.hex()


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("opcode", NOT_QUERY)
def test_unknown_opcode_header_only_all_flags(answers_srvd, transport, opcode):
    # genreport's opcodeflg: a header alone with every flag bit but QR set
    qid = 0x4200 + opcode
    wire = struct.pack("!HHHHHH", qid, opcode << 11 | ALL_FLAGS, 0, 0, 0, 0)
    resp = send(answers_srvd, transport, wire)
    assert resp == bare_notimp(qid, opcode), resp.hex()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_query_still_copies_rd_and_cd(answers_srvd, transport):
    # for QUERY the flags keep their meaning: RD and CD copied, AD not set
    q = dns.message.make_query("web.svc.test.", "A")
    q.flags |= dns.flags.RD | dns.flags.CD | dns.flags.AD
    resp = dns.message.from_wire(send(answers_srvd, transport, q.to_wire()))
    assert resp.opcode() == dns.opcode.QUERY
    assert resp.flags & (dns.flags.QR | dns.flags.RD | dns.flags.CD | dns.flags.AD) == (
        dns.flags.QR | dns.flags.RD | dns.flags.CD)
    assert len(resp.answer) == 1
