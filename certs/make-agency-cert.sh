#!/bin/sh
# Development CA and certificates for mutual TLS with Safeguard Gateway. DEVELOPMENT ONLY.
#
#   certs/make-agency-cert.sh <agencyId> [outDir]     client certificate for an agency's system (clientAuth)
#   certs/make-agency-cert.sh --server [outDir]       server certificate for the gateway on 127.0.0.1 / localhost
#
# outDir defaults to data/certs (git-ignored). The development CA is made there on first use. Private keys are
# written 0600 and must never be committed. Prints the certificate's x5t#S256 thumbprint (the value an issuer puts
# in a certificate-bound token's cnf claim, RFC 8705).
set -eu
umask 077

if [ "$#" -lt 1 ]; then
  sed -n '2,10p' "$0"
  exit 2
fi
name="$1"
out="${2:-data/certs}"
mkdir -p "$out"

case "$name" in
  --server) subject="gateway-server" ;;
  *)
    if ! printf '%s' "$name" | grep -Eq '^[a-z0-9][a-z0-9-]{0,62}$'; then
      echo "make-agency-cert: \"$name\" is not an agency id (lower case letters, digits and hyphens)" >&2
      exit 2
    fi
    subject="$name" ;;
esac

ca_key="$out/dev-ca.key.pem"
ca_crt="$out/dev-ca.crt.pem"
if [ ! -f "$ca_key" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
    -subj "/O=Safeguard Gateway development/CN=Safeguard Gateway development CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$ca_key" -out "$ca_crt" 2>/dev/null
  echo "made the development CA: $ca_crt" >&2
fi

key="$out/$subject.key.pem"
csr="$out/$subject.csr.pem"
crt="$out/$subject.crt.pem"
ext="$out/$subject.ext"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -subj "/O=Safeguard Gateway development/CN=$subject" -keyout "$key" -out "$csr" 2>/dev/null
if [ "$name" = "--server" ]; then
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$ext"
else
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' > "$ext"
fi
openssl x509 -req -in "$csr" -CA "$ca_crt" -CAkey "$ca_key" -CAcreateserial -days 90 -extfile "$ext" -out "$crt" 2>/dev/null
rm -f "$csr" "$ext"
chmod 600 "$key"

thumbprint=$(openssl x509 -in "$crt" -outform DER | openssl dgst -sha256 -binary | openssl base64 -A | tr '+/' '-_' | tr -d '=')
echo "certificate: $crt" >&2
echo "private key: $key (keep it secret; never commit it)" >&2
echo "x5t#S256:    $thumbprint" >&2
printf '%s\n' "$thumbprint"
