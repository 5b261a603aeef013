{
    "name": "Email Tracking & CRM Logging - Email Marketing",
    "summary": "Keep non-marketing contacts out of mass mailings",
    "version": "1.0.0",
    "category": "Marketing/Email Marketing",
    "author": "mail_tracking_ext contributors",
    "license": "LGPL-3",
    "depends": ["mail_tracking_ext", "mass_mailing"],
    "data": [
        "views/res_partner_views.xml",
    ],
    "auto_install": True,
}
