#!/usr/bin/env python3
"""Checks a PKCS#11 call trace written by OpenSC's pkcs11-spy against what kmsd may do with
its token (evaluator checklist §1; docs/security-target.md "Claims and their evidence").

Usage: pkcs11_trace_check.py SPY_LOG
Prints one line per violation and a summary; exits 1 if there is any violation, 2 if the
trace cannot be read or holds no call at all, 3 if calls of two threads are interleaved in
it (pkcs11-spy takes no lock: a call's result lines can land in another call's block), so
that it cannot be judged; the caller records a new trace then.

Rules (kmsd with credential_storage = "wrapped"):
  1. C_Login only as CKU_USER: never the SO, never CKU_CONTEXT_SPECIFIC.
  2. None of the calls that change the token's PINs or objects in place, copy an object,
     derive from a key or encrypt with one: kmsd's token work is HMAC, random numbers,
     unwrapping credentials and its start-up checks.
  3. Every object kmsd makes is a session object (CKA_TOKEN False).
  4. C_GetAttributeValue asks for CKA_VALUE only of an object this trace made with
     CKA_SENSITIVE False (a self-test key holding a public test value): never of a key found
     in the token, never of a credential. An object is unwrapped non-sensitive only under a
     key this trace created with C_CreateObject (the self-test's public test KEK), never
     under the KEK in the token.
  5. C_WrapKey only wraps an object this trace generated as a session object, and that object
     is destroyed later in the trace (the timing decoy: src/daemon/timing_decoy.h); a
     long-term key or a credential is never wrapped.
  6. An object made extractable (CKA_EXTRACTABLE True) is destroyed later in the trace.
"""
import re
import sys

FORBIDDEN = {
    "C_InitToken", "C_InitPIN", "C_SetPIN", "C_CopyObject", "C_SetAttributeValue",
    "C_DeriveKey", "C_DigestKey", "C_EncryptInit", "C_DecryptInit", "C_SetOperationState",
    "C_GenerateKeyPair",
}
CREATORS = {"C_GenerateKey", "C_UnwrapKey", "C_CreateObject"}


def parse(path):
    calls = []
    cur = None
    with open(path, errors="replace") as f:
        for line in f:
            m = re.match(r"^(\d+): (C_\w+)", line)
            if m:
                cur = {"n": int(m.group(1)), "fn": m.group(2), "lines": []}
                calls.append(cur)
            elif cur is not None:
                cur["lines"].append(line.rstrip("\n"))
    return calls


def field(call, name):
    """The value of an "[in] name = v" or "[out] name = v" line, or None."""
    for line in call["lines"]:
        m = re.match(r"^\[(?:in|out)\] " + re.escape(name) + r" = (\S+)", line)
        if m:
            return m.group(1)
    return None


def template(call):
    """Attribute -> value text of the [in] template (True/False/CKO_... or a length)."""
    attrs = {}
    section = None
    for line in call["lines"]:
        if line.startswith("[in] pTemplate"):
            section = "in"
            continue
        if line.startswith("[out]") or line.startswith("Returned"):
            section = None
            continue
        m = re.match(r"^\s+(CKA_\w+)\s+(.*)$", line)
        if section == "in" and m:
            attrs.setdefault(m.group(1), m.group(2).strip())
    return attrs


def ok(call):
    return any(re.match(r"^Returned:\s+0 CKR_OK", l) for l in call["lines"])


def interleaved(calls):
    """Numbers of the calls whose block does not hold exactly one result line."""
    return [c["n"] for c in calls
            if sum(1 for l in c["lines"] if l.startswith("Returned:")) != 1]


def check(calls):
    problems = []
    made = {}  # handle -> {"attrs": ..., "n": ..., "fn": ...}, live objects of this trace
    destroyed_after = {}  # handle -> call numbers of C_DestroyObject
    wrapped = []
    logins = 0
    for c in calls:
        fn, n = c["fn"], c["n"]
        if fn in ("C_Login", "C_LoginUser"):
            logins += 1
            user = field(c, "userType")
            if user != "CKU_USER":
                problems.append(f"call {n}: C_Login as {user}")
        if fn in FORBIDDEN:
            problems.append(f"call {n}: {fn} is never kmsd's")
        if fn in CREATORS:
            attrs = template(c)
            # Judged on the request, whether or not the token obliged.
            if attrs.get("CKA_TOKEN") != "False":
                problems.append(f"call {n}: {fn} makes a token object "
                                f"(CKA_TOKEN {attrs.get('CKA_TOKEN', 'absent')})")
            if fn == "C_UnwrapKey" and attrs.get("CKA_SENSITIVE") == "False":
                kek = made.get(field(c, "hUnwrappingKey"))
                if kek is None or kek["fn"] != "C_CreateObject":
                    problems.append(f"call {n}: C_UnwrapKey of a non-sensitive object under "
                                    "a key that is no self-test key")
            h = field(c, "hKey") if fn != "C_CreateObject" else field(c, "*phObject")
            if ok(c) and h is not None:
                made[h] = {"attrs": attrs, "n": n, "fn": fn}
        if fn == "C_DestroyObject":
            h = field(c, "hObject")
            destroyed_after.setdefault(h, []).append(n)
        if fn == "C_GetAttributeValue" and any(
                re.match(r"^\s+CKA_VALUE\s", l) for l in c["lines"]):
            h = field(c, "hObject")
            origin = made.get(h)
            if origin is None or origin["attrs"].get("CKA_SENSITIVE") != "False":
                problems.append(f"call {n}: C_GetAttributeValue(CKA_VALUE) of object {h}, "
                                "which is not a public self-test value")
        if fn == "C_WrapKey":
            h = field(c, "hKey")
            origin = made.get(h)
            if origin is None or origin["fn"] != "C_GenerateKey":
                problems.append(f"call {n}: C_WrapKey of object {h}, not a key this trace "
                                "generated")
            else:
                wrapped.append((n, h))
    for n, h in wrapped:
        if not any(d > n for d in destroyed_after.get(h, [])):
            problems.append(f"call {n}: the object {h} wrapped here is never destroyed")
    for h, origin in made.items():
        if origin["attrs"].get("CKA_EXTRACTABLE") == "True" and not any(
                d > origin["n"] for d in destroyed_after.get(h, [])):
            problems.append(f"call {origin['n']}: extractable object {h} is never destroyed")
    if logins == 0:
        problems.append("no C_Login in the trace")
    return problems, len(calls)


def main():
    if len(sys.argv) != 2:
        print(__doc__.splitlines()[2], file=sys.stderr)
        return 2
    try:
        calls = parse(sys.argv[1])
    except OSError as e:
        print(f"cannot read the trace: {e}", file=sys.stderr)
        return 2
    if not calls:
        print("the trace holds no PKCS#11 call", file=sys.stderr)
        return 2
    mixed = interleaved(calls)
    if mixed:
        print(f"interleaved calls (e.g. {mixed[:3]}): record the trace again", file=sys.stderr)
        return 3
    problems, count = check(calls)
    for p in problems:
        print(p)
    print(f"{count} calls, {len(problems)} violations")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
