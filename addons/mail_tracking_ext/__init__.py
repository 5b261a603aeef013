from . import controllers
from . import models
from . import tools
from . import wizard


def post_load():
    """Answer the tracking routes in front of Odoo's request handling (X1),
    unless ``mail_tracking_fast_path = False`` in Odoo's configuration file."""
    from .controllers import fast_path

    fast_path.install()
