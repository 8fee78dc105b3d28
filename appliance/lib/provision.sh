# shellcheck shell=bash
# Provisioning helpers shared by the quickstart and the end-to-end tests. Everything lives
# under one state directory; nothing touches system paths.
#   kms_provision STATE BIN   token, keys, database, TLS certificate, demo users, kmsd.toml
#   kms_init_token STATE      SoftHSM2 config, PIN files and the token kms-demo
#   kms_tls_cert STATE        the TLS certificate and key, renewed when close to expiry
#   kms_start_kmsd STATE BIN  starts kmsd in the background; sets KMSD_PID and KMS_PORT;
#                             on failure stops what it started and returns 1
#   kms_stop_kmsd             stops the kmsd of kms_start_kmsd (for an EXIT trap)
#   kms_add_user STATE BIN NAME          one more demo user with a PSK
#   kms_provision_scenarios STATE BIN    group, mode-3 key and reuse policy (tests/e2e)

KMS_SOFTHSM2_MODULE="${KMS_SOFTHSM2_MODULE:-/usr/lib/softhsm/libsofthsm2.so}"

kms_provision() {
  local state="$1" bin="$2"
  mkdir -p "$state/users"
  kms_init_token "$state"
  local ctl=("$bin/src/cli/kmsctl" --db "$state/policy.db" --token "pkcs11:token=kms-demo"
             --pin-file "$state/user.pin" --operator quickstart)
  "${ctl[@]}" init >/dev/null
  # System default: anyone may request tickets for responders in example.org, 1 h at most,
  # forking required, 128-bit suite.
  "${ctl[@]}" policy set --may-request --max-validity 3600 --forking-required --suite 128 \
    --responder 'domain:*@example.org' >/dev/null
  kms_add_user "$state" "$bin" alice
  kms_add_user "$state" "$bin" bob
  kms_tls_cert "$state"
  cat >"$state/kmsd.toml" <<CONF
[kms]
identity = "https://127.0.0.1/kms"

[server]
listen = "127.0.0.1"
port = ${KMS_PORT_WANTED:-0}
tls_cert = "$state/tls.crt"
tls_key = "$state/tls.key"
threads = 2

[ops]
listen = "127.0.0.1"
port = 0

[token]
module = "$KMS_SOFTHSM2_MODULE"
uri = "pkcs11:token=kms-demo"
pin_file = "$state/user.pin"

[database]
path = "$state/policy.db"

[process]
seccomp = ${KMS_SECCOMP:-true}
CONF
}

# kms_init_token STATE   SOFTHSM2_CONF for STATE/tokens (exported), random STATE/{so,user}.pin
#   unless present, and unless done the token kms-demo in the first free slot with those
#   PINs (a token left without its user PIN by an interrupted run gets it).
#   The PINs never go on a command line, which every local user can read (ps,
#   /proc/PID/cmdline; evaluator checklist §1: PINs never on argv). softhsm2-util takes them
#   only as --so-pin/--pin or typed on a terminal (it needs one: no pipe), so pkcs11-tool
#   (OpenSC) initialises the token and reads them from its environment ("env:VAR").
#   Residual exposure: while that one short-lived process runs, /proc/PID/environ shows
#   them, to its own user (root for the quickstart) only, on this machine, for a demo token
#   under STATE. kmsd and kmsctl read the user PIN from STATE/user.pin (mode 0600).
kms_init_token() {
  local state="$1"
  mkdir -p "$state/tokens"
  chmod 700 "$state"
  export SOFTHSM2_CONF="$state/softhsm2.conf"
  cat >"$SOFTHSM2_CONF" <<CONF
directories.tokendir = $state/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
  (
    umask 077
    [ -s "$state/user.pin" ] || od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$state/user.pin"
    [ -s "$state/so.pin" ] || od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$state/so.pin"
  )
  local p11=(pkcs11-tool --module "$KMS_SOFTHSM2_MODULE")
  local slots
  slots=$("${p11[@]}" --list-slots 2>/dev/null)
  if ! grep -q "token label *: kms-demo *$" <<<"$slots"; then
    local free
    free=$(awk '/^Slot [0-9]+ / { i = $2 } /token state: *uninitialized/ { print i; exit }' \
      <<<"$slots")
    [ -n "$free" ] || { echo "no free SoftHSM2 slot under $state/tokens" >&2; return 1; }
    KMS_SO_PIN="$(cat "$state/so.pin")" "${p11[@]}" --slot-index "$free" --init-token \
      --label kms-demo --so-pin env:KMS_SO_PIN >/dev/null 2>&1 ||
      { echo "cannot initialise the token kms-demo" >&2; return 1; }
    slots=$("${p11[@]}" --list-slots 2>/dev/null)
  fi
  # The flags line of kms-demo's slot: "PIN initialized" once the user PIN is set.
  if ! awk '/token label *: / { t = ($4 == "kms-demo") } t && /token flags/ { print }' \
    <<<"$slots" | grep -q "PIN initialized"; then
    KMS_SO_PIN="$(cat "$state/so.pin")" KMS_USER_PIN="$(cat "$state/user.pin")" \
      "${p11[@]}" --token-label kms-demo --login --login-type so --so-pin env:KMS_SO_PIN \
      --init-pin --pin env:KMS_USER_PIN >/dev/null 2>&1 ||
      { echo "cannot set the user PIN of the token kms-demo" >&2; return 1; }
  fi
}

