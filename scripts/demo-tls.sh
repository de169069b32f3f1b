#!/usr/bin/env bash
# Regenerates the DEMO-ONLY TLS material and provider key under envoy/demo/ that the local
# Envoy config (envoy/envoy.yaml, cluster pool-hosted-demo) and the hosted-provider stand-in
# (`kvfleet sim --tls-cert … --require-key …`) use. Never use these in production: the private
# key is public, and the provider key is a placeholder.
set -euo pipefail
cd "$(dirname "$0")/../envoy/demo"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/ca-key.pem"
openssl req -x509 -new -key "$tmp/ca-key.pem" -sha256 -days 36500 -subj "/CN=kvfleet demo CA (not for production)" -out hosted-ca.pem
openssl ecparam -name prime256v1 -genkey -noout -out hosted-server-key.pem
openssl req -new -key hosted-server-key.pem -subj "/CN=hosted.kvfleet.test" -out "$tmp/server.csr"
printf 'subjectAltName=DNS:hosted.kvfleet.test,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$tmp/ext.cnf"
openssl x509 -req -in "$tmp/server.csr" -CA hosted-ca.pem -CAkey "$tmp/ca-key.pem" -CAcreateserial -days 36500 -sha256 -extfile "$tmp/ext.cnf" -out hosted-server.pem
echo "wrote envoy/demo/hosted-ca.pem, hosted-server.pem, hosted-server-key.pem"
