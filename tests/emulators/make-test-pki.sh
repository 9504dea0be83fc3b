#!/bin/sh
# make-test-pki.sh DIR [PASSPHRASE]
#
# Makes the throw-away PKI the emulators and their tests use, with the
# openssl CLI only.  Idempotent: files that exist and still fit together are
# kept; anything missing or inconsistent is made again.
#
#   ca.crt ca.key              test CA (trust anchor: give ca.crt as ca_file)
#   server.crt server.key      TLS server cert for localhost and 127.0.0.1 (SAN)
#   client.key                 RSA key, PKCS#8 PEM, unencrypted (JWT signing key)
#   client.pkcs1.key           the same key, traditional "RSA PRIVATE KEY" PEM
#   client.p8                  the same key, ENCRYPTED PKCS#8 (AES-256, PBKDF2)
#   client.passphrase          the passphrase of client.p8 (no newline)
#   client.pub                 its public key (SubjectPublicKeyInfo PEM)
#   client.crt                 self-signed X.509 cert of client.key: what a
#                              Salesforce connected app registers for JWT bearer
#   wrong.key wrong.crt        a second, unrelated key pair ("wrong key" tests)
#
# Keys are mode 0600.  PASSPHRASE defaults to "sluice-test-passphrase".
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 DIR [PASSPHRASE]" >&2
  exit 2
fi
dir=$1
pass=${2:-sluice-test-passphrase}
command -v openssl >/dev/null 2>&1 || { echo "$0: openssl not found" >&2; exit 1; }

umask 077
mkdir -p "$dir"
cd "$dir"
log=$(mktemp "${TMPDIR:-/tmp}/make-test-pki.XXXXXX")
trap 'rm -f "$log" server.csr server.ext' EXIT

run() {  # run CMD...: quiet unless it fails
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    echo "$0: failed: $*" >&2
    exit 1
  fi
}

newkey() {  # newkey FILE: a 2048-bit RSA key as unencrypted PKCS#8 PEM
  run openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1"
  chmod 600 "$1"
}

selfsigned() {  # selfsigned KEY CERT CN: a self-signed cert for KEY
  run openssl req -new -x509 -key "$1" -out "$2" -days 3650 -sha256 -subj "/CN=$3"
  chmod 644 "$2"
}

samekey() {  # samekey KEY CERT: does CERT hold KEY's public key?
  [ -f "$1" ] && [ -f "$2" ] || return 1
  a=$(openssl pkey -in "$1" -pubout 2>/dev/null) || return 1
  b=$(openssl x509 -in "$2" -noout -pubkey 2>/dev/null) || return 1
  [ -n "$a" ] && [ "$a" = "$b" ]
}

# --- test CA --------------------------------------------------------------
if ! samekey ca.key ca.crt; then
  newkey ca.key
  run openssl req -new -x509 -key ca.key -out ca.crt -days 3650 -sha256 \
    -subj "/CN=Sluice emulator test CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign"
  chmod 644 ca.crt
  rm -f server.crt  # signed by the old CA, if any
fi

# --- TLS server certificate (localhost, 127.0.0.1) --------------------------
if ! samekey server.key server.crt ||
   ! openssl verify -CAfile ca.crt server.crt >/dev/null 2>&1; then
  [ -f server.key ] || newkey server.key
  run openssl req -new -key server.key -out server.csr -subj "/CN=localhost"
  cat >server.ext <<'EOF'
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1
EOF
  run openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
    -days 825 -sha256 -extfile server.ext -out server.crt
  chmod 644 server.crt
  rm -f ca.srl
fi

# --- client key pair for the JWT bearer flow ---------------------------------
if ! samekey client.key client.crt; then
  [ -f client.key ] || newkey client.key
  selfsigned client.key client.crt "sluice-jwt-test"
  rm -f client.pkcs1.key client.p8 client.pub
fi
if [ ! -f client.pkcs1.key ]; then
  run openssl rsa -in client.key -traditional -out client.pkcs1.key
  chmod 600 client.pkcs1.key
fi
# The encrypted copy is remade when the passphrase changed.
if [ ! -f client.p8 ] || [ "$(cat client.passphrase 2>/dev/null)" != "$pass" ] ||
   ! openssl pkey -in client.p8 -passin "pass:$pass" -noout >/dev/null 2>&1; then
  run openssl pkcs8 -topk8 -v2 aes-256-cbc -v2prf hmacWithSHA256 -in client.key \
    -out client.p8 -passout "pass:$pass"
  chmod 600 client.p8
  printf '%s' "$pass" >client.passphrase
  chmod 600 client.passphrase
fi
if [ ! -f client.pub ]; then
  run openssl pkey -in client.key -pubout -out client.pub
  chmod 644 client.pub
fi

# --- an unrelated key pair ----------------------------------------------------
if ! samekey wrong.key wrong.crt; then
  [ -f wrong.key ] || newkey wrong.key
  selfsigned wrong.key wrong.crt "sluice-wrong-key"
fi

exit 0
