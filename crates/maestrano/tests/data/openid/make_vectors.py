"""Builds the OpenID 2.0 test vectors of tests/it/openid.rs with an independent implementation:
the server side of python3-openid 3.2.0 (PyPI), the Python sibling of ruby-openid 2.7.0 that
the platform's provider runs on (maestrano/mno-api-sandbox cd52c0b, Gemfile).

It plays the sandbox provider (app/controllers/api/openid/base_controller.rb and
provider_controller.rb at cd52c0b): an `associate` answered as key-value form and wrapped in
the auto-submitting HTML page of `render_openid_response` (`auto_submitted_form`), then a
`checkid_setup` answered for a user with the AX data of `add_identity_details` (blank values
dropped, as that method does; AX added whether or not it was requested, as `add_ax` does) and
SReg, signed with the association.

Run: python3 -m venv v && v/bin/pip install python3-openid==3.2.0 defusedxml &&
     v/bin/python make_vectors.py > vectors.json
"""
import json
import time

from openid.extensions import ax, sreg
from openid.message import IDENTIFIER_SELECT, OPENID2_NS, Message
from openid.server import server as oidserver
from openid.store.memstore import MemoryStore

HOST = "http://api-sandbox.maestrano.io"
APP = "app-1a2b"
# config/routes.rb: namespace :openid, resources :provider (member post :/), resources :users.
OP = f"{HOST}/api/openid/provider/{APP}"
USER = "usr-1"
IDENTITY = f"{OP}/users/{USER}"
RETURN_TO = "https://app.example.com/maestrano/auth/openid/consume/acme-corp?state=s1"
REALM = "https://app.example.com/"

# provider_controller.rb add_identity_details, cd52c0b (user name "Jane", no role: dropped).
AX_DATA = {
    "type.u_guid": "http://openid.net/schema/person/guid", "value.u_guid": USER,
    "type.u_vguid": "http://openid.maestrano.com/schema/person/vguid", "value.u_vguid": "usr-1.cld-1",
    "type.u_fname": "http://openid.net/schema/namePerson/first", "value.u_fname": "Jane",
    "type.u_lname": "http://openid.net/schema/namePerson/last", "value.u_lname": "Doe",
    "type.u_email": "http://openid.net/schema/contact/internet/email", "value.u_email": "jane@example.com",
    "type.u_vemail": "http://openid.maestrano.com/schema/contact/internet/vemail",
    "value.u_vemail": "usr-1.cld-1@example.com",
    "type.u_country": "http://openid.net/schema/contact/country/home", "value.u_country": "AU",
    "type.u_city": "http://openid.net/schema/contact/city/home", "value.u_city": "Los Angeles",
    "type.u_tz": "http://openid.net/schema/timezone", "value.u_tz": "America/Los_Angeles",
    "type.u_session_key": "http://openid.maestrano.com/schema/session/key",
    "value.u_session_key": "abcdefghijklmnopqrstuvwxyz0123456789",
    "type.u_session_exp": "http://openid.maestrano.com/schema/session/expiration",
    "value.u_session_exp": "2026-12-03T12:03:00Z",
    "type.g_guid": "http://openid.maestrano.com/schema/company/guid", "value.g_guid": "cld-1",
    "type.g_u_role": "http://openid.maestrano.com/schema/company/role", "value.g_u_role": "",
    "type.g_name": "http://openid.net/schema/company/name", "value.g_name": "Acme Pty",
    "type.g_email": "http://openid.maestrano.com/schema/company/email", "value.g_email": "cld-1@example.com",
    "type.g_country": "http://openid.maestrano.com/schema/company/country", "value.g_country": "US",
    "type.g_city": "http://openid.maestrano.com/schema/company/city", "value.g_city": "Los Angeles",
    "type.g_tz": "http://openid.maestrano.com/schema/company/timezone", "value.g_tz": "America/Los_Angeles",
    "type.g_reseller_id": "http://openid.maestrano.com/schema/company/reseller_id", "value.g_reseller_id": "",
}


def drop_blank(data):
    # "Remove any AX property for which there is a blank value"
    out = dict(data)
    for k, v in data.items():
        if v == "":
            prop = k.split(".")[-1]
            out.pop(f"type.{prop}", None)
            out.pop(f"value.{prop}", None)
    return out


def vector(assoc_type):
    store = MemoryStore()
    srv = oidserver.Server(store, OP)
    associate = {
        "openid.ns": OPENID2_NS, "openid.mode": "associate",
        "openid.assoc_type": assoc_type, "openid.session_type": "no-encryption",
    }
    answer = srv.handleRequest(srv.decodeRequest(associate))
    body = srv.encodeResponse(answer).body
    kv = body.decode() if isinstance(body, bytes) else body
    fields = dict(line.split(":", 1) for line in kv.strip().split("\n"))
    html = ("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta http-equiv=\"X-UA-Compatible\" content=\"IE=edge,chrome=1\">\n</head>\n"
            "<body onload=\"document.forms[0].submit();\" style=\"visibility:hidden;\">\n"
            f"{kv}\n</body>\n</html>\n")
    checkid = {
        "openid.ns": OPENID2_NS, "openid.mode": "checkid_setup",
        "openid.claimed_id": IDENTIFIER_SELECT, "openid.identity": IDENTIFIER_SELECT,
        "openid.return_to": RETURN_TO, "openid.realm": REALM,
        "openid.assoc_handle": fields["assoc_handle"],
    }
    request = srv.decodeRequest(checkid)
    response = request.answer(True, None, identity=IDENTITY, claimed_id=IDENTITY)
    sreg_response = sreg.SRegResponse(
        {"nickname": "Jane", "fullname": "Jane Doe", "email": "jane@example.com"})
    response.addExtension(sreg_response)
    ax_response = ax.FetchResponse()
    ax_response.parseExtensionArgs(dict(drop_blank(AX_DATA), mode="fetch_response"))
    response.addExtension(ax_response)
    signed = srv.signatory.sign(response)
    positive = signed.fields.toPostArgs()
    return {
        "assoc_type": assoc_type,
        "associate_kv": kv,
        "associate_html": html,
        "mac_key": fields["mac_key"],
        "assoc_handle": fields["assoc_handle"],
        "expires_in": fields["expires_in"],
        "positive": positive,
    }


print(json.dumps({
    "generator": "python3-openid 3.2.0 (openid.server.server.Server)",
    "op_endpoint": OP,
    "identity": IDENTITY,
    "return_to": RETURN_TO,
    "realm": REALM,
    "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "vectors": [vector("HMAC-SHA256"), vector("HMAC-SHA1")],
}, indent=2, sort_keys=True))
