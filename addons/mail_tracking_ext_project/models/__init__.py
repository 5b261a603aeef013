from . import mail_tracked_event
from . import mail_tracked_recipient
from . import project_task
from . import res_partner
