from odoo import http
from odoo.http import request

from ..models.mail_tracking_api import API_PREFIX
from ..tools.tracking_http import NO_STORE


def _route(path):
    """A route of the Gmail extension's API: plain JSON over HTTP, a user's API
    key as bearer token (Odoo's own ``auth="bearer"``), no session kept. Its
    methods are checked by ``_answer``: Odoo's routing would refuse another
    method before any error could be answered as JSON."""
    return http.route(f"{API_PREFIX}{path}", type="http", auth="bearer", csrf=False, save_session=False)


class MailTrackingApiController(http.Controller):
    """The Gmail extension's API (docs/gmail-api.md): thin adapters over the
    model ``mail.tracking.api``. Its errors, Odoo's authentication's
    included, are answered as JSON by ``ir.http._handle_error``."""

    @_route("me")
    def me(self, **_kwargs):
        return self._answer("_api_me", ("GET",))

    @_route("recipients")
    def recipients(self, **_kwargs):
        return self._answer("_api_recipients", ("POST",))

    @_route("send/prepare")
    def send_prepare(self, **_kwargs):
        return self._answer("_api_send_prepare", ("POST",))

    @_route("send/confirm")
    def send_confirm(self, **_kwargs):
        return self._answer("_api_send_confirm", ("POST",))

    @_route("send/cancel")
    def send_cancel(self, **_kwargs):
        return self._answer("_api_send_cancel", ("POST",))

    @_route("records/search")
    def records_search(self, **_kwargs):
        return self._answer("_api_records_search", ("POST",))

    @_route("feed")
    def feed(self, **_kwargs):
        return self._answer("_api_feed", ("GET",))

    @_route("lists")
    def lists(self, **_kwargs):
        put = request.httprequest.method == "PUT"
        return self._answer("_api_lists_put" if put else "_api_lists", ("GET", "PUT"))

    def _answer(self, method, http_methods):
        api = request.env["mail.tracking.api"].with_context(lang=request.env.user.lang or "en_US")
        api._check_caller()
        api._check_method(request.httprequest.method, http_methods)
        if request.httprequest.method != "GET":
            # refused before it is read when it says its size (one without is read up to Odoo's limit)
            if (request.httprequest.content_length or 0) > api._max_request_bytes():
                raise api._too_large_error()
            # cached: after a serialization failure Odoo runs the request again, its stream already read
            params = api._parse_body(request.httprequest.get_data())
        else:
            params = request.httprequest.args.to_dict()
        return request.make_json_response(getattr(api, method)(params), headers=NO_STORE)
