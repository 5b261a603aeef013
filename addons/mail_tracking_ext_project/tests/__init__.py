from . import test_task_statistics
