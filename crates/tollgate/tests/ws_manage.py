"""Drive tollgate's @connections API with boto3's apigatewaymanagementapi client, as a backend
would, while a `websockets` client holds the connection. Exits non-zero on the first
difference from AWS's behaviour (aws-facts.md §4.3, §4.4).

usage: ws_manage.py WS_URL ENDPOINT_URL ACCESS_KEY_ID SECRET
"""

import asyncio
import json
import sys

import boto3
import botocore.exceptions
import websockets

WS_URL, ENDPOINT, AKID, SECRET = sys.argv[1:5]


def client(secret=SECRET):
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id=AKID,
        aws_secret_access_key=secret,
    )


def error_of(call):
    """(HTTP status, error code) of a call that must fail."""
    try:
        call()
    except botocore.exceptions.ClientError as e:
        return e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"]
    raise AssertionError("the call succeeded")


async def main():
    api = client()
    async with websockets.connect(WS_URL) as ws:
        await ws.send(json.dumps({"action": "whoami"}))
        conn_id = await asyncio.wait_for(ws.recv(), 5)
        assert len(conn_id) == 16 and conn_id.endswith("="), conn_id

        # PostToConnection: the client receives the data (boto3 sends it raw, the id
        # percent-encoded).
        await asyncio.to_thread(api.post_to_connection, ConnectionId=conn_id, Data=b"hello from the backend")
        got = await asyncio.wait_for(ws.recv(), 5)
        assert got == "hello from the backend", got

        # GetConnection: connectedAt, identity, lastActiveAt.
        info = await asyncio.to_thread(api.get_connection, ConnectionId=conn_id)
        assert info["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert info["Identity"]["SourceIp"] == "127.0.0.1", info
        assert info["ConnectedAt"] <= info["LastActiveAt"], info

        # Data over 128 KB → 413 PayloadTooLargeException.
        status, code = await asyncio.to_thread(
            error_of, lambda: api.post_to_connection(ConnectionId=conn_id, Data=b"x" * (128 * 1024 + 1))
        )
        assert (status, code) == (413, "PayloadTooLargeException"), (status, code)
        # Exactly 128 KB is fine.
        await asyncio.to_thread(api.post_to_connection, ConnectionId=conn_id, Data=b"y" * (128 * 1024))
        got = await asyncio.wait_for(ws.recv(), 5)
        assert len(got) == 128 * 1024

        # A bad signature is refused (403) and delivers nothing.
        status, code = await asyncio.to_thread(
            error_of, lambda: client("wrong-secret").post_to_connection(ConnectionId=conn_id, Data=b"forged")
        )
        assert status == 403, (status, code)
        assert code in ("InvalidSignatureException", "ForbiddenException"), code

        # A malformed id → 400; a well-formed unknown id → 410 Gone.
        status, code = await asyncio.to_thread(
            error_of, lambda: api.post_to_connection(ConnectionId="not-an-id", Data=b"x")
        )
        assert (status, code) == (400, "BadRequestException"), (status, code)
        status, code = await asyncio.to_thread(
            error_of, lambda: api.get_connection(ConnectionId="AAAAAAAAAAAAAAA=")
        )
        assert (status, code) == (410, "GoneException"), (status, code)

        # DeleteConnection: 204, and the client sees the close.
        resp = await asyncio.to_thread(api.delete_connection, ConnectionId=conn_id)
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204, resp
        try:
            extra = await asyncio.wait_for(ws.recv(), 5)
            raise AssertionError(f"expected the close, got {extra!r}")
        except websockets.exceptions.ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 1000, closed

    # The connection is gone: 410 for post, get and delete.
    for call in (
        lambda: api.post_to_connection(ConnectionId=conn_id, Data=b"late"),
        lambda: api.get_connection(ConnectionId=conn_id),
        lambda: api.delete_connection(ConnectionId=conn_id),
    ):
        status, code = await asyncio.to_thread(error_of, call)
        assert (status, code) == (410, "GoneException"), (status, code)
    print("ok", conn_id)


asyncio.run(main())
