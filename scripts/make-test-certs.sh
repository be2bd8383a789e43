#!/bin/sh
# make-test-certs.sh DIR - certificates for the TLS tests and examples
# (openssl command line; P-256 keys, quick to make).  Writes into DIR:
#   ca.pem ca.key           a CA, "corio test CA"
#   server.pem server.key   for localhost, DNS:localhost and IP:127.0.0.1, signed by the CA
#   expired.pem expired.key for localhost, signed by the CA, expired yesterday
#   other.pem other.key     for other.example only, signed by the CA
#   self.pem self.key       for localhost, self-signed (no CA)
#   client.pem client.key   a client certificate, "corio test client", signed by the CA
#
#   scripts/make-test-certs.sh /tmp/certs
#   build/examples/tls_echo_server 8443 /tmp/certs/server.pem /tmp/certs/server.key &
#   build/examples/echo_client --tls --cafile /tmp/certs/ca.pem localhost 8443
set -eu
[ $# -eq 1 ] || { echo "usage: make-test-certs.sh DIR" >&2; exit 2; }
dir=$1
mkdir -p "$dir"
cd "$dir"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ext=ext.cnf

key ca.key
openssl req -x509 -new -key ca.key -subj "/CN=corio test CA/O=corio" -days 3650 -out ca.pem \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

# leaf NAME CN DAYS SAN [ISSUER]: NAME.key and NAME.pem; DAYS -1 makes it expired.
leaf() {
    key "$1.key"
    printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=%s\n' "$4" >"$ext"
    openssl req -new -key "$1.key" -subj "/CN=$2/O=corio" -out "$1.csr" 2>/dev/null
    if [ "${5:-ca}" = self ]; then
        openssl x509 -req -in "$1.csr" -signkey "$1.key" -days "$3" -extfile "$ext" -out "$1.pem" 2>/dev/null
    else
        openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days "$3" -extfile "$ext" \
            -out "$1.pem" 2>/dev/null
    fi
    rm -f "$1.csr"
}
leaf server localhost 825 "DNS:localhost,IP:127.0.0.1"
leaf expired localhost -1 "DNS:localhost,IP:127.0.0.1"
leaf other other.example 825 "DNS:other.example"
leaf self localhost 825 "DNS:localhost,IP:127.0.0.1" self
leaf client "corio test client" 825 "email:client@corio.test"
rm -f "$ext" ca.srl
