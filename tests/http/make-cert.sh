#!/bin/sh
# make-cert.sh DIR: a throw-away CA and a certificate for 127.0.0.1 signed
# by it, for tests/unit/test_http.c.
set -eu
dir=$1
mkdir -p "$dir"
cd "$dir"
[ -f server.pem ] && exit 0
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=sluice test CA" \
  -keyout ca.key -out ca.pem >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
  -keyout server.key -out server.csr >/dev/null 2>&1
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >san.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
  -days 2 -extfile san.ext -out server.pem >/dev/null 2>&1
chmod 600 ca.key server.key
