#!/usr/bin/env bash
# Evaluator checklist item 16 against a real kmsd, token and database: kms-bench --timing
# sends 3,000 refused REQUEST_INITs of each class (wrong MAC in its first byte, in its last
# byte, unknown credential) in random order over one connection. Passes when every one was
# answered with a MIKEY Error and Welch's t between the classes stays within the threshold
# (src/cli/kms_bench/timing.h): the answer time tells neither where a MAC differs nor
# whether a credential exists. It failed before the unknown-credential path ran its MAC
# check on a decoy credential and before unknown ids were cached (t 10.2 and 5.5).
set -euo pipefail
bench="$1" kmsd="$2"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
rc=0
"$bench" --kmsd "$kmsd" --users 20 --timing 3000 --json >"$out" || rc=$?
python3 - "$out" "$rc" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
t = r["timing"]
for c in t["classes"]:
    print("%-24s median %8.1f us, mean below the crop %8.1f us, %d kept"
          % (c["class"], c["median_us"], c["mean_us_below_crop"], c["kept"]))
print("t first vs last MAC byte %.2f, unknown vs wrong MAC %.2f (threshold %.1f)"
      % (t["t_first_vs_last_byte"], t["t_unknown_vs_bad_mac"], t["threshold"]))
def check(cond, what):
    if not cond:
        sys.exit("timing probe: " + what)
check(t["mikey_errors"] == 3 * t["per_class"], "not every probe got a MIKEY Error")
check(all(c["kept"] >= 0.7 * t["per_class"] for c in t["classes"]), "a class lost its samples")
check(not t["difference"], "the classes' answer times differ")
check(r["errors_total"] == 0 and sys.argv[2] == "0", "kms-bench reported errors")
PY
