#!/usr/bin/env bash
# Makes the PKI seed inputs of the fuzz corpus once, with the OpenSSL command
# line (never Sealpost's own code): a root CA, a name-constrained issuing CA,
# leaves, an OCSP responder, CRLs, OCSP responses, PKCS#7 bundles, PKCS#10
# requests and PFX files in the layouts OpenSSL 3, OpenSSL -legacy and tools
# without a MAC write. The fixtures the OCSP/CRL target verifies against go
# to test/fuzz/fixtures/. Run from the repository root:
#   bash test/fuzz/make-seeds.sh
# The outputs are committed; running it again replaces them with new keys.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
C=corpus
mkdir -p fixtures "$C/pki-certificate" "$C/pki-request" "$C/pki-pfx" "$C/pki-revocation"
o() { openssl "$@" 2>/dev/null; }

cat >"$work/ext.cnf" <<'EOF'
[root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[issuing]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
nameConstraints = critical, permitted;DNS:contoso.com, permitted;DNS:.contoso.com, excluded;DNS:bad.contoso.com
crlDistributionPoints = URI:http://crl.example.test/root.crl
authorityInfoAccess = caIssuers;URI:http://aia.example.test/root.cer
[leaf]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:mail.contoso.com, DNS:*.mail.contoso.com, IP:192.0.2.1, email:postmaster@contoso.com
crlDistributionPoints = URI:http://crl.example.test/issuing.crl, URI:ldap://ldap.example.test/cn=crl
authorityInfoAccess = OCSP;URI:http://ocsp.example.test/, caIssuers;URI:http://aia.example.test/issuing.cer
certificatePolicies = 2.23.140.1.2.1
[responder]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = OCSPSigning
noCheck = ignored
[crl]
authorityKeyIdentifier = keyid
issuingDistributionPoint = critical, @idp
[idp]
fullname = URI:http://crl.example.test/issuing.crl
onlysomereasons = keyCompromise
[req]
distinguished_name = dn
[dn]
EOF

ca_dir() {
  mkdir -p "$work/$1"
  : >"$work/$1/index.txt"
  echo 1000 >"$work/$1/serial"
  echo 01 >"$work/$1/crlnumber"
  cat >"$work/$1/ca.cnf" <<EOF
[ca]
default_ca = d
[d]
dir = $work/$1
database = \$dir/index.txt
serial = \$dir/serial
crlnumber = \$dir/crlnumber
new_certs_dir = \$dir
certificate = \$dir/ca.pem
private_key = \$dir/ca.key
default_md = sha256
default_days = 3650
default_crl_days = 3650
policy = any
unique_subject = no
copy_extensions = none
[any]
commonName = optional
domainComponent = optional
organizationName = optional
countryName = optional
EOF
}

# Root (RSA) and the name-constrained issuing CA (EC).
ca_dir root
o req -x509 -new -newkey rsa:2048 -nodes -keyout "$work/root/ca.key" -out "$work/root/ca.pem" -days 3650 \
  -subj "/C=US/O=Fuzz Test/CN=Fuzz Root CA" -config "$work/ext.cnf" -extensions root
ca_dir issuing
o req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/issuing/ca.key" -out "$work/issuing.csr" \
  -subj "/DC=com/DC=Contoso/CN=Contoso Issuing CA"
o ca -batch -config "$work/root/ca.cnf" -in "$work/issuing.csr" -out "$work/issuing/ca.pem" -extfile "$work/ext.cnf" -extensions issuing -notext

leaf() { # name subject
  o req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/$1.key" -out "$work/$1.csr" -subj "$2"
  o ca -batch -config "$work/issuing/ca.cnf" -in "$work/$1.csr" -out "$work/$1.pem" -extfile "$work/ext.cnf" -extensions "${3:-leaf}" -notext
}
leaf mail1 "/DC=com/DC=Contoso/CN=mail1.contoso.com"
leaf revoked "/CN=revoked.contoso.com"
leaf responder "/CN=Contoso OCSP Responder" responder
o req -new -newkey rsa:2048 -nodes -keyout "$work/rsa.key" -out "$work/rsa.csr" -subj "/C=US/O=Woodgrove Bank/CN=woodgrovebank.com"
o ca -batch -config "$work/issuing/ca.cnf" -in "$work/rsa.csr" -out "$work/rsa.pem" -extfile "$work/ext.cnf" -extensions leaf -notext
o req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/self.key" -out "$work/self.pem" -days 365 \
  -subj "/CN=edge.contoso.com" -addext "subjectAltName=DNS:edge.contoso.com"

cp "$work/issuing/ca.pem" fixtures/issuing-ca.pem
cp "$work/mail1.pem" fixtures/mail1.pem
cp "$work/revoked.pem" fixtures/revoked.pem

# pki-certificate: DER, PEM, a PEM chain, PKCS#7 DER and PEM, bare Base64.
P=$C/pki-certificate
o x509 -in "$work/mail1.pem" -outform DER -out "$P/leaf-ec.der"
o x509 -in "$work/rsa.pem" -outform DER -out "$P/leaf-rsa.der"
o x509 -in "$work/root/ca.pem" -outform DER -out "$P/root-ca.der"
o x509 -in "$work/issuing/ca.pem" -outform DER -out "$P/issuing-ca-name-constraints.der"
o x509 -in "$work/responder.pem" -outform DER -out "$P/ocsp-responder.der"
cp "$work/self.pem" "$P/self-signed.pem"
cat "$work/mail1.pem" "$work/issuing/ca.pem" "$work/root/ca.pem" >"$P/chain.pem"
o crl2pkcs7 -nocrl -certfile "$P/chain.pem" -outform DER -out "$P/chain.p7b"
o crl2pkcs7 -nocrl -certfile "$work/mail1.pem" -out "$P/leaf.p7c.pem"
grep -v -- '-----' "$work/rsa.pem" >"$P/bare-base64.txt"

# pki-request: a PKCS#10 request made by OpenSSL, then subject lines as -SubjectName takes them
# (first line the subject, the others -DomainName values).
R=$C/pki-request
o req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/r.key" -outform DER -out "$R/openssl-request.der" \
  -subj "/DC=com/DC=Contoso/CN=mail1.contoso.com" -addext "subjectAltName=DNS:mail1.contoso.com,DNS:mail.contoso.com"
cp "$work/rsa.csr" "$R/openssl-request.pem"
printf 'DC=com,DC=Contoso,CN=mail1.contoso.com\nmail.contoso.com\n' >"$R/seed-subject.txt"
printf 'C=US,O="Contoso, Ltd",OU=IT+L=Redmond,CN=mail2.mail.contoso.com\nmail.contoso.com\n*.contoso.com\n' >"$R/quoted-multivalued.txt"
printf 'CN=woodgrovebank.com,E=postmaster@woodgrovebank.com,2.5.4.5=1234\nwoodgrovebank.com\n' >"$R/oid-and-email.txt"
printf 'CN=b\\,c\\+d\\"e,O=\\ \xc3\xa9t\xc3\xa9\n' >"$R/escapes-utf8.txt"

# pki-pfx (password "fuzz"): OpenSSL 3 default, -legacy, no MAC, unencrypted, certificates only, chain included.
X=$C/pki-pfx
o pkcs12 -export -inkey "$work/mail1.key" -in "$work/mail1.pem" -certfile "$work/issuing/ca.pem" -name "mail1" -passout pass:fuzz -out "$X/openssl3-default.pfx"
o pkcs12 -export -legacy -inkey "$work/rsa.key" -in "$work/rsa.pem" -passout pass:fuzz -out "$X/legacy-3des-rc2.pfx"
o pkcs12 -export -inkey "$work/mail1.key" -in "$work/mail1.pem" -nomac -passout pass:fuzz -out "$X/no-mac.pfx"
o pkcs12 -export -inkey "$work/self.key" -in "$work/self.pem" -keypbe NONE -certpbe NONE -nomac -passout pass:fuzz -out "$X/unencrypted.pfx"
o pkcs12 -export -nokeys -in "$work/mail1.pem" -passout pass:fuzz -out "$X/certificates-only.pfx"
o pkcs12 -export -inkey "$work/self.key" -in "$work/self.pem" -passout pass: -out "$X/empty-password.pfx"
chmod 644 "$X"/*.pfx

# pki-revocation: CRLs (with a revoked entry and reason, an IDP, PEM) and OCSP responses.
V=$C/pki-revocation
o ca -config "$work/issuing/ca.cnf" -revoke "$work/revoked.pem" -crl_reason keyCompromise
o ca -config "$work/issuing/ca.cnf" -gencrl -out "$work/issuing.crl"
o crl -in "$work/issuing.crl" -outform DER -out "$V/crl-revoked-entry.der"
cp "$work/issuing.crl" "$V/crl.pem"
sed -n '/^\[crl\]/,/^\[req\]/p' "$work/ext.cnf" | sed '$d' >>"$work/issuing/ca.cnf"
o ca -config "$work/issuing/ca.cnf" -gencrl -crlexts crl -out "$work/idp.crl"
o crl -in "$work/idp.crl" -outform DER -out "$V/crl-idp-some-reasons.der"
o ca -config "$work/root/ca.cnf" -gencrl -out "$work/root.crl"
o crl -in "$work/root.crl" -outform DER -out "$V/crl-empty-rsa.der"
ocsp() { # name cert signer signer-key [extra]
  o ocsp -issuer "$work/issuing/ca.pem" -cert "$2" -no_nonce -reqout "$work/$1.req"
  o ocsp -index "$work/issuing/index.txt" -rsigner "$3" -rkey "$4" -CA "$work/issuing/ca.pem" -reqin "$work/$1.req" -respout "$V/$1.der" -ndays 3650 ${5:-}
}
ocsp ocsp-good-by-ca "$work/mail1.pem" "$work/issuing/ca.pem" "$work/issuing/ca.key"
ocsp ocsp-revoked-by-ca "$work/revoked.pem" "$work/issuing/ca.pem" "$work/issuing/ca.key"
ocsp ocsp-good-delegated "$work/mail1.pem" "$work/responder.pem" "$work/responder.key"
ocsp ocsp-revoked-delegated-by-key "$work/revoked.pem" "$work/responder.pem" "$work/responder.key" -resp_key_id
printf '\x30\x03\x0a\x01\x06' >"$V/ocsp-unauthorized.der"
ls -l "$C"/pki-* fixtures
