"""The courier desk confirms a mailed result through the API; the mail-back flow closes the case."""

from __future__ import annotations

from tests.app_harness import Tongban
from tests.flows.story import assert_consistent, case_json, decide, prechecked_case, tracking_no


def test_courier_desk_confirms_delivery_and_the_case_closes(tb: Tongban) -> None:
    case_no = prechecked_case(tb)
    tb.dispatch()
    decide(tb, case_no, "approve")
    tracking = tracking_no()
    assert tb.event("tj_reviewer", case_no, "mail_result", carrier="EMS", tracking_no=tracking).status_code == 200
    tb.dispatch()

    url = f"/api/v1/shipments/{tracking}/delivered"
    refused = tb.client.post(url, json={}, headers=tb.h("tj_reviewer"))
    assert refused.status_code == 403, refused.text
    never_mailed = tracking_no()  # a valid number no shipment carries
    unknown = tb.client.post(f"/api/v1/shipments/{never_mailed}/delivered", json={}, headers=tb.h("tj_clerk"))
    assert unknown.status_code == 422 and unknown.json()["field"] == "tracking_no", unknown.text
    assert case_json(tb, case_no)["state"] == "mailed"  # refusals changed nothing

    r = tb.client.post(url, json={"case_no": case_no}, headers=tb.h("tj_clerk"))
    assert r.status_code == 202, r.text
    assert r.json()["case_no"] == case_no
    tb.dispatch()
    assert case_json(tb, case_no)["state"] == "closed"
    assert_consistent(tb, case_no, "closed")
    again = tb.client.post(url, json={}, headers=tb.h("tj_clerk"))
    assert again.status_code == 422, again.text
