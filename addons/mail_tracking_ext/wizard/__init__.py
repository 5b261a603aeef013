from . import mail_compose_message
from . import mail_message_association_wizard
from . import mail_message_conversation
from . import base_partner_merge_automatic_wizard
