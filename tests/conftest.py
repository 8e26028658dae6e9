import os
import sys

# the tests import helpers as ``tests.spaces``
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
