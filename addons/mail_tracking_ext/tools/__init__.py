from .html import add_hidden_link, add_open_pixel, append_to_body, rewrite_links
from .ip import truncate_ip
from .token import message_id_of, message_key, new_token, token_digest
