from .html import add_open_pixel, append_to_body, rewrite_links
from .ip import truncate_ip
from .token import new_token, token_digest
