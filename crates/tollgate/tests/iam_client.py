#!/usr/bin/env python3
"""A client of an IAM-authorized route, the way AWS SDK users call one: botocore signs the
request (SigV4, service execute-api) and sends it. Used by crates/tollgate/tests/auth.rs.

Reads JSON on stdin: url, method, body (optional), access_key, secret_key, region,
skew_seconds (optional: sign as if the clock were that far off), tamper_body (optional: a
body sent instead of the signed one). Prints {"status": N, "body": "...",
"error_type": "..."}. Exits 3 when botocore cannot be imported.
"""

import datetime
import json
import sys

try:
    import botocore.auth
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from botocore.httpsession import URLLib3Session
except ImportError as exc:  # pragma: no cover - reported to the Rust test
    sys.stderr.write(f"botocore is not importable by {sys.executable}: {exc}\n")
    sys.exit(3)

spec = json.load(sys.stdin)
skew = spec.get("skew_seconds", 0)
if skew:
    fixed = datetime.datetime.utcnow() + datetime.timedelta(seconds=skew)
    botocore.auth.get_current_datetime = lambda *a, **k: fixed
body = spec.get("body")
request = AWSRequest(
    method=spec["method"],
    url=spec["url"],
    data=body.encode() if body is not None else None,
)
creds = Credentials(spec["access_key"], spec["secret_key"])
SigV4Auth(creds, "execute-api", spec["region"]).add_auth(request)
prepared = request.prepare()
if "tamper_body" in spec:
    prepared.body = spec["tamper_body"].encode()
    prepared.headers["Content-Length"] = str(len(prepared.body))
response = URLLib3Session().send(prepared)
print(json.dumps({
    "status": response.status_code,
    "body": response.content.decode("utf-8", "replace"),
    "error_type": response.headers.get("x-amzn-errortype", ""),
}))
