# The version has no series: Odoo prefixes its own (18.0.1.5.0, 19.0.1.5.0), the one the
# migrations/ folders name (docs/versions.md).
# pylint: disable=manifest-behind-migrations
{
    "name": "Email Tracking & CRM Logging",
    "summary": "Per-recipient open and click tracking for emails sent from Odoo, "
    "with honest numbers and privacy by design",
    "version": "1.5.0",
    "category": "Sales/CRM",
    "author": "mail_tracking_ext contributors",
    "license": "LGPL-3",
    "images": ["static/description/screenshot_chatter.png"],
    "depends": ["mail", "crm"],
    # DKIM verification of emails to the logging address (L4, R8); dnspython reads the keys
    "external_dependencies": {"python": ["dkimpy", "dnspython"]},
    "post_load": "post_load",
    "data": [
        "security/ir.model.access.csv",
        "security/mail_tracking_security.xml",
        "views/mail_address_exclusion_views.xml",
        "security/mail_logging_security.xml",
        "data/mail_logging_alias.xml",
        "data/ir_cron_data.xml",
        "views/mail_logging_request_views.xml",
        "views/res_config_settings_views.xml",
        "views/res_users_views.xml",
        "views/mail_tracked_recipient_views.xml",
        "views/mail_tracked_engagement_views.xml",
        "views/crm_lead_views.xml",
        "views/mail_compose_message_views.xml",
        "views/res_partner_views.xml",
        "views/mail_tracking_templates.xml",
        "wizard/mail_message_conversation_views.xml",
    ],
    "demo": [
        "demo/mail_tracking_demo.xml",
    ],
    "assets": {
        "web.assets_backend": [
            "mail_tracking_ext/static/src/**/*",
        ],
        "web.assets_tests": [
            "mail_tracking_ext/static/tests/tours/**/*",
        ],
    },
}
