"""A live OpenID 2.0 provider for tests/it/openid_live.rs: the server side of python3-openid
3.2.0 (PyPI), the Python sibling of ruby-openid 2.7.0 that the platform's provider runs on
(maestrano/mno-api-sandbox cd52c0b, Gemfile), independent of the SDK.

It serves the sandbox's routes and documents (config/routes.rb `namespace :openid`):
- GET  /api/openid/provider/<app> with Accept: application/xrds+xml: the provider's XRDS
  (app/views/api/openid/provider/show.xrds.builder: an OPENID_IDP_2_0_TYPE service);
- GET or POST /api/openid/provider/<app>: the endpoint (associate, checkid_setup,
  check_authentication), every request decoded and answered by openid.server.server.Server;
- GET  /api/openid/provider/<app>/users/<uid>: the user's XRDS
  (app/views/api/openid/users/show.xrds.builder: OPENID_2_0_TYPE with the endpoint and LocalID).

A checkid_setup is approved at once for the user of the sandbox's attribute set
(provider_controller.rb `add_identity_details`, blank values dropped), with the AX values the
request asked for. The positive assertion is longer than a redirect allows, so python3-openid
answers it as an auto-submitting POST form, as the platform does.

Run: python provider.py [--sha1-only]  (prints "listening <port>" once it serves
127.0.0.1:<port>). With --sha1-only the provider associates with HMAC-SHA1 alone (its
SessionNegotiator allows nothing else), as an old provider would: it answers a request for
HMAC-SHA256 with `unsupported-type` and suggests HMAC-SHA1.
"""
import datetime
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from openid.association import SessionNegotiator
from openid.extensions import ax
from openid.server import server as oidserver
from openid.store.memstore import MemoryStore

APP = "app-1a2b"
SHA1_ONLY = "--sha1-only" in sys.argv[1:]
USER = "usr-1"

XRDS = """<?xml version="1.0" encoding="UTF-8"?>
<xrds:XRDS xmlns:openid="http://openid.net/xmlns/1.0" xmlns:xrds="xri://$xrds" xmlns="xri://$xrd*($v*2.0)">
  <XRD>
    <Service priority="1">
      <Type>{type}</Type>
      <Type>http://openid.net/extensions/sreg/1.1</Type>
      <Type>http://openid.net/sreg/1.0</Type>
      <Type>http://openid.net/srv/ax/1.0</Type>
      <URI>{endpoint}</URI>{local_id}
    </Service>
  </XRD>
</xrds:XRDS>
"""


def attributes():
    # add_identity_details at cd52c0b: the type URIs and the sandbox's values; the role is
    # blank (dropped) and the session expires 3 minutes from now.
    expires = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=3))
    values = {
        "http://openid.net/schema/person/guid": USER,
        "http://openid.maestrano.com/schema/person/vguid": "usr-1.cld-1",
        "http://openid.net/schema/namePerson/first": "Jane",
        "http://openid.net/schema/namePerson/last": "Doe",
        "http://openid.net/schema/contact/internet/email": "jane@example.com",
        "http://openid.maestrano.com/schema/contact/internet/vemail": "usr-1.cld-1@example.com",
        "http://openid.net/schema/contact/country/home": "AU",
        "http://openid.net/schema/contact/city/home": "Los Angeles",
        "http://openid.net/schema/timezone": "America/Los_Angeles",
        "http://openid.maestrano.com/schema/session/key": "abcdefghijklmnopqrstuvwxyz0123456789",
        "http://openid.maestrano.com/schema/session/expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "http://openid.maestrano.com/schema/company/guid": "cld-1",
        "http://openid.maestrano.com/schema/company/role": "",
        "http://openid.net/schema/company/name": "Acme Pty",
        "http://openid.maestrano.com/schema/company/email": "cld-1@example.com",
        "http://openid.maestrano.com/schema/company/country": "US",
        "http://openid.maestrano.com/schema/company/city": "Los Angeles",
        "http://openid.maestrano.com/schema/company/timezone": "America/Los_Angeles",
        "http://openid.maestrano.com/schema/company/reseller_id": "",
    }
    return {k: v for k, v in values.items() if v != ""}


class Handler(BaseHTTPRequestHandler):
    server_version = "python3-openid-provider"

    def log_message(self, *args):
        pass

    def send(self, code, body, content_type="text/html; charset=UTF-8", headers=()):
        body = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.handle_any(urllib.parse.urlsplit(self.path).query)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        self.handle_any(self.rfile.read(length).decode())

    def handle_any(self, query):
        base = f"http://127.0.0.1:{self.server.server_port}"
        endpoint = f"{base}/api/openid/provider/{APP}"
        path = urllib.parse.urlsplit(self.path).path
        wants_xrds = "application/xrds+xml" in self.headers.get("Accept", "")
        if path == f"/api/openid/provider/{APP}/users/{USER}":
            identity = base + path
            return self.send(200, XRDS.format(
                type="http://specs.openid.net/auth/2.0/signon", endpoint=endpoint,
                local_id=f"\n      <LocalID>{identity}</LocalID>"), "application/xrds+xml")
        if path != f"/api/openid/provider/{APP}":
            return self.send(404, "not found")
        args = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        if wants_xrds and not args:
            return self.send(200, XRDS.format(
                type="http://specs.openid.net/auth/2.0/server", endpoint=endpoint, local_id=""),
                "application/xrds+xml")
        srv = self.server.openid(endpoint)
        try:
            request = srv.decodeRequest(args)
        except oidserver.ProtocolError as e:
            return self.reply(srv.encodeResponse(e))
        if request is None:
            return self.send(200, "This is an OpenID server endpoint.", "text/plain")
        if isinstance(request, oidserver.CheckIDRequest):
            identity = f"{endpoint}/users/{USER}"
            response = request.answer(True, None, identity=identity, claimed_id=identity)
            fetch = ax.FetchRequest.fromOpenIDRequest(request)
            answer = ax.FetchResponse(request=fetch)
            for type_uri, value in attributes().items():
                if fetch is not None and type_uri in fetch.requested_attributes:
                    answer.addValue(type_uri, value)
            response.addExtension(answer)
        else:
            response = srv.handleRequest(request)
        self.reply(srv.encodeResponse(response))

    def reply(self, web):
        body = web.body if web.body is not None else ""
        headers = [(k, v) for k, v in web.headers.items()]
        kind = "text/plain; charset=UTF-8" if web.code == 400 or body[:1] not in ("<", b"<") else "text/html; charset=UTF-8"
        self.send(web.code, body, kind, headers)


class Server(ThreadingHTTPServer):
    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.store = MemoryStore()
        self.servers = {}

    def openid(self, endpoint):
        if endpoint not in self.servers:
            srv = oidserver.Server(self.store, endpoint)
            if SHA1_ONLY:
                srv.negotiator = SessionNegotiator([("HMAC-SHA1", "DH-SHA1"), ("HMAC-SHA1", "no-encryption")])
            self.servers[endpoint] = srv
        return self.servers[endpoint]


if __name__ == "__main__":
    httpd = Server()
    print(f"listening {httpd.server_port}", flush=True)
    sys.stdin.close()
    httpd.serve_forever()
