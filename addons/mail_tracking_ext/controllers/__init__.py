from . import privacy
from . import thread
from . import tracking
