#!/usr/bin/env python3
"""Judges a testssl.sh JSON report (--jsonfile-pretty) of kmsd's Ua port.

Usage: testssl_verdict.py [--client-renegotiation-refused] REPORT.json
Prints one line per problem and a summary; exits 1 on any problem, 2 if the report cannot be
read.

What must hold (docs/security-target.md, TLS; evaluator checklist §2.26):
  * SSLv2, SSLv3, TLS 1.0 and 1.1 not offered; TLS 1.2 and 1.3 offered.
  * No NULL, anonymous, export, LOW, 3DES/IDEA or "average" (CBC) cipher; forward secrecy.
  * Every vulnerability check reports OK or INFO.
  * Nothing else above LOW, except the certificate's own findings (cert_*, DNS CAA): the
    test's certificate is self-signed and short-lived on purpose; the production certificate
    is the operator's.
  * Every finding named above is present, so an interrupted scan cannot pass.

--client-renegotiation-refused: the caller has shown that a client-initiated renegotiation
gets a close_notify and no second handshake (tls_scan_e2e.sh). testssl 3.0.8 reports that
answer as "VULNERABLE, DoS threat" when its four-try probe sees s_client exit 0 after
"closed" (it exempts a close only on its first try), so the finding is then shown as a note.
"""
import json
import sys

NOT_OFFERED = ["SSLv2", "SSLv3", "TLS1", "TLS1_1", "cipherlist_NULL", "cipherlist_aNULL",
               "cipherlist_EXPORT", "cipherlist_LOW", "cipherlist_3DES_IDEA",
               "cipherlist_AVERAGE"]
OFFERED = ["TLS1_2", "TLS1_3", "PFS"]
VULNERABILITIES = ["heartbleed", "CCS", "ticketbleed", "ROBOT", "secure_renego",
                   "secure_client_renego", "CRIME_TLS", "POODLE_SSL", "fallback_SCSV",
                   "SWEET32", "FREAK", "DROWN", "LOGJAM", "BEAST", "LUCKY13", "RC4"]
FINE = {"OK", "INFO", "LOW"}


def findings(report):
    out = {}
    for scan in report.get("scanResult", []):
        for items in scan.values():
            if not isinstance(items, list):
                continue
            for it in items:
                if isinstance(it, dict) and "id" in it and "severity" in it:
                    out.setdefault(it["id"], it)
    return out


def judge(report, renegotiation_refused=False):
    f = findings(report)
    problems = []
    notes = []
    reneg = f.get("secure_client_renego")
    if renegotiation_refused and reneg and reneg["severity"] not in ("OK", "INFO"):
        notes.append(f"note: secure_client_renego {reneg['severity']} {reneg['finding']}: "
                     "refusal verified separately (close_notify, one handshake)")
        f = dict(f, secure_client_renego=dict(reneg, severity="INFO"))
    for name in NOT_OFFERED + OFFERED + VULNERABILITIES:
        if name not in f:
            problems.append(f"{name}: missing from the report (scan incomplete?)")
    for name in NOT_OFFERED:
        if name in f and not f[name]["finding"].startswith("not offered"):
            problems.append(f"{name}: {f[name]['finding']}")
    for name in OFFERED:
        if name in f and not f[name]["finding"].startswith("offered"):
            problems.append(f"{name}: {f[name]['finding']}")
    for name in VULNERABILITIES:
        if name in f and f[name]["severity"] not in ("OK", "INFO"):
            problems.append(f"{name}: {f[name]['severity']} {f[name]['finding']}")
    for name, it in f.items():
        if it["severity"] in FINE or name.startswith("cert_") or name == "DNS_CAArecord":
            continue
        line = f"{name}: {it['severity']} {it['finding']}"
        if line not in problems and not any(p.startswith(name + ":") for p in problems):
            problems.append(line)
    return problems, notes, len(f)


def main():
    args = sys.argv[1:]
    refused = "--client-renegotiation-refused" in args
    args = [a for a in args if a != "--client-renegotiation-refused"]
    if len(args) != 1:
        print("usage: testssl_verdict.py [--client-renegotiation-refused] REPORT.json",
              file=sys.stderr)
        return 2
    try:
        with open(args[0]) as fh:
            report = json.load(fh)
    except (OSError, ValueError) as e:
        print(f"cannot read the report: {e}", file=sys.stderr)
        return 2
    problems, notes, count = judge(report, refused)
    for p in notes + problems:
        print(p)
    print(f"{count} findings, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
