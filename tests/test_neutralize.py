"""R9: a neutralized copy of a database (``odoo-bin neutralize``, as for staging or a
restored backup) neither answers the tracking links of production's emails nor tracks or
logs mail itself."""
import requests

from devtools import odoo_runtime as rt

from e2e_crm import CLICK, PIXEL, crm_on, delivered_ago, html_part, tracking_of


def test_r9_a_neutralized_copy_answers_no_production_tracking_link(new_db):
    db = new_db("neutralize")
    rc, log = rt.install(db, rt.MODULE, demo=False)
    rt.assert_clean_run(rc, log, f"installing {rt.MODULE}")
    with crm_on(db, "neutralsales", "anna@neutral.example") as (server, catcher, sales, anna, lead):
        message_id = sales.post(lead, [anna])
        body = html_part(catcher.wait_for(1)[0])
        pixel, click = PIXEL.search(body).group(1), CLICK.search(body).group(1)
        delivered_ago(db, message_id)
        assert requests.get(click, allow_redirects=False, timeout=10).status_code == 302, "production works"
    events_before = rt.query(db, "SELECT count(*) FROM mail_tracked_event")[0][0]
    rc, log = rt.run_odoo(db, subcommand="neutralize", http_port=None)
    rt.assert_clean_run(rc, log, "odoo-bin neutralize")
    with crm_on(db, "stagingsales", "bruno@neutral.example") as (server, catcher, sales, bruno, lead):
        base = server.url
        copy_pixel = base + pixel[pixel.index("/email-tracking/"):]
        copy_click = base + click[click.index("/email-tracking/"):]
        assert requests.get(copy_pixel, timeout=10).headers["Content-Type"] == "image/gif"
        response = requests.get(copy_click, allow_redirects=False, timeout=10)
        assert response.status_code == 404 and "Location" not in response.headers
        assert rt.query(db, "SELECT count(*) FROM mail_tracked_event")[0][0] == events_before, "nothing recorded"
        assert [row["state"] for row in tracking_of(server, message_id)] == ["clicked"], "production's history stays"
        # the copy tracks nothing it sends, and logs nothing that reaches it
        staging_message = sales.post(lead, [bruno])
        assert "/email-tracking/" not in html_part(catcher.wait_for(1)[0])
        assert tracking_of(server, staging_message) == []
        assert rt.query(db, "SELECT bool_or(mail_tracking_allowed), max(mail_logging_trusted_servers) "
                            "FROM res_company") == [(False, None)]
