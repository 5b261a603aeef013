"""Development tooling for mail_tracking_ext: a local mail catcher and helpers
that run a real Odoo server. Pure Python; nothing here imports Odoo."""
