{
    "name": "Email Tracking & CRM Logging - Project",
    "summary": "Tracked-email statistics on project tasks",
    "version": "1.0.0",
    "category": "Services/Project",
    "author": "mail_tracking_ext contributors",
    "license": "LGPL-3",
    "depends": ["mail_tracking_ext", "project"],
    "data": [
        "views/project_task_views.xml",
    ],
    "auto_install": True,
}
