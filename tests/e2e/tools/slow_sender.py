#!/usr/bin/env python3
"""Slow-sender probe for kmsd (issue 7 item 1: slow-sender protection).

Opens a TLS connection, sends request headers announcing a body, then drips the body one byte
every --interval seconds (or sends nothing with --silent). Prints the number of seconds until
the server closed the connection, or "open" if it was still open after --give-up seconds.
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
    ap.add_argument("--silent", action="store_true", help="send headers only, then nothing")
    ap.add_argument("--give-up", type=float, default=30.0)
    a = ap.parse_args()

    ctx = ssl.create_default_context(cafile=a.ca)
    ctx.check_hostname = False
    raw = socket.create_connection(("127.0.0.1", a.port), timeout=a.give_up)
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    body_len = 400
    start = time.monotonic()
    head = (f"POST /kms HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/mikey\r\n"
            f"Content-Length: {body_len}\r\n\r\n")
    s.sendall(head.encode())
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
        if not a.silent and sent < body_len:
            try:
                s.sendall(b"\x01")
                sent += 1
            except (ssl.SSLError, OSError):
                break
    else:
        print("open")
        return
    print(f"{time.monotonic() - start:.1f}")


if __name__ == "__main__":
    main()
