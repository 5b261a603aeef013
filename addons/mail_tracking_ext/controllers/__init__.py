from . import api
from . import fast_path
from . import privacy
from . import thread
from . import tracking
