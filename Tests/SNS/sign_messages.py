"""Signs SNS HTTP messages as SNS does, for the server's end-to-end SNS test (PyPI `cryptography`, which moto brings).

Usage: sign_messages.py DIR BASE_URL MESSAGE_FILE
- Makes an RSA key and a self-signed certificate, writes the certificate to DIR/serve/cert.pem (served by
  sns_endpoint.py at BASE_URL/cert.pem).
- Writes DIR/notification.json (SignatureVersion 2, SHA256, with a Subject) carrying MESSAGE_FILE's text as Message,
  and DIR/confirmation.json (SignatureVersion 1, SHA1) whose SubscribeURL is BASE_URL/confirm?Token=...
"""
import base64
import datetime
import json
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

root, base, message_file = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(os.path.join(root, "serve"), exist_ok=True)

key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.test.local")])
now = datetime.datetime.now(datetime.timezone.utc)
cert = (
    x509.CertificateBuilder()
    .subject_name(name)
    .issuer_name(name)
    .public_key(key.public_key())
    .serial_number(x509.random_serial_number())
    .not_valid_before(now - datetime.timedelta(days=1))
    .not_valid_after(now + datetime.timedelta(days=1))
    .sign(key, hashes.SHA256())
)
with open(os.path.join(root, "serve", "cert.pem"), "wb") as f:
    f.write(cert.public_bytes(serialization.Encoding.PEM))

stamp = now.strftime("%Y-%m-%dT%H:%M:%S.000Z")
topic = "arn:aws:sns:us-east-1:111122223333:guardduty-findings"


def sign(m, fields, algorithm):
    text = "".join("%s\n%s\n" % (k, m[k]) for k in fields if k in m)
    m["Signature"] = base64.b64encode(key.sign(text.encode(), padding.PKCS1v15(), algorithm)).decode()
    m["SigningCertURL"] = base + "/cert.pem"
    return m


with open(message_file) as f:
    event = f.read()
notification = sign(
    {"Type": "Notification", "MessageId": "4e7b1a5c-0001", "TopicArn": topic, "Subject": "GuardDuty finding",
     "Message": event, "Timestamp": stamp, "SignatureVersion": "2"},
    ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"], hashes.SHA256())
confirmation = sign(
    {"Type": "SubscriptionConfirmation", "MessageId": "4e7b1a5c-0002", "TopicArn": topic, "Token": "t0k3n",
     "Message": "You have chosen to subscribe to the topic.", "SubscribeURL": base + "/confirm?Token=t0k3n",
     "Timestamp": stamp, "SignatureVersion": "1"},
    ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"], hashes.SHA1())
for file, m in (("notification.json", notification), ("confirmation.json", confirmation)):
    with open(os.path.join(root, file), "w") as f:
        json.dump(m, f)
