#!/usr/bin/env python3
"""An MLLP receiver for tests/handoff_mllp.rs, built on python-hl7's MLLP server, so the sender
is checked against framing and acknowledgements written by someone else.

Usage: mllp_server.py PORTFILE LOGFILE

Listens on 127.0.0.1 (a free port, written to PORTFILE once listening), decodes messages as
ISO-2022-JP (env ENCODING overrides, e.g. utf-8), appends every received control ID (MSH-10) to
LOGFILE, one a line (and, when env NAMES_LOG is set, the control ID and PID-5 as decoded to that
file), and answers AA, except:
- REJECT_ID: the first time that message arrives it gets AR with MSA-3 and an ERR segment;
- DROP_ID: the first time that message arrives its connection is closed without an answer.
Runs until killed.
"""

import asyncio
import os
import sys

import hl7
from hl7.mllp import start_hl7_server

REJECT_TEXT = "患者が見つかりません"
REJECT_DETAIL = "患者番号の記録がありません"


async def main(portfile, logfile):
    encoding = os.environ.get("ENCODING", "iso2022_jp")
    reject_id = os.environ.get("REJECT_ID")
    drop_id = os.environ.get("DROP_ID")
    names_log = os.environ.get("NAMES_LOG")
    names = open(names_log, "a", encoding="utf-8") if names_log else None
    # Each special case happens once, across connections: the sender's retry must then succeed.
    done = set()
    log = open(logfile, "a", encoding="utf-8")

    async def handle(reader, writer):
        try:
            while True:
                message = await reader.readmessage()
                control_id = str(message.segment("MSH")(10))
                log.write(control_id + "\n")
                log.flush()
                if names is not None:
                    names.write(control_id + "\t" + str(message.segment("PID")(5)) + "\n")
                    names.flush()
                if control_id == drop_id and ("drop", control_id) not in done:
                    done.add(("drop", control_id))
                    return
                if control_id == reject_id and ("reject", control_id) not in done:
                    done.add(("reject", control_id))
                    ack = message.create_ack("AR")
                    ack.segment("MSA").assign_field(REJECT_TEXT, 3)
                    ack = hl7.parse(
                        str(ack) + "ERR|||204^Unknown key identifier^HL70357|E||||" + REJECT_DETAIL + "\r"
                    )
                else:
                    ack = message.create_ack("AA")
                writer.writemessage(ack)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            # The sender closed the connection: its conversation is over.
            pass
        finally:
            writer.close()

    server = await start_hl7_server(handle, "127.0.0.1", 0, encoding=encoding)
    port = server.sockets[0].getsockname()[1]
    # Written whole then renamed, so the test never reads half a port number.
    with open(portfile + ".tmp", "w") as f:
        f.write(str(port))
    os.replace(portfile + ".tmp", portfile)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: mllp_server.py PORTFILE LOGFILE")
    asyncio.run(main(sys.argv[1], sys.argv[2]))
