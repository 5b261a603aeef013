from . import test_tools
from . import test_tracking_send
from . import test_tracking_routes
from . import test_composer_tour
from . import test_privacy
from . import test_email_logging
from . import test_engagement
from . import test_engagement_tour