# kms_tls_cert STATE   STATE/tls.{crt,key}: a self-signed P-256 certificate for 127.0.0.1
#   valid 30 days, made anew when missing, unreadable or expiring within 7 days (else a
#   re-run of the quickstart a month later starts kmsd with an expired certificate, and
#   kms-client's verification against it fails), kept otherwise.
kms_tls_cert() {
  local state="$1"
  if [ -s "$state/tls.key" ] &&
    openssl x509 -in "$state/tls.crt" -noout -checkend $((7 * 86400)) >/dev/null 2>&1; then
    return 0
  fi
  (
    umask 077
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
      -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
      -keyout "$state/tls.key" -out "$state/tls.crt" 2>/dev/null
  )
}

kms_start_kmsd() {
  local state="$1" bin="$2"
  : >"$state/kmsd.log"
  "$bin/src/daemon/kmsd" --config "$state/kmsd.toml" 2>"$state/kmsd.log" &
  KMSD_PID=$!
  local i
  for i in $(seq 1 $((${KMSD_START_TIMEOUT:-10} * 10))); do
    if grep -q "event=started" "$state/kmsd.log"; then
      KMS_PORT=$(sed -n 's/.*event=started https_port=\([0-9]*\).*/\1/p' "$state/kmsd.log")
      KMS_OPS_PORT=$(sed -n 's/.* ops_port=\([0-9]*\).*/\1/p' "$state/kmsd.log")
      return 0
    fi
    if ! kill -0 "$KMSD_PID" 2>/dev/null; then
      cat "$state/kmsd.log" >&2
      kms_stop_kmsd
      return 1
    fi
    sleep 0.1
  done
  # Alive but not started (hung opening the token, say): stop it here, since a caller under
  # set -e ends on the return below, before it has any chance to stop what it never got.
  echo "kmsd did not start within ${KMSD_START_TIMEOUT:-10} s" >&2
  kms_stop_kmsd
  return 1
}

# kms_stop_kmsd   stops (SIGTERM) and reaps the kmsd of kms_start_kmsd, if any, and sets
#   KMSD_PID=0; safe in an EXIT trap set before kms_start_kmsd and safe to call twice.
kms_stop_kmsd() {
  local pid="${KMSD_PID:-0}"
  KMSD_PID=0
  [ "$pid" -gt 0 ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# kms_add_user STATE BIN NAME   unless NAME exists: user NAME (sip:NAME@example.org) with a
#   fresh 256-bit PSK imported into the token, and STATE/users/NAME/{identity,btid,psk}
kms_add_user() {
  local state="$1" bin="$2" u="$3"
  local ctl=("$bin/src/cli/kmsctl" --db "$state/policy.db" --token "pkcs11:token=kms-demo"
             --pin-file "$state/user.pin" --operator quickstart)
  "${ctl[@]}" user list | grep -q "^$u" && return 0
  "${ctl[@]}" user add "$u" --impi "$u@ims.example.org" --identity "sip:$u@example.org" >/dev/null
  mkdir -p "$state/users/$u"
  (
    umask 077
    openssl rand -hex 32 >"$state/users/$u/psk"
    echo -n "sip:$u@example.org" >"$state/users/$u/identity"
    echo -n "$(openssl rand -base64 12)@bsf.example.org" >"$state/users/$u/btid"
  )
  "${ctl[@]}" cred import "$u" --id "$(cat "$state/users/$u/btid")" \
    --key-file "$state/users/$u/psk" >/dev/null
}

# kms_provision_scenarios STATE BIN   after kms_provision: what the ticket-reuse, group and
#   mode-3 scenarios of `kms-client call` need (issue 8 item 5):
#   - users carol and dave (dave stays outside every group);
#   - group sip:team@example.org with members bob and carol;
#   - a mode-3 ticket key for alice in the token (STATE/users/alice/mode3.key and mode3.id);
#   - alice's own policy row: ticket reuse (J) within 600 s and mode-3 tickets allowed.
kms_provision_scenarios() {
  local state="$1" bin="$2"
  local ctl=("$bin/src/cli/kmsctl" --db "$state/policy.db" --token "pkcs11:token=kms-demo"
             --pin-file "$state/user.pin" --operator provision)
  kms_add_user "$state" "$bin" carol
  kms_add_user "$state" "$bin" dave
  if ! "${ctl[@]}" group list | grep -q "^sip:team@example.org"; then
    "${ctl[@]}" group add sip:team@example.org --description "scenario group" >/dev/null
    "${ctl[@]}" group member-add sip:team@example.org sip:bob@example.org >/dev/null
    "${ctl[@]}" group member-add sip:team@example.org sip:carol@example.org >/dev/null
  fi
  local a="$state/users/alice"
  if [ ! -s "$a/mode3.key" ]; then
    (
      umask 077
      openssl rand -hex 32 >"$a/mode3.key"
      echo -n "alice-mode3-$(openssl rand -hex 4)" >"$a/mode3.id"
    )
    "${ctl[@]}" cred import alice --id "$(cat "$a/mode3.id")" --key-file "$a/mode3.key" \
      --mode3 >/dev/null
  fi
  "${ctl[@]}" policy set --user alice --reuse --reuse-window 600 --mode3 >/dev/null
}
