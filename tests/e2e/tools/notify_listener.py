#!/usr/bin/env python3
"""A stand-in for systemd's notification socket (sd_notify(3)): binds a Unix datagram socket
and appends every message it receives, one per line, to a file until killed."""
import os
import socket
import sys


def main() -> None:
    path, out = sys.argv[1], sys.argv[2]
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    os.chmod(path, 0o777)  # kmsd may have dropped to another user
    with open(out, "a", buffering=1) as f:
        while True:
            msg = s.recv(4096).decode(errors="replace")
            for line in msg.splitlines():
                f.write(line + "\n")


if __name__ == "__main__":
    main()
