#!/usr/bin/env python3
"""Signs one request with botocore's SigV4Auth, for crates/tollgate-auth/tests/sigv4.rs.

Reads a JSON object on stdin:
  method, url            the request; the URL's path and query are sent as given
  headers                [[name, value], ...] sent with the request (optional)
  params                 [[name, value], ...] query parameters botocore encodes itself
                         (optional; appended to the URL the way botocore prepares them)
  body                   the body as a UTF-8 string (optional)
  access_key, secret_key, token (optional), region, service
  timestamp | epoch      the signing time: ISO 8601 basic format (20250301T120000Z), or
                         seconds since the Unix epoch

Prints a JSON object: method, path and query (as they go on the wire), host (what an HTTP
client sends as Host), headers ([[name, value], ...] after signing) and body.

Exits 3 with a message on stderr when botocore cannot be imported.
"""

import datetime
import json
import sys
from urllib.parse import urlsplit

try:
    import botocore.auth
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError as exc:  # pragma: no cover - reported to the Rust test
    sys.stderr.write(f"botocore is not importable by {sys.executable}: {exc}\n")
    sys.exit(3)


def main() -> None:
    spec = json.load(sys.stdin)
    if "epoch" in spec:
        fixed = datetime.datetime.fromtimestamp(spec["epoch"], tz=datetime.timezone.utc)
        fixed = fixed.replace(tzinfo=None)
    else:
        fixed = datetime.datetime.strptime(spec["timestamp"], "%Y%m%dT%H%M%SZ")
    # botocore reads the clock through this name (botocore.compat.get_current_datetime);
    # replacing it is how a test signs "20 minutes ago".
    botocore.auth.get_current_datetime = lambda *args, **kwargs: fixed

    body = spec.get("body")
    request = AWSRequest(
        method=spec["method"],
        url=spec["url"],
        headers=dict(),
        data=body.encode("utf-8") if body is not None else None,
        params=dict(spec["params"]) if spec.get("params") else None,
    )
    for name, value in spec.get("headers", []):
        request.headers[name] = value

    credentials = Credentials(spec["access_key"], spec["secret_key"], spec.get("token"))
    SigV4Auth(credentials, spec["service"], spec["region"]).add_auth(request)
    prepared = request.prepare()

    parts = urlsplit(prepared.url)
    out = {
        "method": prepared.method,
        "path": parts.path or "/",
        "query": parts.query if parts.query else None,
        "host": botocore.auth._host_from_url(prepared.url),
        "headers": [[k, v] for k, v in prepared.headers.items()],
        "body": body,
    }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
