#!/usr/bin/env python3
"""Slow-sender probe for kmsd (issue 7 item 1: slow-sender protection; slow-loris).

Opens a connection and drips one byte every --interval seconds:
  --drip body       TLS, the request headers at once announcing a body, then the body;
  --drip headers    TLS, the request headers themselves, so they are never complete;
  --drip handshake  plain TCP, a TLS handshake record header announcing 512 bytes, then
                    those bytes, so the TLS handshake never completes;
or sends the headers and then nothing with --silent. Prints the number of seconds until the
server closed the connection, or "open" if it was still open after --give-up seconds.
"""
import argparse
import socket
import ssl
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--interval", type=float, default=0.3)
    ap.add_argument("--drip", choices=["body", "headers", "handshake"], default="body")
    ap.add_argument("--silent", action="store_true", help="send headers only, then nothing")
    ap.add_argument("--give-up", type=float, default=30.0)
    a = ap.parse_args()

    body_len = 400
    head = (f"POST /kms HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/mikey\r\n"
            f"Content-Length: {body_len}\r\n\r\n").encode()
    s = socket.create_connection(("127.0.0.1", a.port), timeout=a.give_up)
    start = time.monotonic()
    if a.drip == "handshake":
        # TLS record: type 22 (handshake), version 3.1, length 512 (RFC 8446 §5.1).
        s.sendall(b"\x16\x03\x01\x02\x00")
        drip = bytes(512)
    else:
        ctx = ssl.create_default_context(cafile=a.ca)
        ctx.check_hostname = False
        s = ctx.wrap_socket(s, server_hostname="localhost")
        if a.drip == "headers":
            drip = head
        else:
            s.sendall(head)
            drip = bytes([1]) * body_len
    if a.silent:
        drip = b""
    s.settimeout(a.interval)
    sent = 0
    while time.monotonic() - start < a.give_up:
        try:
            if s.recv(4096) == b"":
                break  # orderly close by the server
        except socket.timeout:
            pass
        except (ssl.SSLError, OSError):
            break  # reset: closed as well
        if sent < len(drip):
            try:
                s.sendall(drip[sent:sent + 1])
                sent += 1
            except (ssl.SSLError, OSError):
                break
    else:
        print("open")
        return
    print(f"{time.monotonic() - start:.1f}")


if __name__ == "__main__":
    main()
