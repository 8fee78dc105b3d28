#!/usr/bin/env python3
"""Posts one MIKEY body to kmsd over one keep-alive HTTPS connection until it is refused.

Usage: post_until_refused.py <port> <ca-file> <body-file> <max-posts>
Every reply must be 200 (a MIKEY message: kmsd answers only once the message's audit row is
durable) until the first 503 (the row could not be made durable). Prints one line:
  "answered=<n> refused_after_s=<seconds the refused post took> status=<first non-200>"
and exits 0 when a 503 came within <max-posts>, 1 otherwise (no refusal, or another status).
Evaluator checklist item 22: audit storage full.
"""
import http.client
import ssl
import sys
import time

port, ca, body_file, max_posts = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
body = open(body_file, "rb").read()
ctx = ssl.create_default_context(cafile=ca)
conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
headers = {"Content-Type": "application/mikey"}

answered = 0
for _ in range(max_posts):
    start = time.monotonic()
    try:
        conn.request("POST", "/kms", body=body, headers=headers)
        reply = conn.getresponse()
        reply.read()
        status = reply.status
    except (OSError, http.client.HTTPException) as e:
        # kmsd may close a keep-alive connection after a refusal; reconnect once and go on.
        conn.close()
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
        status = "error:%s" % type(e).__name__
    took = time.monotonic() - start
    if status == 200:
        answered += 1
        continue
    print("answered=%d refused_after_s=%.3f status=%s" % (answered, took, status))
    sys.exit(0 if status == 503 else 1)
print("answered=%d refused_after_s=- status=none" % answered)
sys.exit(1)
