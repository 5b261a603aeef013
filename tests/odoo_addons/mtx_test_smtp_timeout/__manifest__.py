{
    "name": "Short SMTP timeout (end-to-end tests only)",
    "summary": "Loaded with --load by tests/test_smtp_faults.py; never installed, never shipped.",
    "version": "1.0.0",
    "license": "LGPL-3",
    "depends": ["base"],
    "installable": False,
}
